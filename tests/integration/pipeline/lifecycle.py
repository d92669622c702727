"""What a day of the market pipeline must leave in the symbol lifecycle: contracts moved through it
in step with the portfolio's holdings (checked by the day test of test_pipeline.py, whose re-run
also shows that the lifecycle tables are not rewritten)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import dagster as dg

from orchestration.assets.lifecycle import TRANSITIONS
from tests.integration.pipeline.conftest import DAY_START, SYMBOLS, Pipeline

HELD = {"active", "replacement_candidate"}


def states_as_of(log: list[tuple[str, datetime, str | None, str]], as_of: datetime) -> dict[str, str]:
    states: dict[str, str] = {}
    for symbol, moment, from_state, to_state in log:
        if moment <= as_of:
            assert from_state == states.get(symbol), (symbol, moment, from_state, to_state)  # the log is a chain
            states[symbol] = to_state
    return states


def assert_lifecycle_follows_the_portfolio(pipeline: Pipeline, result: dg.ExecuteInProcessResult) -> None:
    """The lifecycle after `result`, the first run of the day's 24 hours."""
    assert TRANSITIONS in {e.asset_key for e in result.get_asset_materialization_events()}

    log = pipeline.query("select symbol, as_of, from_state, to_state from lifecycle.transitions order by transition_id")
    ledger = pipeline.query("select as_of, transitions from lifecycle.evaluated_hours order by as_of")
    evaluations = {
        as_of: (evaluation_id, outcome)
        for evaluation_id, as_of, outcome in pipeline.query("select evaluation_id, as_of, outcome from portfolio.evaluations")
    }
    ranks: dict[int, dict[str, int]] = defaultdict(dict)
    for evaluation_id, symbol, rank in pipeline.query(
        "select c.evaluation_id, c.symbol, d.score_rank from portfolio.composition c join portfolio.decisions d using (evaluation_id, symbol)"
    ):
        ranks[evaluation_id][symbol] = rank
    eligible_since = dict(pipeline.query(
        "select symbol, min(score_time) from marts.fct_symbol_scores where is_eligible group by symbol"
    ))

    hours = [DAY_START + timedelta(hours=h + 1) for h in range(24)]
    assert [as_of for as_of, _ in ledger] == hours
    per_hour = defaultdict(int)
    for _, as_of, _, _ in log:
        per_hour[as_of] += 1
    assert [n for _, n in ledger] == [per_hour[as_of] for as_of in hours]  # the ledger counts what each hour wrote

    formed = 0
    for as_of in hours:
        states = states_as_of(log, as_of)
        listed = {s for (s,) in pipeline.query(
            "select symbol from marts.dim_symbols_history where valid_from <= %(t)s and (valid_to is null or %(t)s < valid_to) and is_listed",
            {"t": as_of},
        )}
        assert set(states) == listed and "delisted" not in states.values()  # every contract listed then, discovered in the first hour
        evaluation_id, outcome = evaluations[as_of]
        holdings = ranks.get(evaluation_id, {})
        formed += outcome == "formed"
        assert {s for s, state in states.items() if state in HELD} == set(holdings), as_of
        assert {s for s, state in states.items() if state == "replacement_candidate"} == {s for s, r in holdings.items() if r > 10}, as_of
        for symbol, state in states.items():
            if state == "discovery":
                assert symbol not in eligible_since or eligible_since[symbol] > as_of, (symbol, as_of)
            else:
                assert eligible_since[symbol] <= as_of, (symbol, state, as_of)  # evaluated only once it had an eligible score
    assert formed >= 3
    final = states_as_of(log, hours[-1])
    assert sum(state in HELD for state in final.values()) == 10
    assert sum(state != "discovery" for state in final.values()) <= SYMBOLS  # only the followed contracts are scored
    assert {to_state for *_, to_state in log} >= {"discovery", "evaluation", "active"}


def assert_lifecycle_kept(result: dg.ExecuteInProcessResult) -> None:
    """`result` re-ran the day: every hour's lifecycle was kept as decided, nothing written."""
    metadata = next(e for e in result.get_asset_materialization_events() if e.asset_key == TRANSITIONS).materialization.metadata
    assert metadata["hours_kept"].value == 24 and metadata["transitions"].value == 0
