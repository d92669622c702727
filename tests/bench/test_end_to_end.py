"""The end_to_end benchmark at a tiny size (12 symbols x 1 day, the 2-day history beside it, one
timed hour), on the session's real PostgreSQL cluster with the simulator, ccxt, dbt and GX for
real: its result must describe what it built.

The stored candles are checked against the simulator's own market model (what its kline endpoint
serves), the raw COPY baseline must hold exactly the ingested rows, the TA-Lib baseline must have
read every 1h bar, and the portfolio stage must have formed its evaluations. A `scale` test,
outside the default suite: ``pytest -m scale tests/bench``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.end_to_end import Config, ConfigError, Result, run, write_results
from bench.workload import SimulatedMarket
from orchestration.embedded_postgres import EmbeddedPostgres
from orchestration.ingestion.windows import to_ms
from tests.bench.written import written_twice

CONFIG = Config(size="tiny", symbols=12, days=1, compare_days=(1, 2), increments=1, portfolio_hours=2)
STAGES = ("ingest", "GX raw candle gates", "dbt market models", "portfolio manager", "GX portfolio gate", "dbt portfolio models")


@pytest.fixture(scope="module")
def result(pg_cluster: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Result:
    return run(CONFIG, pg_cluster, tmp_path_factory.mktemp("bench"))


def fetch(cluster: EmbeddedPostgres, result: Result, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(cluster.url(result.histories[0].database)) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


@pytest.mark.scale
def test_the_ingested_candles_are_the_simulators_and_the_copy_holds_the_same_rows(result: Result, pg_cluster: EmbeddedPostgres) -> None:
    columns = "symbol, (extract(epoch from open_time) * 1000)::bigint, open, high, low, close, volume"
    start, end = CONFIG.start(CONFIG.days), CONFIG.end
    # the timed increments appended hours after the history: only the ingested ones are compared
    stored = fetch(pg_cluster, result, f"select {columns} from raw.candles_1m where open_time < '{end.isoformat()}' order by symbol, open_time")
    market = SimulatedMarket(CONFIG.seed, CONFIG.contracts)
    served = [
        (symbol, ms, o, h, lo, c, v)
        for symbol in sorted(result.symbols)
        for ms, o, h, lo, c, v in zip(*(getattr(market.served_candles(symbol, start, end), k).tolist()
                                        for k in ("open_ms", "open", "high", "low", "close", "volume")), strict=True)
    ]
    assert len(stored) == result.ingest.candle_rows == CONFIG.symbols * CONFIG.days * 1440
    assert [(s, ms, float(o), float(h), float(lo), float(c), float(v)) for s, ms, o, h, lo, c, v in stored] == served
    assert to_ms(start) == stored[0][1]
    copied = fetch(pg_cluster, result, f"select {columns} from bench_copy.candles_1m order by symbol, open_time")
    assert copied == stored and result.copy.rows == len(stored)
    # the ingestion's contracts snapshot is stamped at the wall clock, after the increments' ones
    snapshots = fetch(
        pg_cluster, result,
        "select (select count(*) from raw.contracts where snapshot_time = (select max(snapshot_time) from raw.contracts)), "
        "(select count(*) from raw.tickers)",
    )
    assert snapshots == [(result.ingest.contract_rows, result.ingest.ticker_rows)] and min(snapshots[0]) > CONFIG.symbols


@pytest.mark.scale
def test_every_stage_is_timed_and_did_its_work(result: Result, pg_cluster: EmbeddedPostgres) -> None:
    assert [s.name for s in result.stages] == list(STAGES)
    assert all(s.seconds > 0 and s.rows > 0 and s.peaks.process_mib > 0 and s.peaks.server_mib > 0 for s in result.stages)
    assert result.stage("dbt market models").peaks.children_mib > 0  # dbt runs as a child process
    assert 0 < result.ingest.loader_seconds["candles_1m"] < result.ingest.candles_seconds
    evaluations = fetch(pg_cluster, result, "select count(*) filter (where outcome = 'formed'), count(*) from portfolio.evaluations")
    assert evaluations == [(result.evaluations_formed, CONFIG.portfolio_hours)] and result.evaluations_formed > 0
    bars = fetch(
        pg_cluster, result,
        f"select count(*), count(distinct symbol) from intermediate.int_candles_1h where bucket_start < '{CONFIG.end.isoformat()}'",
    )
    assert bars == [(result.talib.bars, result.talib.symbols)] == [(CONFIG.symbols * 24 * CONFIG.days, CONFIG.symbols)]
    assert result.indicator_model_seconds > 0 and len(result.talib.functions) == 17
    written = fetch(pg_cluster, result, "select count(*), count(distinct (symbol, bucket_start)), count(v0) from bench_talib.indicators_1h")
    assert written == [(result.talib.bars, result.talib.bars, result.talib.bars)] and result.talib.outputs == 22  # every bar, all outputs
    [(column_count,)] = fetch(pg_cluster, result, "select count(*) from information_schema.columns where table_schema = 'bench_talib'")
    assert column_count == 2 + result.talib.outputs
    assert [h.days for h in result.histories] == list(CONFIG.compare_days)
    assert all(len(h.increments) == CONFIG.increments for h in result.histories)
    assert all(math.isfinite(v) and v > 0 for v in result.ratios().values())


@pytest.mark.scale
def test_the_result_is_written_as_json_and_markdown(result: Result, tmp_path: Path) -> None:
    data, text = written_twice(lambda results, docs: write_results(result, results, docs), tmp_path)
    assert data["ingest"]["candle_rows"] == result.ingest.candle_rows and set(data["ratios"]) == set(result.ratios())
    assert text.count("<!-- end_to_end_tiny: end -->") == 1 and "kept" in text
    assert "written by python -m bench.end_to_end --size tiny" in text
    assert all(f"| {name} |" in text for name in STAGES)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"symbols": 0}, "symbols=0: must be at least 1"),
        ({"days": 7, "compare_days": (1, 2)}, "compare_days=(1, 2): must be two distinct lengths, one of them days=7"),
        ({"days": 1, "compare_days": (1, 1)}, "must be two distinct lengths"),
        ({"increments": 0}, "increments=0: must be at least 1"),
        ({"days": 1, "compare_days": (1, 2), "portfolio_hours": 25}, "portfolio_hours=25: must be between 1 and the history's 24 hours"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config(**settings)


def test_only_the_named_sizes_exist() -> None:
    assert (Config.of_size("M").symbols, Config.of_size("M").days) == (500, 30)
    with pytest.raises(ConfigError, match=re.escape("size='L': must be one of S, M")):
        Config.of_size("L")
