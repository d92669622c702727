"""The incremental_hour benchmark at a tiny size (3 symbols x 1 and 2 days, one timed hour), on
the session's real PostgreSQL cluster with real dbt: its result must describe what it built.

The raw candles are checked against the simulator's kline endpoint logic (``Exchange.klines``,
which applies the kline_gap fault on its own path), so a candle generated or loaded wrongly, or
a gap miscounted, fails; the timed hours must be in int_candles_1h with what their minutes hold.

The runs take minutes (two histories, each fully built, then timed increments): they are `scale`
tests, outside the default suite, run with ``pytest -m scale tests/bench``. What they check of the
models is covered by the default suite too (the kline_gap fault's gaps recorded in
raw.load_batch_gaps: integration/pipeline/test_fault_profiles.py; int_candles_1h against the minutes
and the bounded rows an hourly increment reads: integration/dbt/test_dbt_build.py and
test_dbt_incremental.py); what only they check is the benchmark's own result and report.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.incremental_hour import BenchmarkResult, Config, ConfigError, HistoryResult, run, write_results
from orchestration.embedded_postgres import EmbeddedPostgres
from orchestration.ingestion.windows import to_ms
from simulator.config import SimulatorConfig
from simulator.exchange import Exchange, KlineQuery
from simulator.faults import FaultProfile

CONFIG = Config(symbols=3, days=(1, 2), increments=1, kline_gap=0.02)
MINUTE = timedelta(minutes=1)
PAGE = 1500  # the simulator's largest kline page
PORTFOLIO_MODELS = ("stg_portfolio__evaluations", "stg_portfolio__composition", "stg_portfolio__decisions", "fct_decisions", "fct_portfolio_composition")


@pytest.fixture(scope="module")
def result(pg_cluster: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> BenchmarkResult:
    return run(CONFIG, pg_cluster, tmp_path_factory.mktemp("bench"))


def fetch(cluster: EmbeddedPostgres, history: HistoryResult, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(cluster.url(history.database)) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def served_klines(symbol: str, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    """What the simulator's kline endpoint serves for [start, end), page by page."""
    exchange = Exchange(
        SimulatorConfig(seed=CONFIG.seed, n_contracts=CONFIG.contracts, faults=FaultProfile(kline_gap=CONFIG.kline_gap),
                        now_ms=to_ms(end + timedelta(days=1)), kline_max_points=PAGE)
    )
    rows: list[tuple[Any, ...]] = []
    page_start = start
    while page_start < end:
        page_end = min(page_start + PAGE * MINUTE, end)  # the query's `to` is inclusive
        rows += [(symbol, *row) for row in exchange.klines(KlineQuery(symbol, 1, to_ms(page_start), to_ms(page_end - MINUTE)))]
        page_start = page_end
    return rows


@pytest.mark.scale
def test_raw_candles_are_the_served_ones_minus_the_simulators_gaps(result: BenchmarkResult, pg_cluster: EmbeddedPostgres) -> None:
    for history in result.histories:
        stored = fetch(
            pg_cluster, history,
            "select symbol, (extract(epoch from open_time) * 1000)::bigint, open, high, low, close, volume "
            "from raw.candles_1m where open_time >= %s and open_time < %s order by symbol, open_time",
            (history.history_start, history.history_end),
        )
        served = [row for symbol in sorted(result.symbols) for row in served_klines(symbol, history.history_start, history.history_end)]
        minutes = history.days * 24 * 60
        gaps = len(result.symbols) * minutes - len(served)
        assert gaps > 0, "the kline_gap fault withheld no minute: the count check would be vacuous"
        assert history.raw_rows == len(stored) == len(result.symbols) * minutes - gaps
        assert stored == served
        recorded_gaps = fetch(pg_cluster, history, "select count(*) from raw.load_batch_gaps where missing_at < %s", (history.history_end,))
        assert recorded_gaps[0][0] == gaps


@pytest.mark.scale
def test_every_timed_hour_is_in_the_hourly_bars(result: BenchmarkResult, pg_cluster: EmbeddedPostgres) -> None:
    for history in result.histories:
        for increment in history.increments:
            bars = fetch(
                pg_cluster, history,
                "select symbol, minute_count, volume_lots, close from intermediate.int_candles_1h where bucket_start = %s order by symbol",
                (increment.window_start,),
            )
            minutes = fetch(
                pg_cluster, history,
                "select symbol, count(*), sum(volume), (array_agg(close order by open_time desc))[1] from raw.candles_1m "
                "where open_time >= %s and open_time < %s group by symbol order by symbol",
                (increment.window_start, increment.window_end),
            )
            assert [s for s, *_ in bars] == sorted(result.symbols)
            assert [(s, n, float(v), c) for s, n, v, c in bars] == [(s, n, float(v), c) for s, n, v, c in minutes]
            assert increment.rows_loaded == sum(n for _, n, *_ in minutes) == len(result.symbols) * 60 - increment.gaps
        last_bar = fetch(pg_cluster, history, "select max(bucket_start) from intermediate.int_candles_1h")[0][0]
        assert last_bar == history.increments[-1].window_start


@pytest.mark.scale
def test_every_database_was_vacuumed_and_analyzed_before_its_timed_hours(result: BenchmarkResult, pg_cluster: EmbeddedPostgres) -> None:
    for history in result.histories:
        assert history.settle_seconds > 0
        # last_vacuum / last_analyze are set by a manual VACUUM (ANALYZE), never by autovacuum. Checked:
        # the raw tables no later run re-creates, and the candle partition of the history's first
        # day (the increments' days get partitions of their own, created after the vacuum).
        tables = fetch(
            pg_cluster, history,
            "select c.oid::regclass::text, s.last_vacuum is not null and s.last_analyze is not null from pg_class as c "
            "join pg_namespace as n on n.oid = c.relnamespace join pg_stat_user_tables as s on s.relid = c.oid "
            "where n.nspname = 'raw' and c.relkind = 'r' and (not c.relispartition "
            "or c.oid = (select tableoid from raw.candles_1m where open_time = %s limit 1)) order by 1",
            (history.history_start,),
        )
        assert sum(name.startswith("raw.candles_1m") for name, _ in tables) == 1 and len(tables) > 1
        unsettled = [name for name, vacuumed in tables if not vacuumed]
        assert unsettled == []


@pytest.mark.scale
def test_the_result_times_every_increment_of_the_market_models(result: BenchmarkResult) -> None:
    assert [h.days for h in result.histories] == sorted(CONFIG.days)
    assert len(result.symbols) == CONFIG.symbols
    for history in result.histories:
        assert history.raw_rows > 0 and history.full_build.wall_seconds > 0
        assert len(history.increments) == CONFIG.increments
        for increment in history.increments:
            for invocation, kinds in ((increment.build, {"model", "test", "seed"}), (increment.run, {"model"})):
                assert invocation.window_start == increment.window_start.isoformat()
                assert 0 < invocation.dbt_elapsed_seconds < invocation.wall_seconds
                assert {n.resource_type for n in invocation.nodes} - {"operation"} == kinds
                assert all(n.status in ("success", "pass") for n in invocation.nodes)
                assert "int_candles_1h" in invocation.model_seconds()
                assert not set(PORTFOLIO_MODELS) & set(invocation.model_seconds())
        slowest = history.slowest_models()
        assert len(slowest) == 5 and slowest == sorted(slowest, key=lambda item: -item[1])
    assert math.isfinite(result.ratio(lambda h: h.median_build_seconds)) and result.ratio(lambda h: h.median_run_seconds) > 0


@pytest.mark.scale
def test_the_result_is_written_as_json_and_markdown(result: BenchmarkResult, tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nkept\n")
    data = json.loads(write_results(result, tmp_path / "results", docs).read_text())
    assert [h["raw_rows"] for h in data["histories"]] == [h.raw_rows for h in result.histories]
    assert set(data["ratios"]) == {"increment_build", "increment_build_execution", "increment_run", "control_views"}
    write_results(result, tmp_path / "results", docs)  # rewrites its own section, leaves the rest
    text = docs.read_text()
    assert text.count("<!-- incremental_hour: end -->") == 1 and "kept" in text
    assert all(f"| {h.days} d | {h.raw_rows:,} |" in text for h in result.histories)
    assert all(f"{h.settle_seconds:.1f} s at {h.days} d" in text for h in result.histories)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"days": (0, 7)}, "days=0,7: must be distinct whole numbers"),
        ({"days": (7, 7)}, "days=7,7: must be distinct"),
        ({"symbols": 0}, "symbols=0: must be at least 1"),
        ({"increments": 0}, "increments=0: must be at least 1"),
        ({"end": datetime.fromisoformat("2026-11-02T00:30:00+00:00")}, "must be a whole UTC hour"),
        ({"kline_gap": 1.0}, "kline_gap=1.0: must be a share in [0, 1)"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config(**settings)
