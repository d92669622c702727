"""GX checks on raw 1-minute candles: a blocking gate (nothing downstream runs on a failed window)
and a completeness warning (the exchange's own gaps, which the gap-repair sensor re-asks for)."""

import dagster as dg

from models.tables import CANDLES_1M
from orchestration.assets.ingestion import kucoin_candles_1m
from orchestration.checks.gates import check_result, quarantine_failures
from orchestration.partitions import hourly
from orchestration.resources.database import PostgresResource
from quality.gate import run_suite
from quality.suites import raw_candles


@dg.asset_check(
    asset=kucoin_candles_1m,
    name="raw_candles_1m_gate",
    blocking=True,
    partitions_def=hourly,
    description=(
        "Great Expectations suite raw_candles_1m on the partition window: keys present and unique, positive prices, "
        "high >= max(open, close) and low <= min(open, close), volume >= 0, every requested minute stored, quarantined "
        "or recorded as not served. Failing rows are moved to quarantine.candles_1m with the rules they broke."
    ),
)
def raw_candles_1m_gate(context: dg.AssetCheckExecutionContext, database: PostgresResource) -> dg.AssetCheckResult:
    window = context.partition_time_window
    result = run_suite(database.url, raw_candles.suite(window.start, window.end))
    moved = quarantine_failures(database.url, CANDLES_1M, result) if not result.success else 0
    if not result.success:
        context.log.error(f"{result.summary()}; {moved} rows moved to quarantine.candles_1m")
    return check_result(result, {"rows_quarantined": moved, "window": f"{window.start} .. {window.end}"})


@dg.asset_check(
    asset=kucoin_candles_1m,
    name="raw_candles_1m_completeness",
    blocking=False,
    partitions_def=hourly,
    description=(
        "Great Expectations suite raw_candles_1m_completeness: every minute requested for a followed contract is "
        "stored. Minutes the exchange did not serve make it warn, not block; the gap-repair sensor asks for them again."
    ),
)
def raw_candles_1m_completeness(context: dg.AssetCheckExecutionContext, database: PostgresResource) -> dg.AssetCheckResult:
    window = context.partition_time_window
    result = run_suite(database.url, raw_candles.completeness_suite(window.start, window.end))
    if not result.success:
        context.log.warning(result.summary())
    return check_result(result, {"window": f"{window.start} .. {window.end}"}, severity=dg.AssetCheckSeverity.WARN)
