"""Jobs: the hourly market pipeline, from the exchange to the ten-symbol portfolio."""

import dagster as dg

from orchestration.partitions import hourly

market_pipeline = dg.define_asset_job(
    name="market_pipeline",
    selection=dg.AssetSelection.groups("raw", "staging", "intermediate", "marts", "portfolio"),
    partitions_def=hourly,
    description=(
        "Contracts snapshot, 1m candles for the partition window (GX-gated), dbt staging -> intermediate -> scores, "
        "the portfolio manager (GX-gated), then the portfolio marts."
    ),
)
