"""The symbol lifecycle: each hour, every contract's transitions from the listings, scores and holdings of that hour."""

from datetime import timedelta

import dagster as dg

from orchestration.assets.portfolio import COMPOSITION, DECISIONS, EVALUATIONS, SCORES
from orchestration.lifecycle.rules import Rules
from orchestration.lifecycle.store import apply_window
from orchestration.partitions import hourly
from orchestration.resources.database import PostgresResource

SYMBOL_HISTORY = dg.AssetKey(["marts", "dim_symbols_history"])
TRANSITIONS = dg.AssetKey(["lifecycle", "transitions"])


class LifecycleConfig(dg.Config):
    algorithm_version: str = "v1"
    top_n: int = 10
    retirement_cooldown_hours: int = 24


@dg.asset(
    key=TRANSITIONS,
    deps=[SYMBOL_HISTORY, SCORES, EVALUATIONS, COMPOSITION, DECISIONS],
    description=(
        "Symbol lifecycle transitions (discovery, evaluation, active, replacement_candidate, retired, delisted), "
        "one transaction per hour, checked by the database against lifecycle.allowed_transitions."
    ),
    owners=["team:portfolio"],
    kinds={"postgres", "python"},
    partitions_def=hourly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="lifecycle",
)
def symbol_lifecycle(context: dg.AssetExecutionContext, config: LifecycleConfig, database: PostgresResource) -> dg.MaterializeResult:
    window = context.partition_time_window
    rules = Rules(top_n=config.top_n, retirement_cooldown=timedelta(hours=config.retirement_cooldown_hours))
    outcomes = apply_window(database.url, window.start, window.end, config.algorithm_version, rules, context.run.run_id)
    written = [t for o in outcomes for t in o.transitions]
    by_target: dict[str, int] = {}
    for t in written:
        by_target[t.to_state] = by_target.get(t.to_state, 0) + 1
    return dg.MaterializeResult(
        metadata={
            "hours_evaluated": dg.MetadataValue.int(sum(o.created for o in outcomes)),
            "hours_kept": dg.MetadataValue.int(sum(not o.created for o in outcomes)),
            "transitions": dg.MetadataValue.int(len(written)),
            "transitions_by_target_state": dg.MetadataValue.json(dict(sorted(by_target.items()))),
        }
    )
