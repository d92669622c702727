"""Jobs: snapshots of now-only data, daily funding history, and the hourly market pipeline."""

import dagster as dg

from orchestration.assets.ingestion import (
    kucoin_candles_1m,
    kucoin_contracts,
    kucoin_funding_rates,
    kucoin_open_interest,
    kucoin_order_books,
    kucoin_tickers,
    kucoin_trades,
)
from orchestration.assets.signals import signals_file
from orchestration.checks.freshness import FRESHNESS_CHECKS

# The freshness checks are evaluated by their sensor, on their own clock: a job that just loaded
# an asset would only find it fresh.
_FRESHNESS = dg.AssetSelection.checks(*FRESHNESS_CHECKS)

contracts_snapshot = dg.define_asset_job(
    name="contracts_snapshot",
    selection=dg.AssetSelection.assets(kucoin_contracts) - _FRESHNESS,
    description="Snapshot every KuCoin futures contract (specs, status, 24h statistics): the universe the pipeline follows.",
)

market_snapshots = dg.define_asset_job(
    name="market_snapshots",
    selection=dg.AssetSelection.assets(kucoin_tickers, kucoin_order_books, kucoin_trades) - _FRESHNESS,
    description="Tickers of every contract, order books and recent trades of the followed ones: data the exchange serves only as 'now'.",
)

funding_history = dg.define_asset_job(
    name="funding_history",
    selection=dg.AssetSelection.assets(kucoin_funding_rates) - _FRESHNESS,
    description="Funding rates settled during the partition's day.",
)

market_pipeline = dg.define_asset_job(
    name="market_pipeline",
    # Snapshots are now-only data on their own schedules: a backfill of history must not
    # re-snapshot them for every partition. Candles and open interest read the latest contracts snapshot.
    selection=(
        dg.AssetSelection.assets(kucoin_candles_1m, kucoin_open_interest)
        | dg.AssetSelection.groups("staging", "intermediate", "marts", "portfolio", "lifecycle")
    )
    - _FRESHNESS,
    description=(
        "1m candles and open interest for the partition window (GX-gated), dbt staging -> intermediate -> scores, "
        "the portfolio manager (GX-gated), then the portfolio marts and the symbol lifecycle."
    ),
)

signals_import = dg.define_asset_job(
    name="signals_import",
    selection=dg.AssetSelection.assets(signals_file),
    description="Import one signal file (JSONL or CSV) into raw.signals; launched by the signals drop-folder sensor.",
)
