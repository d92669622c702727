"""Jobs: the contracts snapshot (now-only data) and the hourly market pipeline (partitioned history)."""

import dagster as dg

from orchestration.assets.ingestion import kucoin_contracts

contracts_snapshot = dg.define_asset_job(
    name="contracts_snapshot",
    selection=dg.AssetSelection.assets(kucoin_contracts),
    description="Snapshot every KuCoin futures contract (specs, status, 24h statistics): the universe the pipeline follows.",
)

market_pipeline = dg.define_asset_job(
    name="market_pipeline",
    # The contracts snapshot is now-only data on its own schedule: a backfill of history must
    # not re-snapshot it for every partition; candles read the latest snapshot.
    selection=dg.AssetSelection.groups("raw", "staging", "intermediate", "marts", "portfolio")
    - dg.AssetSelection.assets(kucoin_contracts),
    description=(
        "1m candles for the partition window (GX-gated), dbt staging -> intermediate -> scores, the portfolio "
        "manager (GX-gated), then the portfolio marts."
    ),
)
