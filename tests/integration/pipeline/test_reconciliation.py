"""Reconciliation suites on the embedded stack: the trade and ticker samples against the candles,
and the contracts snapshot against the exchange's list, each checked against a pandas reference
computed from the stored rows."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from orchestration.assets.transformation import MARKET_LAYERS
from orchestration.checks.gates import record_findings
from orchestration.runs import failure_messages
from quality.gate import run_suite
from quality.suites import reconciliation
from simulator.config import SimulatorConfig
from simulator.faults import parse_faults
from simulator.universe import build_universe
from tests.integration.pipeline.conftest import DAY_START, UNIVERSE, Pipeline, hour

HOUR_START = DAY_START + timedelta(hours=7)
# The market snapshots are taken three times in hour 7, a third of a second after a minute
# starts: most contracts have not traded yet in the forming minute, so their ticker shows the last
# trade of a finished one (comparable with its close), and a less liquid contract's 100 trades
# span whole minutes. Every listed contract is followed: the pipeline's default 12 are the most
# traded, whose last 100 trades span less than a minute (at most one whole minute in the three
# snapshots), too few to compare. The candles are loaded once the hour has ended; the simulated
# market is a function of time, so every answer sees the same tape.
SNAPSHOT_MS = [int((HOUR_START + timedelta(minutes=m, milliseconds=300)).timestamp() * 1000) for m in (20, 40, 59)]
CANDLES_MS = int((HOUR_START + timedelta(hours=1, seconds=30)).timestamp() * 1000)
ZMART = Path(sys.executable).parent / "zmart"
RAW_AND_STAGING = [dg.AssetKey(["raw", "kucoin_candles_1m"]), dg.AssetKey(["raw", "kucoin_open_interest"]), *MARKET_LAYERS["staging"].keys]


def load_hour(pipeline: Pipeline, faults: str = "") -> dg.ExecuteInProcessResult:
    pipeline.monkeypatch.setenv("ZMART_MAX_SYMBOLS", "0")  # every listed contract
    for now_ms in SNAPSHOT_MS:
        pipeline.start_simulator(parse_faults(faults), now_ms=now_ms)
        for job in ("contracts_snapshot", "market_snapshots"):
            result = pipeline.run(job)
            assert result.success, failure_messages(result)
    pipeline.start_simulator(parse_faults(faults), now_ms=CANDLES_MS)
    return pipeline.run("market_pipeline", hour(7), assets=RAW_AND_STAGING)


def frame(pipeline: Pipeline, query: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(pipeline.query(query), columns=columns)


def trade_reference(pipeline: Pipeline) -> tuple[int, set[tuple[str, pd.Timestamp]]]:
    """(minutes compared, minutes whose sampled volume differs from the candle's), from the stored rows."""
    trades = frame(pipeline, "select symbol, batch_id, traded_at, size_lots from raw.trades", ["symbol", "batch_id", "traded_at", "size_lots"])
    candles = frame(pipeline, "select symbol, open_time, volume from raw.candles_1m", ["symbol", "minute", "volume"])
    refused = frame(pipeline, "select symbol, traded_at from quarantine.trades where traded_at is not null", ["symbol", "traded_at"])
    refused_minutes = set(zip(refused.symbol, pd.to_datetime(refused.traded_at, utc=True).dt.floor("min"), strict=True))
    trades["minute"] = pd.to_datetime(trades.traded_at, utc=True).dt.floor("min")
    compared, mismatched = 0, set()
    candle_volume = {(s, m): v for s, m, v in candles.itertuples(index=False)}
    for (symbol, _), run in trades.groupby(["symbol", "batch_id"]):
        volume = run.groupby("minute").size_lots.sum()
        for minute in pd.date_range(run.minute.min() + pd.Timedelta(minutes=1), run.minute.max() - pd.Timedelta(minutes=1), freq="min"):
            if not HOUR_START <= minute < HOUR_START + timedelta(hours=1) or (symbol, minute) not in candle_volume or (symbol, minute) in refused_minutes:
                continue
            compared += 1
            if float(volume.get(minute, 0.0)) != float(candle_volume[(symbol, minute)]):
                mismatched.add((symbol, minute))
    return compared, mismatched


def ticker_reference(pipeline: Pipeline) -> tuple[int, int]:
    """(tickers compared, tickers whose last price is off the close by more than half a tick).

    The suite's definition, from the raw rows: a ticker of the hour whose last trade is in the
    trade sample (at or before observed_at, within the lookback) in a minute that had closed by
    observed_at, of a contract with a tick size, is compared with that minute's close.
    """
    rows = frame(pipeline, """
        select t.symbol, t.observed_at, t.last_price, tr.traded_at, c.open_time, c.close,
               (select tick_size from raw.contracts k where k.symbol = t.symbol order by snapshot_time desc limit 1) as tick
        from raw.tickers t
        join raw.trades tr on tr.symbol = t.symbol and tr.trade_id = t.last_trade_id
        join raw.candles_1m c on c.symbol = t.symbol and c.open_time = date_trunc('minute', tr.traded_at)
    """, ["symbol", "observed_at", "last", "traded_at", "open_time", "close", "tick"])
    in_hour = (rows.observed_at >= HOUR_START) & (rows.observed_at < HOUR_START + timedelta(hours=1))
    sampled = (rows.traded_at <= rows.observed_at) & (rows.traded_at > HOUR_START - pd.Timedelta(reconciliation.TRADE_LOOKBACK))
    closed = rows.open_time + pd.Timedelta(minutes=1) <= rows.observed_at
    rows = rows[in_hour & sampled & closed & rows.tick.notna()]
    return len(rows), int(((rows["last"] - rows["close"]).abs() > 0.5 * rows.tick).sum())


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def assert_data_docs_site(pipeline: Pipeline, tmp_path: Path) -> None:
    """``zmart quality docs`` (the console script) renders a GX Data Docs site listing the suites."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZMART_", "DAGSTER_"))}
    env.update(ZMART_HOME=str(tmp_path / "home"), ZMART_DATABASE_URL=pipeline.url)
    out = tmp_path / "gx"
    done = subprocess.run([str(ZMART), "quality", "docs", "--out", str(out)], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    index = out / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert f"GX Data Docs: {index}" in done.stdout
    html = index.read_text()
    for suite in ("raw_candles_1m", "stg_kucoin__candles_1m", "trades_vs_candles", "contracts_vs_exchange"):
        assert suite in html, suite
    assert "raw_candles_1m: all" in done.stdout  # the hour validated is the latest loaded one


def test_clean_samples_agree_with_the_candles_and_the_snapshot_with_the_exchange(pipeline: Pipeline, tmp_path: Path) -> None:
    result = load_hour(pipeline)
    assert result.success, failure_messages(result)
    outcome = evaluations(result)
    compared, mismatched = trade_reference(pipeline)
    tickers, off = ticker_reference(pipeline)
    assert compared > 0 and not mismatched and tickers > 0 and off == 0  # the suites had something to compare
    assert outcome["trades_vs_candles"].passed and outcome["tickers_vs_candles"].passed
    assert_data_docs_site(pipeline, tmp_path)

    # every compared ticker one tick off its minute's close (before a contract is deleted below:
    # without its tick size a contract's tickers are neither shifted nor comparable)
    pipeline.execute("""
        update raw.tickers t set last_price = t.last_price + k.tick_size
        from (select distinct on (symbol) symbol, tick_size from raw.contracts order by symbol, snapshot_time desc) k
        where k.symbol = t.symbol
    """)
    off_by_a_tick = run_suite(pipeline.url, reconciliation.tickers_vs_candles(HOUR_START, HOUR_START + timedelta(hours=1)))
    assert {o.rule: o.unexpected_count for o in off_by_a_tick.failed} == {"ticker_last_is_candle_close": tickers}

    # the latest snapshot accounts for every contract the exchange lists at its clock (the
    # universe also holds contracts not listed yet or no longer listed)
    listed = sum(c.is_listed(SNAPSHOT_MS[-1]) for c in build_universe(SimulatorConfig().seed, UNIVERSE))
    [(served,)] = pipeline.query("select rows_in from raw.load_batches where asset = 'kucoin_contracts' order by batch_id desc limit 1")
    assert served == listed
    assert run_suite(pipeline.url, reconciliation.contracts_vs_exchange()).success
    pipeline.execute("delete from raw.contracts where symbol = (select min(symbol) from raw.contracts)")
    lost = run_suite(pipeline.url, reconciliation.contracts_vs_exchange())
    assert [(o.rule, o.unexpected_rows[0]["served"], o.unexpected_rows[0]["stored"]) for o in lost.failed] == [
        ("every_served_contract_accounted_for", listed, listed - 1)
    ]

    # the deleted contract's tickers have no spec left: a finding per symbol, counted, with its
    # reason in the gate's record (the other tickers are still a tick off)
    window = (HOUR_START, HOUR_START + timedelta(hours=1))
    [(unknown, quoted)] = pipeline.query(
        "select symbol, count(*) from raw.tickers where observed_at >= %s and observed_at < %s "
        "and symbol not in (select symbol from raw.contracts) group by symbol", window
    )
    unspecified = run_suite(pipeline.url, reconciliation.tickers_vs_candles(*window))
    still_compared, _ = ticker_reference(pipeline)
    assert {o.rule: o.unexpected_count for o in unspecified.failed} == {"ticker_last_is_candle_close": still_compared, "ticker_has_contract_spec": 1}
    [missing] = [o for o in unspecified.failed if o.rule == "ticker_has_contract_spec"]
    assert [(r["symbol"], r["tickers"]) for r in missing.unexpected_rows] == [(unknown, quoted)]
    record_findings(pipeline.url, "staging", [unspecified], *window, None)
    assert pipeline.query(
        "select record->>'symbol', reason, (record->>'tickers')::int from quarantine.gate_findings where rule = 'ticker_has_contract_spec'"
    ) == [(unknown, f"no contract spec for {unknown}", quoted)]


def test_a_trade_sample_with_holes_is_flagged_minute_by_minute_and_warns(pipeline: Pipeline) -> None:
    result = load_hour(pipeline, "trade_gap=0.05")
    assert result.success, failure_messages(result)  # a warning: the candles are not held back
    check = evaluations(result)["trades_vs_candles"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    compared, mismatched = trade_reference(pipeline)
    flagged = {
        (symbol, pd.Timestamp(minute))
        for symbol, minute in pipeline.query(
            "select record->>'symbol', (record->>'minute')::timestamptz from quarantine.gate_findings where suite = 'trades_vs_candles'"
        )
    }
    assert compared > len(mismatched) > 0 and flagged == mismatched
