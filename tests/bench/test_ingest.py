"""The ingest benchmark at a tiny size (3 symbols x 1 day), on the session's real PostgreSQL
cluster with the simulator and ccxt for real: its result must describe what it loaded.

The stored candles are checked against the simulator's own market model, the COPY baseline must
hold exactly the ingested rows, and each step must have been timed as often as the ingest calls
it (one batch, 8 kline pages per symbol). A `scale` test, outside the default suite:
``pytest -m scale tests/bench``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.ingest import LOADER_STEPS, Config, ConfigError, Result, run, write_results
from bench.workload import SimulatedMarket
from orchestration.embedded_postgres import EmbeddedPostgres
from tests.bench.written import written_twice

CONFIG = Config(symbols=3, days=1)
PAGES = -(-24 * 60 // 200)  # kline requests per symbol and day, pages of 200 candles
COLUMNS = "symbol, (extract(epoch from open_time) * 1000)::bigint, open, high, low, close, volume"


@pytest.fixture(scope="module")
def result(pg_cluster: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Result:
    return run(CONFIG, pg_cluster, tmp_path_factory.mktemp("bench"))


def fetch(cluster: EmbeddedPostgres, result: Result, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(cluster.url(result.database)) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


@pytest.mark.scale
def test_the_ingested_candles_are_the_simulators_and_the_copy_holds_the_same_rows(result: Result, pg_cluster: EmbeddedPostgres) -> None:
    stored = fetch(pg_cluster, result, f"select {COLUMNS} from raw.candles_1m order by symbol, open_time")
    market = SimulatedMarket(CONFIG.seed, CONFIG.contracts)
    served = [
        (symbol, ms, o, h, lo, c, v)
        for symbol in sorted(result.symbols)
        for ms, o, h, lo, c, v in zip(*(getattr(market.served_candles(symbol, CONFIG.start, CONFIG.end), k).tolist()
                                        for k in ("open_ms", "open", "high", "low", "close", "volume")), strict=True)
    ]
    assert stored == served and len(stored) == result.rows == CONFIG.symbols * CONFIG.days * 1440
    copied = fetch(pg_cluster, result, f"select {COLUMNS} from bench_copy.candles_1m order by symbol, open_time")
    assert copied == stored and result.copy_rows == len(stored)
    ledger = fetch(pg_cluster, result, "select status, rows_in, rows_inserted, rows_unchanged from raw.load_batches where asset = 'kucoin_candles_1m'")
    assert ledger == [("succeeded", result.rows, result.rows, 0)]


@pytest.mark.scale
def test_every_step_is_timed_as_often_as_the_ingest_runs_it(result: Result) -> None:
    s, pages = result.steps, CONFIG.symbols * PAGES
    assert result.batches == s["fetch"].calls == s["loader"].calls == 1
    assert s["JSON decode"].calls == pages  # one per kline page: no load_markets in a candle load
    assert s["validation"].calls == 2 * CONFIG.symbols  # validate_candles and unserved_minutes
    assert s["probe for stored keys"].calls == s["COPY straight into the table"].calls == 1 and "stage COPY (a key was stored)" not in s  # a fresh database
    assert sum(s[name].wall_seconds for name in LOADER_STEPS if name in s) <= s["loader"].wall_seconds
    assert s["JSON decode"].wall_seconds < s["fetch"].wall_seconds < result.ingest.wall_seconds
    assert result.ingest.process_cpu_seconds > 0 and result.ingest.server_cpu_seconds > 0 and result.ingest.simulator_cpu_seconds > 0
    assert result.copy.server_cpu_seconds > 0 and result.copy.simulator_cpu_seconds == 0
    assert all(math.isfinite(v) and v > 0 for v in result.ratios().values())


@pytest.mark.scale
def test_the_result_is_written_as_json_and_markdown(result: Result, tmp_path: Path) -> None:
    data, text = written_twice(lambda results, docs: write_results(result, results, docs), tmp_path)
    assert data["rows"] == result.rows and set(data["ratios"]) == set(result.ratios())
    assert set(data["step_rows"]) == {name for name, _ in result.step_rows()}
    assert text.count("<!-- ingest: end -->") == 1 and "kept" in text
    assert all(f"| {name} |" in text for name, _ in result.step_rows())


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"symbols": 0}, "symbols=0: must be at least 1"), ({"days": 0}, "days=0: must be at least 1")],
)
def test_bad_settings_are_refused_naming_the_setting(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config(**settings)
