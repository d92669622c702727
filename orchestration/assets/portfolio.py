"""The portfolio manager: ten symbols per hour from the composite scores under a policy's constraints, with every decision recorded."""

from collections.abc import Iterator

import dagster as dg

from orchestration.partitions import hourly
from orchestration.portfolio.manager import evaluate_window
from orchestration.portfolio.selection import ALGORITHM_VERSION
from orchestration.presentation.asset_metadata import holdings_metadata
from orchestration.resources.database import PostgresResource

SCORES = dg.AssetKey(["marts", "fct_symbol_scores"])
# what the constraints and the consensus gate measure at each evaluation, besides the scores
INPUTS = [
    SCORES,
    dg.AssetKey(["marts", "dim_symbols_history"]),
    dg.AssetKey(["marts", "symbol_sectors"]),
    dg.AssetKey(["marts", "portfolio_policies"]),
    dg.AssetKey(["intermediate", "int_return_correlations_30d"]),
    dg.AssetKey(["intermediate", "int_indicators_1h_volatility"]),
    dg.AssetKey(["intermediate", "int_market_regime_1h"]),
    dg.AssetKey(["intermediate", "int_agent_consensus_1h"]),  # the consensus gate of replacements, copied onto the decisions
]
EVALUATIONS = dg.AssetKey(["portfolio", "evaluations"])
COMPOSITION = dg.AssetKey(["portfolio", "composition"])
DECISIONS = dg.AssetKey(["portfolio", "decisions"])
OWNERS = ["team:portfolio"]


class PortfolioConfig(dg.Config):
    algorithm_version: str = ALGORITHM_VERSION
    policy: str = "default"  # rows of seed portfolio_policies


@dg.multi_asset(
    name="portfolio_manager",
    specs=[
        dg.AssetSpec(key, deps=INPUTS, description=description, owners=OWNERS, kinds={"postgres", "python"})
        for key, description in (
            (EVALUATIONS, "One evaluation per hour and scoring algorithm version, with its policy, regime, limits, screening audit and challenger streaks."),
            (COMPOSITION, "Exactly ten holdings per evaluation, weights summing to 1."),
            (DECISIONS, "Why each symbol was added, removed or held, with its agents' consensus and votes and the trader override that made it."),
        )
    ],
    partitions_def=hourly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="portfolio",
)
def portfolio_manager(context: dg.AssetExecutionContext, config: PortfolioConfig, database: PostgresResource) -> Iterator[dg.MaterializeResult]:
    window = context.partition_time_window
    outcomes = evaluate_window(
        database.url, window.start, window.end, config.algorithm_version, config.policy, context.run.run_id
    )
    formed = [o for o in outcomes if o.formed]
    summary: dict[str, dg.MetadataValue] = {
        "evaluations_created": dg.MetadataValue.int(sum(o.created for o in outcomes)),
        "evaluations_kept": dg.MetadataValue.int(sum(not o.created for o in outcomes)),
        "hours_not_formed": dg.MetadataValue.int(len(outcomes) - len(formed)),
        "adds": dg.MetadataValue.int(sum(o.adds for o in outcomes)),
        "removes": dg.MetadataValue.int(sum(o.removes for o in outcomes)),
    }
    if formed:
        summary["latest_as_of"] = dg.MetadataValue.text(formed[-1].as_of.isoformat())
        summary["latest_holdings"] = dg.MetadataValue.text(", ".join(formed[-1].holdings))
    else:
        context.log.warning(f"no portfolio formed in {window.start} .. {window.end}: too few eligible symbols (warm-up)")
    holdings = holdings_metadata(database.url, config.algorithm_version, window.end)
    for key in (EVALUATIONS, COMPOSITION, DECISIONS):
        yield dg.MaterializeResult(asset_key=key, metadata={**summary, **(holdings if key == COMPOSITION else {})})
