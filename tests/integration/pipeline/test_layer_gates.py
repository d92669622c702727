"""Each derived layer's GX gate stops the next layer: a model that writes a wrong row (planted
here by a trigger, as a bug in its SQL would) fails its layer's blocking check, nothing that
reads the layer runs, and the flagged rows stay in place, recorded with their suite and rule."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from orchestration.runs import failure_messages
from tests.integration.pipeline.conftest import DAY_START, Pipeline, hour

LAYER_GATES = ("staging_gate", "intermediate_gate", "marts_gate")


def checks(result: dg.ExecuteInProcessResult) -> dict[str, set[bool]]:
    """Check name -> the outcomes of its evaluations (a layer gate has one per model)."""
    outcomes: dict[str, set[bool]] = {}
    for evaluation in result.get_asset_check_evaluations():
        outcomes.setdefault(evaluation.check_name, set()).add(evaluation.passed)
    return outcomes


def materialized_layers(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.path[0] for e in result.get_asset_materialization_events()}


def plant(pipeline: Pipeline, table: str, assignment: str) -> None:
    """A trigger that corrupts every row the model writes for one symbol: a bug in its SQL."""
    pipeline.execute(f"""
        create function {table}_bug() returns trigger language plpgsql as $$
        begin
            if new.symbol = (select min(symbol) from raw.candles_1m) then {assignment}; end if;
            return new;
        end $$;
        create trigger bug before insert on {table} for each row execute function {table}_bug();
    """)


def test_each_layer_gate_stops_the_next_layer_and_records_the_rows(pipeline: Pipeline) -> None:
    pipeline.start_simulator()
    assert pipeline.run("contracts_snapshot").success
    clean = pipeline.run("market_pipeline", hour(5))
    assert clean.success, failure_messages(clean)
    outcome = checks(clean)
    assert all(outcome[gate] == {True} for gate in LAYER_GATES), outcome
    assert len([e for e in clean.get_asset_check_evaluations() if e.check_name in LAYER_GATES]) >= 30  # one per model

    # A bar whose volume is not the sum of its minutes: the intermediate gate's rollup reconciliation.
    plant(pipeline, "intermediate.int_candles_1h", "new.volume_lots := new.volume_lots + 1")
    broken = pipeline.run("market_pipeline", hour(6))
    assert not broken.success
    assert checks(broken)["intermediate_gate"] == {False} and checks(broken)["staging_gate"] == {True}
    assert materialized_layers(broken) == {"raw", "staging", "intermediate"}  # no mart, no portfolio
    start = DAY_START + timedelta(hours=6)
    [(symbol,)] = pipeline.query("select min(symbol) from raw.candles_1m")
    findings = pipeline.query(
        "select suite, expectation, rule, reason, record->>'symbol', (record->>'bar_volume_lots')::numeric - (record->>'minute_volume_lots')::numeric "
        "from quarantine.gate_findings where layer = 'intermediate' and window_start = %s order by suite", (start,)
    )
    assert ("int_candles_1h", "unexpected_rows_expectation", "rolls_up_the_1m_candles") in {f[:3] for f in findings}
    assert {(f[4], f[5]) for f in findings if f[0] == "int_candles_1h"} == {(symbol, 1)}
    assert "exact rollup of the 1-minute candles" in findings[0][3]
    # the rows stay where they are: recorded, not deleted
    assert pipeline.query("select count(*) from intermediate.int_candles_1h where symbol = %s and bucket_start = %s", (symbol, start)) == [(1,)]
    assert pipeline.query("select count(*) from marts.fct_symbol_scores where bucket_start = %s", (start,)) == [(0,)]

    # The model fixed and a score out of its range, re-running the hour: the intermediate gate now
    # passes (the hour is rebuilt, and the 4 h and 1 d bars with it), the marts gate stops the portfolio manager.
    pipeline.execute("drop trigger bug on intermediate.int_candles_1h")
    plant(pipeline, "marts.fct_symbol_scores", "new.composite_score := 1.5")
    scored = pipeline.run("market_pipeline", hour(6))
    assert not scored.success
    outcome = checks(scored)
    assert outcome["intermediate_gate"] == {True} and outcome["marts_gate"] == {False}
    assert "portfolio" not in materialized_layers(scored) and "marts" in materialized_layers(scored)
    rules = pipeline.query(
        "select distinct suite, rule from quarantine.gate_findings where layer = 'marts' and window_start = %s", (start,)
    )
    assert rules == [("fct_symbol_scores", "composite_score_in_unit_interval")]
    assert pipeline.query("select count(*) from portfolio.evaluations where as_of > %s", (start,)) == [(0,)]
