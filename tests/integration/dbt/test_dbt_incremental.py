"""Windowed builds: consecutive windows produce exactly the tables a full refresh produces, and
an hourly increment reads the same number of rows whatever the history length.

The windows are those Dagster would pass for partition ranges of different lengths; their
boundaries fall inside the flat stretch, the gap, the indicators' warm-ups (of every contract,
and again of the late listing), 4-hour blocks and days.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.integration.dbt import synthetic
from tests.integration.dbt.dbt_cli import BUILD_MODELS, Dbt, assert_same_tables, fetch, query_reads, window
from tests.integration.dbt.synthetic import BOUNDARIES, hour

# the models that carry rows or state from one run to the next
CARRYING = (
    "int_returns_1h", "int_indicators_1h_moving_averages", "int_indicators_1h_macd", "int_indicators_1h_momentum",
    "int_indicators_1h_directional_movement", "int_indicators_1h_volatility", "int_indicators_1h_volume",
)
# int_liquidity_1h carries rows too, but it reads int_returns_1h, which a refused window stops
# first: test_dbt_liquidity.py tests its own refusal
WINDOWED_INTERMEDIATE = ("int_candles_5m", "int_candles_15m", "int_candles_1h", "int_candles_4h", "int_candles_1d", *CARRYING, "int_liquidity_1h")
WINDOWED = {
    **{f"intermediate.{model}": "symbol, bucket_start" for model in WINDOWED_INTERMEDIATE},
    "intermediate.int_return_comoments_1d": "symbol_a, symbol_b, bucket_start",
    "intermediate.int_return_correlations_30d": "symbol_a, symbol_b, as_of",
    "intermediate.int_market_regime_1h": "bucket_start",
    "intermediate.int_correlation_clusters_1d": "as_of, symbol",
    "intermediate.int_score_components_1h": "symbol, bucket_start",
    "marts.fct_symbol_scores": "symbol, score_time, algorithm_version",
    "intermediate.int_forward_returns_1h": "symbol, score_time, horizon_hours",
    "marts.fct_scoring_performance": "algorithm_version, horizon_hours, score_time",
    "marts.fct_decisions": "decision_id",
    "marts.fct_portfolio_history": "algorithm_version, as_of, symbol",
    "marts.fct_portfolio_sector_exposure": "algorithm_version, as_of, sector",
    "marts.fct_data_quality": "symbol, day",
}
def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    return {table: fetch(url, f"select * from {table} order by {key}") for table, key in WINDOWED.items()}




@pytest.fixture(scope="module")
def url(database_url: str) -> str:
    synthetic.populate(database_url)
    return database_url


def test_consecutive_windows_equal_a_full_refresh(url: str, dbt_work_dir: Path) -> None:
    dbt = Dbt(url, dbt_work_dir)  # one saved parse for the module
    for start, end in zip(BOUNDARIES, BOUNDARIES[1:]):
        # once with the (window-scoped) data tests, without them elsewhere to keep this quick
        dbt.run(*(("build",) if start == 33 else BUILD_MODELS), dbt_vars=window(hour(start), hour(end)))
        built_to = fetch(url, "select max(bucket_start) from intermediate.int_candles_1h")[0][0]
        assert built_to == hour(end - 1), (start, end)  # nothing beyond the window was built
        for model in WINDOWED_INTERMEDIATE:
            assert fetch(url, f"select max(bucket_start) < %s from intermediate.{model}", (hour(end),))[0][0], model
    incremental = snapshot(url)
    assert all(incremental.values())

    # rebuilding an earlier window again changes nothing (same state carried in, same rows out)
    dbt.run(*BUILD_MODELS, dbt_vars=window(hour(8), hour(33)))
    assert_same_tables(snapshot(url), incremental)

    dbt.run(*BUILD_MODELS, "--full-refresh")
    assert_same_tables(snapshot(url), incremental)




def window_reads(url: str, dbt: Dbt, start: datetime) -> dict[str, dict[str, int]]:
    """Rows read, per relation, by the SQL of each windowed intermediate model as an incremental
    run for the hour `start` compiles it (EXPLAIN ANALYZE, nothing written)."""
    dbt.run("compile", "--select", *WINDOWED_INTERMEDIATE, dbt_vars=window(start, start + timedelta(hours=1)))
    compiled = dbt.work_dir / "target" / "compiled" / "zmart" / "models" / "intermediate"
    reads = {}
    for model in WINDOWED_INTERMEDIATE:
        sql = (compiled / f"{model}.sql").read_text()
        assert "carried_state" in sql or model.startswith("int_candles"), model  # the incremental variant
        reads[model] = query_reads(url, sql)
    return reads




def test_an_hourly_increment_reads_the_same_rows_whatever_the_history_length(url: str, dbt_work_dir: Path) -> None:
    """The same hour window reads exactly as many rows with 70 hours of history as with 60 (the
    first 10 hours removed): per contract the window's rows, index probes and the model's
    longest lookback of stored rows (at most 50 bars), never the history."""
    dbt = Dbt(url, dbt_work_dir)
    dbt.run(*BUILD_MODELS, "--full-refresh")
    with_history = window_reads(url, dbt, hour(70))
    with psycopg.connect(url) as conn:
        for model in ("int_candles_1h", *CARRYING):
            conn.execute(f"delete from intermediate.{model} where bucket_start < %s", (hour(10),))
    shorter_history = window_reads(url, dbt, hour(70))
    for model in WINDOWED_INTERMEDIATE:
        assert with_history[model] == shorter_history[model], (model, with_history[model], shorter_history[model])
    contracts = fetch(url, "select count(distinct symbol) from intermediate.int_candles_1h where bucket_start = %s", (hour(70),))[0][0]
    for model in CARRYING:  # the hour's bar and three one-row index probes per contract
        assert with_history[model]["intermediate.int_candles_1h"] <= contracts * 4, (model, with_history[model])
    print(json.dumps(with_history, indent=1))


def test_a_window_whose_predecessor_was_never_built_is_refused(url: str, dbt_work_dir: Path) -> None:
    dbt = Dbt(url, dbt_work_dir)
    dbt.run(*BUILD_MODELS, "--full-refresh")
    for model in CARRYING:
        assert fetch(url, f"delete from intermediate.{model} where bucket_start >= %s returning 1", (hour(60),))
    result = dbt.run("run", "--select", *CARRYING, dbt_vars=window(hour(65), hour(66)), check=False)
    assert result.returncode != 0
    for model in CARRYING:
        assert f"{model}: " in result.stdout and "build the earlier windows first" in result.stdout, model
