"""Every fault profile of the simulator, through the real ingestion (ccxt, Dagster, PostgreSQL),
ends in its expected outcome:

| faults                                              | outcome                                              |
|-----------------------------------------------------|------------------------------------------------------|
| 429 bursts, 5xx, slow answers, truncated/malformed JSON (some requests) | retried: every job succeeds, nothing lost |
| NaN / negative / duplicated records, crossed books, hostile symbols     | quarantined with the rule; the rest loaded; ledgers conserve records |
| out-of-order records                                 | loaded as if in order, nothing quarantined           |
| gaps in candles and open interest                    | recorded as not served; the gate passes, completeness warns, the gap sensor asks again |
| negative candle values                               | loaded, then stopped at the GX gate (quarantined at stage gate); nothing downstream runs |
| malformed JSON on every request                      | the run fails with a message naming the request     |
| the exchange crashing mid-partition                  | see test_pipeline.py                                 |

Each scenario runs the contracts snapshot, the market snapshots (tickers, books, trades), a day of
funding history and the raw part of the market pipeline (candles and open interest for an hour,
with their checks).
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from orchestration.ingestion.monitoring import candle_gaps
from orchestration.runs import failure_messages
from simulator.faults import parse_faults
from tests.integration.pipeline.conftest import DAY_START, SYMBOLS, Pipeline, hour

RAW_MARKET = [dg.AssetKey(["raw", "kucoin_candles_1m"]), dg.AssetKey(["raw", "kucoin_open_interest"])]
FUNDING_DAY = "2026-11-01"
HOUR_INDEX = 7
QUARANTINE = ("contracts", "tickers", "order_book_levels", "trades", "funding_rates", "open_interest", "candles_1m")


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


def test_transport_faults_are_retried_and_nothing_is_lost(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZMART_EXCHANGE_TIMEOUT_MS", "1000")  # a slow answer (3 s) is a RequestTimeout
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


def test_bad_records_are_quarantined_with_their_rule_and_the_rest_loaded(pipeline: Pipeline) -> None:
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


def test_out_of_order_and_duplicated_history_is_loaded_in_order(pipeline: Pipeline) -> None:
    pipeline.start_simulator(
        parse_faults("kline_out_of_order=0.3,trade_out_of_order=0.3,funding_out_of_order=0.5,oi_out_of_order=0.3")
    )
    results = run_all(pipeline)
    assert all(r.success for r in results.values())
    assert candles_in_hour(pipeline) == SYMBOLS * 60
    assert all(not rules for rules in quarantined_rules(pipeline).values())
    assert_ledgers_conserve(pipeline)


def test_gaps_are_recorded_the_gate_passes_completeness_warns_and_the_sensor_asks_again(pipeline: Pipeline) -> None:
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


def test_negative_candle_values_stop_at_the_quality_gate(pipeline: Pipeline) -> None:
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


def test_an_exchange_that_only_sends_garbage_fails_the_run_naming_the_request(pipeline: Pipeline) -> None:
    pipeline.start_simulator(parse_faults("malformed=1"))
    result = pipeline.run("contracts_snapshot")
    assert not result.success
    message = failure_messages(result)[-1]
    assert "load_markets (GET /api/v1/contracts/active, /api/v3/currencies)" in message
    assert "failed after 4 attempts" in message and "body is not a KuCoin JSON envelope" in message
