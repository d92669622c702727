"""Each derived layer is blocked two ways, and either way nothing that reads it runs:

- a wrong row that one of the model's dbt tests catches fails the layer's ``dbt build``, so its
  op fails before its GX gate, and every later layer is skipped;
- a wrong row that only the layer's GX suite checks (int_returns_1h's log return against its
  simple return; fct_symbol_scores' composite against its components and the seed's weights:
  invariants no dbt test restates) fails the layer's blocking gate, which records the rows with
  their suite, rule and reason in quarantine.gate_findings and leaves them in place.

The wrong rows are planted by a trigger, as a bug in the model's SQL would write them."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from orchestration.assets.portfolio import COMPOSITION, EVALUATIONS, SCORES
from orchestration.runs import failure_messages
from tests.integration.pipeline.conftest import DAY_START, Pipeline, hour

LAYER_GATES = ("staging_gate", "intermediate_gate", "marts_gate")


def checks(result: dg.ExecuteInProcessResult) -> dict[str, set[bool]]:
    """Check name -> the outcomes of its evaluations (a layer gate has one per model)."""
    outcomes: dict[str, set[bool]] = {}
    for evaluation in result.get_asset_check_evaluations():
        outcomes.setdefault(evaluation.check_name, set()).add(evaluation.passed)
    return outcomes


def failed_dbt_tests(result: dg.ExecuteInProcessResult) -> set[str]:
    """Names of the dbt tests that failed in the run: asset check evaluations, or observations
    for the tests dagster-dbt could not attach to one asset (a test with several parents)."""
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed and e.check_name not in LAYER_GATES}
    for event in result.get_asset_observation_events():
        metadata = event.asset_observation_data.asset_observation.metadata
        status, unique_id = metadata.get("status"), metadata.get("unique_id")
        if status is not None and unique_id is not None and status.value in ("fail", "error"):
            failed.add(str(unique_id.value).split(".")[2])
    return failed


def materialized_layers(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.path[0] for e in result.get_asset_materialization_events()}


def plant(pipeline: Pipeline, table: str, assignment: str, condition: str = "true") -> None:
    """A trigger that corrupts every row the model writes for one symbol (where ``condition``): a bug in its SQL."""
    pipeline.execute(f"""
        create function {table}_bug() returns trigger language plpgsql as $$
        begin
            if new.symbol = (select min(symbol) from raw.candles_1m) and {condition} then {assignment}; end if;
            return new;
        end $$;
        create trigger bug before insert on {table} for each row execute function {table}_bug();
    """)


def test_each_layer_is_blocked_by_its_dbt_tests_and_by_its_gate(pipeline: Pipeline) -> None:
    pipeline.start_simulator()
    assert pipeline.run("contracts_snapshot").success
    clean = pipeline.run("market_pipeline", hour(5))
    assert clean.success, failure_messages(clean)
    outcome = checks(clean)
    assert all(outcome[gate] == {True} for gate in LAYER_GATES), outcome
    assert len([e for e in clean.get_asset_check_evaluations() if e.check_name in LAYER_GATES]) >= 30  # one per model
    start = DAY_START + timedelta(hours=6)
    [(symbol,)] = pipeline.query("select min(symbol) from raw.candles_1m")

    # (a) A bar whose volume is not the sum of its minutes: dbt's rolls_up_exactly test fails the
    # intermediate build, so its gate never runs and neither does anything after it.
    plant(pipeline, "intermediate.int_candles_1h", "new.volume_lots := new.volume_lots + 1")
    broken = pipeline.run("market_pipeline", hour(6))
    assert not broken.success
    assert any(name.startswith("rolls_up_exactly_int_candles_1h") for name in failed_dbt_tests(broken)), failed_dbt_tests(broken)
    assert any(m.startswith("dbt_intermediate_models") for m in failure_messages(broken)), failure_messages(broken)
    assert checks(broken)["staging_gate"] == {True} and "intermediate_gate" not in checks(broken)
    assert materialized_layers(broken) <= {"raw", "staging", "intermediate"}  # no mart, no portfolio
    assert pipeline.query("select count(*) from marts.fct_symbol_scores where bucket_start = %s", (start,)) == [(0,)]

    # (b) The model fixed, and a log return that is not ln(1 + simple return): every dbt test of
    # int_returns_1h passes (nulls and ranges agree), the intermediate gate's suite flags the row.
    pipeline.execute("drop trigger bug on intermediate.int_candles_1h")
    plant(pipeline, "intermediate.int_returns_1h", "new.log_return_1 := new.log_return_1 + 0.001")
    gated = pipeline.run("market_pipeline", hour(6))
    assert not gated.success
    assert not failed_dbt_tests(gated), failed_dbt_tests(gated)
    outcome = checks(gated)
    assert outcome["staging_gate"] == {True} and False in outcome["intermediate_gate"] and "marts_gate" not in outcome
    assert "marts" not in materialized_layers(gated) and "portfolio" not in materialized_layers(gated)
    findings = pipeline.query(
        "select suite, expectation, rule, reason, record->>'symbol', (record->>'bucket_start')::timestamptz, "
        "(record->>'log_return_1')::float8 - ln(1 + (record->>'simple_return_1')::float8) "
        "from quarantine.gate_findings where layer = 'intermediate' and window_start = %s", (start,)
    )
    assert {f[:3] for f in findings} == {("int_returns_1h", "unexpected_rows_expectation", "log_return_is_ln_of_gross_return")}, findings
    assert [(f[4], f[5]) for f in findings] == [(symbol, start)]
    assert abs(findings[0][6] - 0.001) < 1e-9 and "ln(1 + simple_return_1)" in findings[0][3]
    # the row stays where it is: recorded, not deleted; the marts of the hour are not built
    assert pipeline.query("select count(*) from intermediate.int_returns_1h where symbol = %s and bucket_start = %s", (symbol, start)) == [(1,)]
    assert pipeline.query("select count(*) from marts.fct_symbol_scores where bucket_start = %s", (start,)) == [(0,)]

    # (c) The intermediate layer fixed, and a composite confidence that is not the seed-weighted
    # sum of the present components' confidences (still in [0, 1]): every dbt test of the marts
    # passes, the marts gate's GX-only expectation flags the rows and the portfolio waits.
    pipeline.execute("drop trigger bug on intermediate.int_returns_1h")
    plant(pipeline, "marts.fct_symbol_scores", "new.composite_confidence := 0.5 * new.composite_confidence + 0.001")
    marts_gated = pipeline.run("market_pipeline", hour(6))
    assert not marts_gated.success
    assert not failed_dbt_tests(marts_gated), failed_dbt_tests(marts_gated)
    outcome = checks(marts_gated)
    assert outcome["intermediate_gate"] == {True} and False in outcome["marts_gate"], outcome
    materialized = {e.asset_key for e in marts_gated.get_asset_materialization_events()}
    assert SCORES in materialized and not materialized & {EVALUATIONS, COMPOSITION}, materialized
    # the reference from the components the row stores and the seeds, as the model defines it
    weighted = dict(pipeline.query(
        "select s.algorithm_version, (s.composite_confidence - 0.001) / 0.5 - coalesce(("
        " select sum(w.weight::float8 * c.confidence) from (values ('trend', s.trend, s.trend_confidence), "
        "   ('momentum', s.momentum, s.momentum_confidence), ('risk', s.risk, s.risk_confidence), "
        "   ('liquidity', s.liquidity, s.liquidity_confidence), ('sentiment', s.sentiment, s.sentiment_confidence)) c (component, value, confidence) "
        " join marts.scoring_algorithm_weights w on w.algorithm_version = s.algorithm_version and w.component = c.component "
        " join marts.scoring_algorithm_parameters p on p.algorithm_version = s.algorithm_version and p.parameter = 'min_component_confidence' "
        " where c.value is not null and c.confidence >= p.value::float8), 0) "
        "from marts.fct_symbol_scores s where s.symbol = %s and s.bucket_start = %s", (symbol, start)
    ))
    assert len(weighted) >= 2 and all(abs(d) < 1e-9 for d in weighted.values()), weighted  # every version's row, the bug undone
    findings = pipeline.query(
        "select suite, rule, reason, record->>'symbol', record->>'algorithm_version', "
        "0.5 * (record->>'weighted_composite_confidence')::float8 + 0.001 - (record->>'composite_confidence')::float8 "
        "from quarantine.gate_findings where layer = 'marts' and window_start = %s order by 5", (start,)
    )
    assert {f[:2] for f in findings} == {("fct_symbol_scores", "composite_confidence_is_weighted_confidence")}, findings
    assert [(f[3], f[4]) for f in findings] == [(symbol, version) for version in sorted(weighted)]
    assert all(abs(f[5]) < 1e-9 for f in findings) and "seed-weighted sum" in findings[0][2]
