"""Windowed builds: consecutive windows produce exactly the tables a full refresh produces.

The windows are those Dagster would pass for partition ranges of different lengths; their
boundaries fall inside the flat stretch, the gap and the warm-up of the late listing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.dbt import synthetic
from tests.integration.dbt.dbt_cli import Dbt, fetch, window

WINDOWED = {
    "intermediate.int_candles_1h": "symbol, bucket_start",
    "intermediate.int_indicators_1h": "symbol, bucket_start",
    "marts.fct_symbol_scores": "symbol, score_time, algorithm_version",
    "marts.fct_decisions": "decision_id",
}
# hour offsets from synthetic.START: a 7-hour first build, a single hour, a day across the start
# of the flat stretch and of the late listing, a window ending inside SOLUSDTM's gap (hours
# 40..42) and one starting inside it and running past the delisting to the end.
BOUNDARIES = (0, 7, 8, 33, 41, synthetic.HOURS)
# what Dagster runs, minus the data tests where they are not the point (each costs seconds)
BUILD_MODELS = ("build", "--exclude-resource-type", "test")


def hour(offset: int) -> datetime:
    return synthetic.START + timedelta(hours=offset)


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    return {table: fetch(url, f"select * from {table} order by {key}") for table, key in WINDOWED.items()}


def assert_same_tables(actual: dict[str, list[tuple[object, ...]]], expected: dict[str, list[tuple[object, ...]]]) -> None:
    for table, rows in expected.items():
        assert len(actual[table]) == len(rows), table
        for got, want in zip(actual[table], rows, strict=True):
            assert got == want, f"{table}: {got} != {want}"


@pytest.fixture(scope="module")
def url(database_url: str) -> str:
    synthetic.populate(database_url)
    return database_url


def test_consecutive_windows_equal_a_full_refresh(url: str, tmp_path: Path) -> None:
    dbt = Dbt(url, tmp_path)
    for start, end in zip(BOUNDARIES, BOUNDARIES[1:]):
        # once with the (window-scoped) data tests, without them elsewhere to keep this quick
        dbt.run(*(("build",) if start == 33 else BUILD_MODELS), dbt_vars=window(hour(start), hour(end)))
        built_to = fetch(url, "select max(bucket_start) from intermediate.int_candles_1h")[0][0]
        assert built_to == hour(end - 1), (start, end)  # nothing beyond the window was built
    incremental = snapshot(url)
    assert all(incremental.values())

    # rebuilding an earlier window again changes nothing (same state carried in, same rows out)
    dbt.run(*BUILD_MODELS, dbt_vars=window(hour(8), hour(33)))
    assert_same_tables(snapshot(url), incremental)

    dbt.run(*BUILD_MODELS, "--full-refresh")
    assert_same_tables(snapshot(url), incremental)


def test_a_window_whose_predecessor_was_never_built_is_refused(url: str, tmp_path: Path) -> None:
    dbt = Dbt(url, tmp_path)
    dbt.run(*BUILD_MODELS, "--full-refresh", "--select", "+int_indicators_1h")
    with_gap = fetch(url, "delete from intermediate.int_indicators_1h where bucket_start >= %s returning 1", (hour(60),))
    assert with_gap
    result = dbt.run("run", "--select", "int_indicators_1h", dbt_vars=window(hour(65), hour(66)), check=False)
    assert result.returncode != 0
    assert "build the earlier windows first" in result.stdout
