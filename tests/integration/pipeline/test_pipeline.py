"""The market pipeline end to end on the embedded stack: exchange -> raw -> GX -> dbt -> portfolio.

Each test runs the project's Dagster jobs in process against its own database and its own
simulator process; nothing is mocked.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
from dagster_postgres import PostgresRunStorage

from orchestration.runs import failure_messages
from simulator.config import SimulatorConfig
from simulator.exchange import Exchange, KlineQuery
from simulator.faults import FaultProfile
from tests.integration.pipeline.conftest import DAY_START, EXCHANGE_NOW, SYMBOLS, UNIVERSE, Pipeline, hour
from tests.integration.pipeline.lifecycle import assert_lifecycle_follows_the_portfolio, assert_lifecycle_kept

# Content of every table the pipeline writes; raw and portfolio tables also by row version
# (xmin), which changes if a row is rewritten even with the same values.
CONTENT = (
    "raw.candles_1m", "raw.contracts", "quarantine.candles_1m", "quarantine.contracts",
    "intermediate.int_candles_1h", "intermediate.int_indicators_1h",
    "marts.dim_symbols", "marts.fct_symbol_scores", "marts.fct_portfolio_composition", "marts.fct_decisions",
    "portfolio.evaluations", "portfolio.composition", "portfolio.decisions", "marts.dim_symbols_history",
    "lifecycle.transitions", "lifecycle.evaluated_hours",
)
ROW_VERSIONS = (
    "raw.candles_1m", "raw.contracts", "portfolio.evaluations", "portfolio.composition", "portfolio.decisions",
    "lifecycle.transitions", "lifecycle.evaluated_hours",
)
GATES = {"raw_candles_1m_gate", "staging_gate", "intermediate_gate", "marts_gate", "portfolio_composition_gate"}


def fingerprint(pipeline: Pipeline) -> dict[str, tuple[object, ...]]:
    prints: dict[str, tuple[object, ...]] = {}
    for table in CONTENT:
        prints[table] = pipeline.query(f"select count(*), md5(string_agg(t::text, E'\\n' order by t::text)) from {table} t")[0]
    for table in ROW_VERSIONS:
        prints[f"{table}#xmin"] = pipeline.query(f"select md5(string_agg(xmin::text, ',' order by xmin::text)) from {table}")[0]
    return prints


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_a_day_end_to_end_then_the_same_partitions_again_change_nothing(pipeline: Pipeline) -> None:
    pipeline.start_simulator()
    assert pipeline.run("contracts_snapshot").success
    first = pipeline.run("market_pipeline", hour(0), hour(23))
    assert first.success, failure_messages(first)

    assert pipeline.query("select count(*) from raw.candles_1m") == [(SYMBOLS * 24 * 60,)]
    outcome = checks(first)
    assert GATES <= set(outcome) and all(outcome.values()) and len(outcome) > 100  # GX gates and dbt tests
    evaluations = dict(pipeline.query("select outcome, count(*) from portfolio.evaluations group by outcome"))
    assert sum(evaluations.values()) == 24 and evaluations["formed"] >= 3  # after the indicators' warm-up
    held = pipeline.query("select count(*), sum(weight) from marts.fct_portfolio_composition")
    assert held == [(10, 1)]
    reasons = pipeline.query("select action, reason from marts.fct_decisions where action = 'add' limit 1")
    assert reasons and "rank" in reasons[0][1]
    assert isinstance(pipeline.instance.run_storage, PostgresRunStorage)
    assert pipeline.instance.get_run_by_id(first.run_id) is not None  # recorded by dagster-postgres
    assert_lifecycle_follows_the_portfolio(pipeline, first)

    before = fingerprint(pipeline)
    candle_batches = "from raw.load_batches where asset = 'kucoin_candles_1m' order by batch_id"
    batches_before = pipeline.query(f"select window_start, checksum, rows_in {candle_batches}")
    again = pipeline.run("market_pipeline", hour(0), hour(23))
    assert again.success, failure_messages(again)

    assert fingerprint(pipeline) == before  # no row added, removed, changed or rewritten
    assert_lifecycle_kept(again)
    rerun_batches = pipeline.query(
        f"select window_start, checksum, rows_in, rows_inserted, rows_unchanged, rows_quarantined, status {candle_batches}"
    )[len(batches_before):]
    assert [(w, c, n) for w, c, n, *_ in rerun_batches] == batches_before  # the exchange served identical data
    assert all(inserted == 0 and unchanged == n and quarantined == 0 and status == "succeeded"
               for _, _, n, inserted, unchanged, quarantined, status in rerun_batches)


def test_an_exchange_crash_mid_partition_keeps_whole_symbols_fails_clearly_and_a_rerun_completes(pipeline: Pipeline) -> None:
    pipeline.start_simulator()
    assert pipeline.run("contracts_snapshot").success
    # One kline request per symbol for an hour: the exchange dies after answering five of twelve.
    crashed = pipeline.start_simulator(FaultProfile(crash_after_klines=5))
    failed = pipeline.run("market_pipeline", hour(5))

    assert not failed.success
    assert crashed.returncode is not None  # the exchange process really died
    messages = [m for m in failure_messages(failed) if m.startswith("raw__kucoin_candles_1m")]
    # the first attempt keeps what arrived and names the request that broke; Dagster's retries
    # then find the exchange gone and say so
    first_attempt, last_attempt = messages[0], messages[-1]
    assert first_attempt.startswith("raw__kucoin_candles_1m (retried): ") and "7 symbols failed and will be retried" in first_attempt
    assert "GET /api/v1/kline/query" in first_attempt and crashed.url in first_attempt
    assert last_attempt.startswith("raw__kucoin_candles_1m: ") and "ConnectionRefusedError" in last_attempt

    ledger = pipeline.query(
        "select s.symbol, s.status, s.rows_fetched, s.error from raw.load_batch_symbols s "
        "join raw.load_batches b using (batch_id) where b.asset = 'kucoin_candles_1m' and b.status = 'succeeded'"
    )
    kept = {symbol for symbol, status, rows, _ in ledger if status == "succeeded" and rows == 60}
    lost = {symbol for symbol, status, rows, error in ledger if status == "failed" and rows == 0 and "kline/query" in error}
    assert len(kept) == 5 and len(lost) == 7
    stored = dict(pipeline.query("select symbol, count(*) from raw.candles_1m group by symbol"))
    assert stored == {symbol: 60 for symbol in kept}  # the symbols that arrived, whole; nothing of the others
    assert not any(key.startswith(("staging/", "intermediate/", "marts/", "portfolio/")) for key in materialized(failed))

    pipeline.start_simulator()  # the exchange is back
    rerun = pipeline.run("market_pipeline", hour(5))
    assert rerun.success, failure_messages(rerun)
    window = (DAY_START + timedelta(hours=5), DAY_START + timedelta(hours=6))
    per_symbol = pipeline.query(
        "select symbol, count(*) from raw.candles_1m where open_time >= %s and open_time < %s group by symbol", window
    )
    assert len(per_symbol) == SYMBOLS and all(n == 60 for _, n in per_symbol)  # the whole partition, once
    assert checks(rerun)["raw_candles_1m_gate"]


def test_a_candle_with_high_below_low_fails_the_gate_and_stops_dbt(pipeline: Pipeline) -> None:
    faults = FaultProfile(ohlc_inverted=0.02)
    pipeline.start_simulator(faults)
    assert pipeline.run("contracts_snapshot").success
    result = pipeline.run("market_pipeline", hour(7))

    assert checks(result)["raw_candles_1m_gate"] is False
    assert materialized(result) == {"raw/kucoin_candles_1m", "raw/kucoin_open_interest"}  # nothing downstream of the gate ran
    assert not result.success

    # Exactly the candles the exchange served inverted were moved to quarantine, with the rule.
    exchange = Exchange(SimulatorConfig(n_contracts=UNIVERSE, now_ms=int(EXCHANGE_NOW.timestamp() * 1000), faults=faults))
    start = int((DAY_START + timedelta(hours=7)).timestamp() * 1000)
    followed = [s for (s,) in pipeline.query("select distinct symbol from raw.load_batch_symbols")]
    inverted = {
        (symbol, row[0])
        for symbol in followed
        for row in exchange.klines(KlineQuery(symbol, 1, start, start + 59 * 60_000))
        if row[2] < row[3]
    }
    quarantined = pipeline.query(
        "select symbol, (extract(epoch from open_time) * 1000)::bigint, rule, detail from quarantine.candles_1m"
    )
    assert inverted and {(s, t) for s, t, _, _ in quarantined} == inverted
    assert all(rule == "high_gte_close" or "high_gte_low" in detail for _, _, rule, detail in quarantined)
    stored = pipeline.query("select count(*) from raw.candles_1m")[0][0]
    ledger = pipeline.query(
        "select rows_in, rows_inserted, rows_quarantined from raw.load_batches where asset = 'kucoin_candles_1m' and status = 'succeeded'"
    )
    assert stored == SYMBOLS * 60 - len(inverted)
    assert ledger == [(SYMBOLS * 60, stored, len(inverted))]  # fetched = loaded + quarantined
