"""The Dagster code location: assets, checks, jobs, schedules and resources (configured from the environment)."""

import dagster as dg

from orchestration.assets.ingestion import kucoin_candles_1m, kucoin_contracts
from orchestration.assets.portfolio import portfolio_manager
from orchestration.assets.transformation import dbt_market_models, dbt_portfolio_models
from orchestration.checks.portfolio import portfolio_composition_gate
from orchestration.checks.raw_candles import raw_candles_1m_gate
from orchestration.jobs import contracts_snapshot, market_pipeline
from orchestration.resources.database import PostgresResource
from orchestration.resources.dbt import dbt_resource
from orchestration.resources.exchange import KucoinFuturesResource
from orchestration.resources.ingestion import IngestionPolicy
from orchestration.schedules import contracts_snapshot_hourly, market_pipeline_hourly

defs = dg.Definitions(
    assets=[kucoin_contracts, kucoin_candles_1m, dbt_market_models, portfolio_manager, dbt_portfolio_models],
    asset_checks=[raw_candles_1m_gate, portfolio_composition_gate],
    jobs=[contracts_snapshot, market_pipeline],
    schedules=[contracts_snapshot_hourly, market_pipeline_hourly],
    resources={
        "database": PostgresResource(url=dg.EnvVar("ZMART_DATABASE_URL")),
        "exchange": KucoinFuturesResource(mode=dg.EnvVar("ZMART_EXCHANGE"), sim_url=dg.EnvVar("ZMART_SIM_URL")),
        "ingestion": IngestionPolicy(max_symbols=dg.EnvVar.int("ZMART_MAX_SYMBOLS")),
        "dbt": dbt_resource(),
    },
)
