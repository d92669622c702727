"""The window vars are validated before any SQL runs: a malformed value fails naming the var."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.dbt import indicator_reference
from tests.integration.dbt.dbt_cli import Dbt, fetch

GOOD_START = "2026-11-01T00:00:00+00:00"
GOOD_END = "2026-11-01T05:00:00+00:00"


@pytest.mark.parametrize(
    ("dbt_vars", "message"),
    [
        ({"window_start": "yesterday", "window_end": GOOD_END}, "var window_start='yesterday' is malformed"),
        ({"window_start": GOOD_START, "window_end": "2026-11-31T00:00:00+00:00"}, "var window_end='2026-11-31T00:00:00+00:00' is not a valid date-time"),
        ({"window_start": "2026-11-01T00:00:00", "window_end": GOOD_END}, "var window_start='2026-11-01T00:00:00' is malformed"),
        ({"window_start": "2026-11-01T00:30:00+00:00"}, "var window_start='2026-11-01T00:30:00+00:00' is not on a whole UTC hour"),
        ({"window_start": GOOD_END, "window_end": GOOD_START}, "var window_start=2026-11-01T05:00:00+00:00 must be before var window_end"),
    ],
    ids=["not-a-timestamp", "no-such-day", "no-offset", "not-whole-hour", "reversed"],
)
def test_a_malformed_window_fails_naming_the_var(database_url: str, tmp_path: Path, dbt_vars: dict[str, str], message: str) -> None:
    result = Dbt(database_url, tmp_path).run("build", "--select", "int_candles_1h", dbt_vars=dbt_vars, check=False)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
    # refused before anything was built
    assert fetch(database_url, "select to_regclass('intermediate.int_candles_1h')")[0][0] is None


def test_a_window_with_another_offset_is_read_as_the_same_utc_hours(database_url: str, tmp_path: Path) -> None:
    dbt = Dbt(database_url, tmp_path)
    dbt.run("compile", "--select", "int_candles_5m", dbt_vars={"window_start": "2026-11-01T02:00:00+02:00", "window_end": "2026-11-01T05:00:00Z"})
    compiled = next((tmp_path / "target" / "compiled").rglob("int_candles_5m.sql")).read_text()
    assert "'2026-11-01 05:00:00+00'::timestamptz" in compiled
    # the table does not exist yet, so the first build runs from the start of history to window_end
    assert "open_time >= '-infinity'::timestamptz and open_time < '2026-11-01 05:00:00+00'::timestamptz" in compiled


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rsi_period": 0}, "var indicators.rsi_period=0 is malformed"),
        ({"sma_periods": [20, "50"]}, "var indicators.sma_periods=50 is malformed"),
        ({"macd": {"fast_period": 26, "slow_period": 12, "signal_period": 9}}, "fast_period=26 must be below slow_period=12"),
        ({"sma_periods": [50]}, "fct_symbol_scores scores with sma_20 and rsi_14"),
    ],
    ids=["zero-period", "not-an-integer", "macd-fast-not-below-slow", "score-input-missing"],
)
def test_malformed_indicator_parameters_fail_naming_the_var(
    database_url: str, tmp_path: Path, change: dict[str, object], message: str
) -> None:
    indicators = {**indicator_reference.project_parameters(), **change}
    result = Dbt(database_url, tmp_path).run("build", "--select", "int_candles_1h", dbt_vars={"indicators": indicators}, check=False)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
    assert fetch(database_url, "select to_regclass('intermediate.int_candles_1h')")[0][0] is None
