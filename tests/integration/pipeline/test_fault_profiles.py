"""The fault catalogue: every fault of the simulator (simulator/faults.py) and a set of hostile
inputs, each ending in its expected outcome, through the real ingestion (ccxt, Dagster,
PostgreSQL), with nothing stored before the bad input lost or changed:

| faults                                              | outcome                                              |
|-----------------------------------------------------|------------------------------------------------------|
| 429 bursts, 5xx, slow answers, truncated/malformed JSON (some requests) | retried: every job succeeds, nothing lost |
| NaN / negative / duplicated records, crossed books, hostile symbols     | quarantined with the rule; the rest loaded; ledgers conserve records |
| out-of-order records                                 | loaded as if in order, nothing quarantined           |
| gaps in candles and open interest                    | recorded as not served; the gate passes, completeness warns, the gap sensor asks again |
| negative candle values                               | loaded, then stopped at the GX gate (quarantined at stage gate); nothing downstream runs |
| malformed JSON on every request                      | the run fails with a message naming the request     |
| missing funding settlements                          | loaded as served, nothing quarantined, fewer settlements |
| the exchange crashing mid-partition, inverted OHLC   | see test_pipeline.py                                 |
| holes in the trade sample                            | see test_reconciliation.py (the reconciliation warns) |

CATALOGUE names the scenario of every fault, and a test fails when a fault has none. Each
scenario first loads a clean baseline (contracts, market snapshots, an hour of candles and open
interest) from a clean exchange, then runs the contracts snapshot, the market snapshots, a day of
funding history and the raw part of the market pipeline (candles and open interest for another
hour, with their checks) against the faulty one, and compares the baseline's rows before and after.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from orchestration.ingestion.monitoring import candle_gaps
from orchestration.runs import failure_messages
from quality.gate import unexpected_rows
from quality.suites import portfolio
from simulator.faults import FaultProfile, FaultSpecError, parse_faults
from tests.integration.pipeline.conftest import DAY_START, SYMBOLS, Pipeline, hour

RAW_MARKET = [dg.AssetKey(["raw", "kucoin_candles_1m"]), dg.AssetKey(["raw", "kucoin_open_interest"])]
FUNDING_DAY = "2026-11-01"
HOUR_INDEX = 7
BASELINE_HOUR = 6
QUARANTINE = ("contracts", "tickers", "order_book_levels", "trades", "funding_rates", "open_interest", "candles_1m")
# Every table a load writes, with a batch_id: the baseline's rows are those of its batches.
STORED = (*(f"raw.{t}" for t in QUARANTINE), *(f"quarantine.{t}" for t in QUARANTINE), "raw.load_batches")


def run_all(pipeline: Pipeline) -> dict[str, dg.ExecuteInProcessResult]:
    return {
        "contracts_snapshot": pipeline.run("contracts_snapshot"),
        "market_snapshots": pipeline.run("market_snapshots"),
        "funding_history": pipeline.run("funding_history", FUNDING_DAY),
        "market_pipeline": pipeline.run("market_pipeline", hour(HOUR_INDEX), assets=RAW_MARKET),
    }


def quarantined_rules(pipeline: Pipeline) -> dict[str, set[str]]:
    return {table: {rule for (rule,) in pipeline.query(f"select distinct rule from quarantine.{table}")} for table in QUARANTINE}


def assert_ledgers_conserve(pipeline: Pipeline) -> None:
    """fetched = inserted + unchanged + quarantined for every batch, and each quarantined record is in its table."""
    batches = pipeline.query(
        "select batch_id, asset, rows_in, rows_inserted, rows_unchanged, rows_quarantined from raw.load_batches where status = 'succeeded'"
    )
    assert batches
    tables = {"kucoin_contracts": "contracts", "kucoin_tickers": "tickers", "kucoin_order_books": "order_book_levels",
              "kucoin_trades": "trades", "kucoin_funding_rates": "funding_rates", "kucoin_open_interest": "open_interest",
              "kucoin_candles_1m": "candles_1m"}
    for batch_id, asset, rows_in, inserted, unchanged, quarantined in batches:
        assert rows_in == inserted + unchanged + quarantined, asset
        [(stored,)] = pipeline.query(f"select count(*) from quarantine.{tables[asset]} where batch_id = %s", (batch_id,))
        assert stored == quarantined, (asset, batch_id)


def candles_in_hour(pipeline: Pipeline) -> int:
    start = DAY_START + timedelta(hours=HOUR_INDEX)
    return pipeline.query("select count(*) from raw.candles_1m where open_time >= %s and open_time < %s", (start, start + timedelta(hours=1)))[0][0]


def transport_faults_are_retried(pipeline: Pipeline) -> None:
    pipeline.monkeypatch.setenv("ZMART_EXCHANGE_TIMEOUT_MS", "1000")  # a slow answer (3 s) is a RequestTimeout
    pipeline.start_simulator(
        parse_faults("burst_429=0.05,burst_429_length=3,http_5xx=0.08,slow=0.1,slow_ms=3000,truncated=0.06,malformed=0.06"),
        rate_limit_public_window_ms=2000,  # a 429 waits for the window's reset: keep it short
    )
    results = run_all(pipeline)
    assert all(r.success for r in results.values()), {job: failure_messages(r) for job, r in results.items() if not r.success}
    injected = pipeline.status()["transport_faults"]
    assert {"burst_429", "http_5xx", "slow", "truncated", "malformed"} <= {k for k, v in injected.items() if v}, injected
    assert candles_in_hour(pipeline) == SYMBOLS * 60
    assert all(not rules for rules in quarantined_rules(pipeline).values())  # retried, not refused
    assert_ledgers_conserve(pipeline)


def bad_records_are_quarantined_with_their_rule_and_the_rest_loaded(pipeline: Pipeline) -> None:
    pipeline.start_simulator(
        parse_faults(
            "hostile_symbols=12,kline_nan=0.02,kline_duplicate=0.02,trade_nan=0.02,trade_negative=0.02,trade_duplicate=0.02,"
            "ticker_nan=0.05,ticker_negative=0.05,book_nan=0.02,book_negative=0.02,book_crossed=0.2,funding_nan=0.2,"
            "funding_duplicate=0.2,oi_nan=0.05,oi_negative=0.05,oi_duplicate=0.05"
        )
    )
    results = run_all(pipeline)
    assert all(r.success for r in results.values()), {job: failure_messages(r) for job, r in results.items() if not r.success}
    rules = quarantined_rules(pipeline)
    assert "symbol:string_pattern_mismatch" in rules["contracts"]
    assert {"non_finite_value", "duplicate_key"} <= rules["candles_1m"]
    assert "duplicate_key" in rules["trades"] and any(r.startswith(("price:", "size:")) for r in rules["trades"])
    assert any(r.startswith(("price:", "size:", "bestBid", "bestAsk")) for r in rules["tickers"])
    assert {"crossed_book"} <= rules["order_book_levels"] and rules["order_book_levels"] & {"non_finite_value", "non_positive_size"}
    assert rules["funding_rates"] & {"fundingRate:finite_number", "fundingRate:float_type", "duplicate_key"}
    assert rules["open_interest"] & {"openInterest:finite_number", "openInterest:float_type", "openInterest:greater_than_equal"}
    assert candles_in_hour(pipeline) > 0
    [(stored_hostile,)] = pipeline.query("select count(*) from raw.contracts where symbol !~ '^[A-Z0-9]{2,40}$'")
    assert stored_hostile == 0  # a hostile id never reaches a table
    assert_ledgers_conserve(pipeline)


def out_of_order_history_is_loaded_in_order(pipeline: Pipeline) -> None:
    pipeline.start_simulator(
        parse_faults("kline_out_of_order=0.3,trade_out_of_order=0.3,funding_out_of_order=0.5,oi_out_of_order=0.3")
    )
    results = run_all(pipeline)
    assert all(r.success for r in results.values())
    assert candles_in_hour(pipeline) == SYMBOLS * 60
    assert all(not rules for rules in quarantined_rules(pipeline).values())
    assert_ledgers_conserve(pipeline)


def gaps_are_recorded_the_gate_passes_and_completeness_warns(pipeline: Pipeline) -> None:
    pipeline.start_simulator(parse_faults("kline_gap=0.05,oi_gap=0.1"))
    results = run_all(pipeline)
    assert all(r.success for r in results.values())
    outcome = {e.check_name: e for e in results["market_pipeline"].get_asset_check_evaluations()}
    assert outcome["raw_candles_1m_gate"].passed  # every minute accounted for
    assert not outcome["raw_candles_1m_completeness"].passed and outcome["raw_candles_1m_completeness"].severity == dg.AssetCheckSeverity.WARN

    recorded = dict(pipeline.query(
        "select b.asset, count(*) from raw.load_batch_gaps g join raw.load_batches b using (batch_id) group by b.asset"
    ))
    stored = candles_in_hour(pipeline)
    assert recorded["kucoin_candles_1m"] == SYMBOLS * 60 - stored > 0 and recorded["kucoin_open_interest"] > 0
    start = DAY_START + timedelta(hours=HOUR_INDEX)
    gaps = candle_gaps(pipeline.url, start, start + timedelta(hours=1), SYMBOLS)
    assert sum(g.expected_minutes - g.stored_minutes for g in gaps) == recorded["kucoin_candles_1m"]


def negative_candle_values_stop_at_the_quality_gate(pipeline: Pipeline) -> None:
    pipeline.start_simulator(parse_faults("kline_negative=0.05"))
    assert pipeline.run("contracts_snapshot").success
    result = pipeline.run("market_pipeline", hour(HOUR_INDEX))
    assert not result.success
    assert {e.check_name: e.passed for e in result.get_asset_check_evaluations()}["raw_candles_1m_gate"] is False
    assert not any(k.to_user_string().startswith(("staging/", "intermediate/", "marts/")) for k in (
        e.asset_key for e in result.get_asset_materialization_events()))
    stages = pipeline.query("select distinct stage from quarantine.candles_1m")
    assert stages == [("gate",)]  # structurally fine, refused by the market-consistency rules
    assert_ledgers_conserve(pipeline)


def garbage_fails_the_run_naming_the_request(pipeline: Pipeline) -> None:
    pipeline.start_simulator(parse_faults("malformed=1"))
    result = pipeline.run("contracts_snapshot")
    assert not result.success
    message = failure_messages(result)[-1]
    assert "load_markets (GET /api/v1/contracts/active, /api/v3/currencies)" in message
    assert "failed after 4 attempts" in message and "body is not a KuCoin JSON envelope" in message


def missing_funding_settlements_are_loaded_as_served(pipeline: Pipeline) -> None:
    pipeline.start_simulator(parse_faults("funding_gap=0.3"))
    results = run_all(pipeline)
    assert all(r.success for r in results.values()), {job: failure_messages(r) for job, r in results.items() if not r.success}
    assert all(not rules for rules in quarantined_rules(pipeline).values())
    # every perpetual settles every funding interval: 24 h / interval settlements in the day
    [(due,)] = pipeline.query("""
        select sum(86400000 / c.funding_granularity_ms) from raw.contracts c
        where c.batch_id = (select max(batch_id) from raw.load_batches where asset = 'kucoin_contracts')
          and c.funding_granularity_ms > 0 and c.symbol in (select symbol from raw.funding_rates)
    """)
    [(stored,)] = pipeline.query("select count(*) from raw.funding_rates where funding_time >= %s and funding_time < %s",
                                 (DAY_START, DAY_START + timedelta(days=1)))
    assert 0 < stored < due
    assert_ledgers_conserve(pipeline)


# -- the catalogue ------------------------------------------------------------------------------

Scenario = Callable[[Pipeline], None]
SCENARIOS: dict[str, Scenario] = {
    "transport": transport_faults_are_retried,
    "bad_records": bad_records_are_quarantined_with_their_rule_and_the_rest_loaded,
    "out_of_order": out_of_order_history_is_loaded_in_order,
    "gaps": gaps_are_recorded_the_gate_passes_and_completeness_warns,
    "negative_candles": negative_candle_values_stop_at_the_quality_gate,
    "garbage": garbage_fails_the_run_naming_the_request,
    "funding_gap": missing_funding_settlements_are_loaded_as_served,
}
# fault -> the scenario above, or the test elsewhere (module::function), that asserts its outcome
CATALOGUE: dict[str, str] = {
    "crash_after_klines": "test_pipeline::test_an_exchange_crash_mid_partition_keeps_whole_symbols_fails_clearly_and_a_rerun_completes",
    "ohlc_inverted": "test_pipeline::test_a_candle_with_high_below_low_fails_the_gate_and_stops_dbt",
    **dict.fromkeys(("burst_429", "burst_429_length", "http_5xx", "slow", "slow_ms", "truncated"), "transport"),
    "malformed": "transport",  # a share of answers; every answer malformed: "garbage"
    **dict.fromkeys(("kline_nan", "kline_duplicate", "trade_nan", "trade_negative", "trade_duplicate", "ticker_nan",
                     "ticker_negative", "book_nan", "book_negative", "book_crossed", "funding_nan", "funding_duplicate",
                     "oi_nan", "oi_negative", "oi_duplicate", "hostile_symbols"), "bad_records"),
    **dict.fromkeys(("kline_out_of_order", "trade_out_of_order", "funding_out_of_order", "oi_out_of_order"), "out_of_order"),
    **dict.fromkeys(("kline_gap", "oi_gap"), "gaps"),
    "kline_negative": "negative_candles",
    "funding_gap": "funding_gap",
    "trade_gap": "test_reconciliation::test_a_trade_sample_with_holes_is_flagged_minute_by_minute_and_warns",
}


def test_every_fault_of_the_simulator_has_an_expected_outcome() -> None:
    assert set(CATALOGUE) == {f.name for f in fields(FaultProfile)}
    for target in set(CATALOGUE.values()):
        module, _, function = target.partition("::")
        if function:
            assert callable(getattr(importlib.import_module(f"tests.integration.pipeline.{module}"), function)), target
        else:
            assert target in SCENARIOS, target


def load_baseline(pipeline: Pipeline) -> tuple[int, dict[str, tuple[object, ...]]]:
    """Load an hour from a clean exchange; (its last batch, a fingerprint of every row it stored)."""
    pipeline.start_simulator()
    for job, partition in (("contracts_snapshot", None), ("market_snapshots", None), ("market_pipeline", hour(BASELINE_HOUR))):
        result = pipeline.run(job, partition, assets=RAW_MARKET if partition else None)
        assert result.success, failure_messages(result)
    [(last_batch,)] = pipeline.query("select max(batch_id) from raw.load_batches")
    return last_batch, stored_rows(pipeline, last_batch)


def stored_rows(pipeline: Pipeline, max_batch: int) -> dict[str, tuple[object, ...]]:
    return {
        table: pipeline.query(
            f"select count(*), md5(string_agg(t::text, E'\\n' order by t::text)) from {table} t where batch_id <= %s", (max_batch,)
        )[0]
        for table in STORED
    }


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_fault_ends_in_its_outcome_and_nothing_stored_is_lost(pipeline: Pipeline, scenario: str) -> None:
    last_batch, before = load_baseline(pipeline)
    SCENARIOS[scenario](pipeline)
    assert stored_rows(pipeline, last_batch) == before


# -- hostile inputs ---------------------------------------------------------------------------

ZMART = Path(sys.executable).parent / "zmart"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kline_gap=2", "kline_gap='2' in 'kline_gap=2': the value must be a share between 0 and 1"),
        ("kline_gap=nan", "the value must be a share between 0 and 1"),
        ("kline_gap=0.1,kline_gap=0.2", "fault 'kline_gap' is given twice"),
        ("x'; drop table raw.candles_1m; --=1", "is unknown; known faults: crash_after_klines, ohlc_inverted"),
        ("hostile_symbols=13", "the value must be a whole number between 0 and 12"),
        ("slow", "needs a value: slow=<a share between 0 and 1>"),
    ],
)
def test_a_hostile_fault_profile_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=re.escape(message)):
        parse_faults(text)


def test_hostile_suite_and_cli_inputs_are_refused_naming_the_input(tmp_path: Path) -> None:
    hour_start = datetime(2026, 11, 1, 7, tzinfo=UTC)
    with pytest.raises(ValueError, match=re.escape("""algorithm version "v1'; drop table portfolio.evaluations; --": expected a name""")):
        portfolio.suite(hour_start, hour_start + timedelta(hours=1), "v1'; drop table portfolio.evaluations; --")
    with pytest.raises(ValueError, match="a query with a JOIN must alias the batch"):
        unexpected_rows("r", "d", "select * from {batch} join raw.contracts using (symbol)")
    done = subprocess.run([str(ZMART), "quality", "docs", "--hour", "2026-11-01 07:00'; --"], capture_output=True, text=True,
                          timeout=300, check=False, env={"PATH": "/usr/bin:/bin", "ZMART_HOME": str(tmp_path),
                                                         "PYTHONPATH": str(Path(__file__).parents[3])})
    assert done.returncode == 2 and "--hour" in done.stderr and "expected an hour such as 2026-11-01-07:00" in done.stderr, done.stderr
