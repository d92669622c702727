"""The window is validated before any model runs: a malformed value fails naming the
environment variable it came from (ZMART_DBT_WINDOW_*, as Dagster passes it) or the var (by hand)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.dbt import indicator_reference
from tests.integration.dbt.dbt_cli import Dbt, fetch

GOOD_START = "2026-11-01T00:00:00+00:00"
GOOD_END = "2026-11-01T05:00:00+00:00"
ENV_LABELS = {"start": "env var ZMART_DBT_WINDOW_START", "end": "env var ZMART_DBT_WINDOW_END"}
VAR_LABELS = {"start": "var window_start", "end": "var window_end"}
MALFORMED = {
    "not-a-timestamp": ({"window_start": "yesterday", "window_end": GOOD_END}, "{start}='yesterday' is malformed"),
    "no-such-day": ({"window_start": GOOD_START, "window_end": "2026-11-31T00:00:00+00:00"}, "{end}='2026-11-31T00:00:00+00:00' is not a valid date-time"),
    "no-offset": ({"window_start": "2026-11-01T00:00:00", "window_end": GOOD_END}, "{start}='2026-11-01T00:00:00' is malformed"),
    "not-whole-hour": ({"window_start": "2026-11-01T00:30:00+00:00"}, "{start}='2026-11-01T00:30:00+00:00' is not on a whole UTC hour"),
    "reversed": ({"window_start": GOOD_END, "window_end": GOOD_START}, "{start}=2026-11-01T05:00:00+00:00 must be before {end}"),
}


def assert_refused(database_url: str, result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
    # refused before anything was built
    assert fetch(database_url, "select to_regclass('intermediate.int_candles_1h')")[0][0] is None


# The environment-path tests first: they share the module's saved parse, which a --vars run replaces.
@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_window_fails_naming_the_environment_variable(database_url: str, dbt_work_dir: Path, case: str) -> None:
    window, message = MALFORMED[case]
    result = Dbt(database_url, dbt_work_dir).run("build", "--select", "int_candles_1h", dbt_vars=window, check=False)
    assert_refused(database_url, result, message.format(**ENV_LABELS))


def compiled_5m(dbt: Dbt, *args: str, window: dict[str, str]) -> dict[str, str]:
    """`dbt compile` of int_candles_5m and its data tests: compiled SQL by file name."""
    shutil.rmtree(dbt.work_dir / "target" / "compiled", ignore_errors=True)
    dbt.run("compile", "--select", "int_candles_5m", *args, dbt_vars=window)
    return {path.name: path.read_text() for path in (dbt.work_dir / "target" / "compiled").rglob("*.sql")}


def test_a_window_with_another_offset_is_read_as_the_same_utc_hours(database_url: str, dbt_work_dir: Path) -> None:
    compiled = compiled_5m(Dbt(database_url, dbt_work_dir), window={"window_start": "2026-11-01T02:00:00+02:00", "window_end": "2026-11-01T05:00:00Z"})
    model = compiled["int_candles_5m.sql"]
    assert "'2026-11-01 05:00:00+00'::timestamptz" in model
    # the table does not exist yet, so the first build runs from the start of history to window_end
    assert "open_time >= '-infinity'::timestamptz and open_time < '2026-11-01 05:00:00+00'::timestamptz" in model
    # a data test's where gets the window at execution (macros/where_subquery.sql)
    assert any("bucket_start >= '2026-11-01 00:00:00+00'::timestamptz and bucket_start < '2026-11-01 05:00:00+00'::timestamptz" in sql for sql in compiled.values())


@pytest.mark.parametrize("case", ["not-a-timestamp", "reversed"])
def test_a_malformed_window_in_vars_fails_naming_the_var(database_url: str, dbt_work_dir: Path, case: str) -> None:
    window, message = MALFORMED[case]
    result = Dbt(database_url, dbt_work_dir).run("build", "--select", "int_candles_1h", "--vars", json.dumps(window), check=False)
    assert_refused(database_url, result, message.format(**VAR_LABELS))


def test_the_vars_win_over_the_environment_as_a_whole(database_url: str, dbt_work_dir: Path) -> None:
    # the environment says [00:00, 05:00), the command line only window_end=03:00: the window is
    # the vars' alone, [-infinity, 03:00), never half from each
    by_hand = json.dumps({"window_end": "2026-11-01T03:00:00+00:00"})
    compiled = compiled_5m(Dbt(database_url, dbt_work_dir), "--vars", by_hand, window={"window_start": GOOD_START, "window_end": GOOD_END})
    assert any("bucket_start >= '-infinity'::timestamptz and bucket_start < '2026-11-01 03:00:00+00'::timestamptz" in sql for sql in compiled.values())
    assert not any("2026-11-01 00:00:00+00" in sql or "2026-11-01 05:00:00+00" in sql for sql in compiled.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rsi_period": 0}, "var indicators.rsi_period=0 is malformed"),
        ({"sma_periods": [20, "50"]}, "var indicators.sma_periods=50 is malformed"),
        ({"macd": {"fast_period": 26, "slow_period": 12, "signal_period": 9}}, "fast_period=26 must be below slow_period=12"),
        ({"sma_periods": [50]}, "fct_symbol_scores scores with sma_20 and rsi_14"),
        ({"bbands": {"period": 20, "nbdev": 0}}, "var indicators.bbands.nbdev=0 is malformed: expected a number of standard deviations > 0"),
    ],
    ids=["zero-period", "not-an-integer", "macd-fast-not-below-slow", "score-input-missing", "bbands-nbdev-zero"],
)
def test_malformed_indicator_parameters_fail_naming_the_var(
    database_url: str, dbt_work_dir: Path, change: dict[str, object], message: str
) -> None:
    indicators = {**indicator_reference.project_parameters(), **change}
    result = Dbt(database_url, dbt_work_dir).run("build", "--select", "int_candles_1h", dbt_vars={"indicators": indicators}, check=False)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
    assert fetch(database_url, "select to_regclass('intermediate.int_candles_1h')")[0][0] is None
