"""The portfolio manager: ten symbols per hour from the composite scores, with every decision recorded."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from orchestration.partitions import hourly
from orchestration.portfolio.manager import evaluate_window
from orchestration.portfolio.selection import Policy
from orchestration.resources.database import PostgresResource

SCORES = dg.AssetKey(["marts", "fct_symbol_scores"])
EVALUATIONS = dg.AssetKey(["portfolio", "evaluations"])
COMPOSITION = dg.AssetKey(["portfolio", "composition"])
DECISIONS = dg.AssetKey(["portfolio", "decisions"])


class PortfolioConfig(dg.Config):
    algorithm_version: str = "v1"
    keep_rank: int = 20


@dg.multi_asset(
    name="portfolio_manager",
    specs=[
        dg.AssetSpec(EVALUATIONS, deps=[SCORES], description="One evaluation per hour and scoring algorithm version."),
        dg.AssetSpec(COMPOSITION, deps=[SCORES], description="Exactly ten holdings per evaluation, weights summing to 1."),
        dg.AssetSpec(DECISIONS, deps=[SCORES], description="Why each symbol was added, removed or held."),
    ],
    partitions_def=hourly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="portfolio",
    owners=["team:portfolio"],
    kinds={"postgres", "python"},
)
def portfolio_manager(context: dg.AssetExecutionContext, config: PortfolioConfig, database: PostgresResource) -> Iterator[dg.MaterializeResult]:
    window = context.partition_time_window
    outcomes = evaluate_window(
        database.url, window.start, window.end, config.algorithm_version, Policy(keep_rank=config.keep_rank), context.run_id
    )
    latest = outcomes[-1]
    summary = {
        "evaluations_created": sum(o.created for o in outcomes),
        "evaluations_kept": sum(not o.created for o in outcomes),
        "latest_as_of": latest.as_of.isoformat(),
        "latest_holdings": ", ".join(latest.holdings),
        "adds": sum(o.adds for o in outcomes),
        "removes": sum(o.removes for o in outcomes),
    }
    for key in (EVALUATIONS, COMPOSITION, DECISIONS):
        yield dg.MaterializeResult(asset_key=key, metadata=summary)
