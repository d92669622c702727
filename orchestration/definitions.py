"""The Dagster code location: assets, checks, jobs, schedules, sensors and resources (configured from the environment)."""

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
from orchestration.assets.lifecycle import symbol_lifecycle
from orchestration.assets.portfolio import portfolio_manager
from orchestration.assets.signals import signals_file
from orchestration.assets.transformation import MARKET_LAYERS, dbt_portfolio_models, external_sources
from orchestration.checks.freshness import FRESHNESS_CHECKS, raw_freshness_sensor
from orchestration.checks.layers import layer_gate
from orchestration.checks.portfolio import portfolio_composition_gate
from orchestration.checks.raw_candles import raw_candles_1m_completeness, raw_candles_1m_gate
from orchestration.checks.reconciliation import contracts_vs_exchange, snapshots_vs_candles
from orchestration.jobs import contracts_snapshot, funding_history, market_pipeline, market_snapshots, signals_import
from orchestration.partitioning.job import partition_maintenance
from orchestration.resources.database import PostgresResource
from orchestration.resources.dbt import dbt_resource
from orchestration.resources.exchange import KucoinFuturesResource
from orchestration.resources.ingestion import IngestionPolicy
from orchestration.resources.partitioning import PartitionPolicy
from orchestration.resources.signals import SignalsInbox
from orchestration.schedules import (
    contracts_snapshot_hourly,
    funding_history_daily,
    market_pipeline_hourly,
    market_snapshots_every_5_minutes,
    partition_maintenance_daily,
)
from orchestration.sensors import (
    gap_repair_sensor,
    new_listing_sensor,
    run_failure_recorder,
    signals_drop_folder_sensor,
    signals_rebuild_sensor,
)

ASSETS = [
    kucoin_contracts, kucoin_candles_1m, kucoin_open_interest, kucoin_funding_rates, kucoin_tickers, kucoin_order_books,
    kucoin_trades, *MARKET_LAYERS.values(), portfolio_manager, symbol_lifecycle, dbt_portfolio_models, signals_file,
]

defs = dg.Definitions(
    assets=[*ASSETS, *external_sources(key for asset in ASSETS for key in asset.keys)],
    asset_checks=[
        raw_candles_1m_gate, raw_candles_1m_completeness, portfolio_composition_gate, contracts_vs_exchange, snapshots_vs_candles,
        *(layer_gate(layer, assets) for layer, assets in MARKET_LAYERS.items()), *FRESHNESS_CHECKS,
    ],
    jobs=[contracts_snapshot, market_snapshots, funding_history, market_pipeline, signals_import, partition_maintenance],
    schedules=[
        contracts_snapshot_hourly, market_snapshots_every_5_minutes, market_pipeline_hourly, funding_history_daily,
        partition_maintenance_daily,
    ],
    sensors=[new_listing_sensor, gap_repair_sensor, run_failure_recorder, signals_drop_folder_sensor, raw_freshness_sensor, signals_rebuild_sensor],
    resources={
        "database": PostgresResource(url=dg.EnvVar("ZMART_DATABASE_URL")),
        "exchange": KucoinFuturesResource(
            mode=dg.EnvVar("ZMART_EXCHANGE"),
            sim_url=dg.EnvVar("ZMART_SIM_URL"),
            weight_budget=dg.EnvVar.int("ZMART_EXCHANGE_WEIGHT_BUDGET"),
            timeout_ms=dg.EnvVar.int("ZMART_EXCHANGE_TIMEOUT_MS"),
        ),
        "ingestion": IngestionPolicy(max_symbols=dg.EnvVar.int("ZMART_MAX_SYMBOLS")),
        "signals_inbox": SignalsInbox(path=dg.EnvVar("ZMART_SIGNALS_DIR")),
        "dbt": dbt_resource(),
        "partitioning": PartitionPolicy(
            ahead_days=dg.EnvVar.int("ZMART_PARTITIONS_AHEAD_DAYS"),
            hot_days=dg.EnvVar.int("ZMART_HOT_DAYS"),
            retention_days=dg.EnvVar.int("ZMART_RETENTION_DAYS"),
            archive_dir=dg.EnvVar("ZMART_ARCHIVE_DIR"),
        ),
    },
)
