"""Blocking GX gate on the portfolio: every evaluation in the window holds exactly ten symbols."""

import dagster as dg

from orchestration.assets.portfolio import COMPOSITION
from orchestration.checks.gates import check_result
from orchestration.partitions import hourly
from orchestration.resources.database import PostgresResource
from quality.gate import run_suite
from quality.suites import portfolio


@dg.asset_check(
    asset=COMPOSITION,
    name="portfolio_composition_gate",
    blocking=True,
    partitions_def=hourly,
    description=(
        "Great Expectations suite portfolio_composition on the evaluations of the window: exactly ten holdings each, "
        "weights in (0, 1] summing to 1, no symbol twice, every holding scored and failing no constraint in force in the "
        "manager's screening audit."
    ),
)
def portfolio_composition_gate(context: dg.AssetCheckExecutionContext, database: PostgresResource) -> dg.AssetCheckResult:
    window = context.partition_time_window
    result = run_suite(database.url, portfolio.suite(window.start, window.end))
    if not result.success:
        context.log.error(result.summary())
    return check_result(result, {"window": f"{window.start} .. {window.end}"})
