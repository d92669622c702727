"""Rolling return correlations (int_return_comoments_1d, int_return_correlations_30d) against
pandas on the synthetic data: 13 contracts over 3 days with a gap, a late listing whose first 16
hours are flat, a delisting and a flat stretch.

The reference is computed here from int_returns_1h: the 1-hour returns (previous bar exactly one
hour earlier), pivoted to a column per contract; per as_of day, pandas DataFrame.corr(min_periods)
of the rows of the window, and the pairwise-complete counts. The comoments' cumulative sums are
compared exactly with Decimal sums of the returns as PostgreSQL casts them to numeric.

Three days cannot fill the default 30-day window and 168 observations, so the tests set the var
`correlations` to short windows that produce every case: windows of one and two days, pairs with
fewer common returns than the minimum, a contract without variance over enough observations, and
defined correlations.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.integration.dbt import synthetic
from tests.integration.dbt.conftest import BuiltDatabase
from tests.integration.dbt.dbt_cli import Dbt, fetch, frame, query_reads, window
from tests.integration.dbt.synthetic import hour

MODELS = ("int_return_comoments_1d", "int_return_correlations_30d")
SUMS = ("sum_a", "sum_b", "sum_aa", "sum_bb", "sum_ab")
# two days and 12 observations: the first as_of's window holds one day, DOTUSDTM (delisted at hour 48)
# and NEWUSDTM (listed at hour 36) share 11 hours, under the minimum
TWO_DAYS = {"window_days": 2, "min_observations": 12}
# one day and 8 observations: NEWUSDTM's 11 returns of its first day are all 0 (no variance)
ONE_DAY = {"window_days": 1, "min_observations": 8}
DAY = pd.Timedelta(days=1)


def dbt_vars(correlations: dict[str, int], start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
    return {"correlations": correlations, **(window(start, end) if start and end else {})}


@pytest.fixture(scope="module")
def url(synthetic_built: BuiltDatabase[synthetic.Synthetic]) -> str:
    # synthetic.populate + `dbt build`, once per session (conftest.py); every test here rebuilds
    # the correlation models with --full-refresh before it reads them
    return synthetic_built.clone()[0]


def hourly_returns(url: str, before: datetime | None = None) -> pd.DataFrame:
    """The 1-hour returns of int_returns_1h (bars whose previous bar is one hour earlier), one
    column per contract, one row per hour; before `before` only when given."""
    rows = frame(url, "select symbol, bucket_start, log_return_1, hours_since_previous_bar from intermediate.int_returns_1h")
    rows = rows.loc[(rows["hours_since_previous_bar"] == 1) & rows["log_return_1"].notna()]
    if before is not None:
        rows = rows.loc[rows["bucket_start"] < before]
    return rows.pivot(index="bucket_start", columns="symbol", values="log_return_1").astype(float).sort_index()


def pairs(returns: pd.DataFrame) -> list[tuple[str, str]]:
    symbols = sorted(returns.columns)
    return [(a, b) for i, a in enumerate(symbols) for b in symbols[i + 1 :]]


def days_with_pairs(returns: pd.DataFrame) -> list[pd.Timestamp]:
    """The UTC days with an hour in which two contracts have a return (the days with comoment rows)."""
    return sorted({t.floor("1D") for t in returns.index[returns.notna().sum(axis=1) >= 2]})


def expected_correlations(returns: pd.DataFrame, window_days: int, min_observations: int) -> pd.DataFrame:
    """Per as_of day and pair with a common return in the window: pandas' count and correlation."""
    rows = []
    for day in days_with_pairs(returns):
        as_of = day + DAY
        frame_ = returns.loc[(returns.index >= as_of - window_days * DAY) & (returns.index < as_of)]
        correlation = frame_.corr(method="pearson", min_periods=min_observations)
        present = frame_.notna().astype(int)
        counts = present.T @ present
        rows += [
            (as_of, a, b, int(counts.loc[a, b]), correlation.loc[a, b]) for a, b in pairs(returns) if counts.loc[a, b] > 0
        ]
    return pd.DataFrame(rows, columns=["as_of", "symbol_a", "symbol_b", "n_observations", "correlation"])


def as_numeric(value: float) -> Decimal:
    """A double as PostgreSQL casts it to numeric (15 significant digits)."""
    return Decimal(f"{value:.15g}")


def expected_comoments(returns: pd.DataFrame) -> pd.DataFrame:
    """Per day and pair with a common return: the day's count and the exact cumulative sums."""
    rows = []
    with localcontext() as exact:
        exact.prec = 200  # far more digits than any sum holds: every addition below is exact
        for a, b in pairs(returns):
            both = returns[[a, b]].dropna()
            cumulative = dict.fromkeys(("n", *SUMS), Decimal(0))
            for day, hours in both.groupby(both.index.floor("1D")):
                ra, rb = [as_numeric(v) for v in hours[a]], [as_numeric(v) for v in hours[b]]
                day_sums = {
                    "n": Decimal(len(ra)), "sum_a": sum(ra, Decimal(0)), "sum_b": sum(rb, Decimal(0)),
                    "sum_aa": sum((x * x for x in ra), Decimal(0)), "sum_bb": sum((y * y for y in rb), Decimal(0)),
                    "sum_ab": sum((x * y for x, y in zip(ra, rb, strict=True)), Decimal(0)),
                }
                cumulative = {k: cumulative[k] + day_sums[k] for k in cumulative}
                rows.append({"bucket_start": day, "symbol_a": a, "symbol_b": b, "n": len(ra), **{f"cum_{k}": v for k, v in cumulative.items()}})
    return pd.DataFrame(rows).sort_values(["bucket_start", "symbol_a", "symbol_b"], ignore_index=True)


def assert_comoments_exact(url: str, returns: pd.DataFrame) -> None:
    expected = expected_comoments(returns)
    actual = frame(url, "select * from intermediate.int_return_comoments_1d order by bucket_start, symbol_a, symbol_b")
    assert actual[["bucket_start", "symbol_a", "symbol_b", "n"]].equals(expected[["bucket_start", "symbol_a", "symbol_b", "n"]])
    assert actual["cum_n"].tolist() == [int(v) for v in expected["cum_n"]]
    for column in SUMS:  # numeric: equal to the last digit
        assert actual[f"cum_{column}"].tolist() == expected[f"cum_{column}"].tolist(), column


def assert_correlations_match(url: str, returns: pd.DataFrame, correlations: dict[str, int]) -> pd.DataFrame:
    """The model's rows are exactly pandas' pairs with a common return; counts equal, correlations
    to 1e-9 relative, null exactly where pandas gives NaN. Returns the compared rows."""
    expected = expected_correlations(returns, correlations["window_days"], correlations["min_observations"])
    actual = frame(url, "select * from intermediate.int_return_correlations_30d")
    merged = expected.merge(actual, on=["as_of", "symbol_a", "symbol_b"], how="outer", suffixes=("", "_sql"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both"].head()
    assert (merged["n_observations"] == merged["n_observations_sql"]).all()
    sql_correlation = merged["correlation_sql"].astype(float)
    assert (merged["correlation"].isna() == sql_correlation.isna()).all(), merged.loc[merged["correlation"].isna() != sql_correlation.isna()]
    defined = merged["correlation"].notna()
    np.testing.assert_allclose(sql_correlation[defined], merged.loc[defined, "correlation"], rtol=1e-9, atol=0)
    return merged


def cases(compared: pd.DataFrame, min_observations: int) -> dict[str, int]:
    """How many rows are defined, null below the minimum, and null with enough observations (a
    contract without variance)."""
    enough = compared["n_observations"] >= min_observations
    return {
        "defined": int(compared["correlation"].notna().sum()),
        "below_minimum": int((~enough).sum()),
        "zero_variance": int((enough & compared["correlation"].isna()).sum()),
    }


@pytest.mark.parametrize("correlations", [TWO_DAYS, ONE_DAY], ids=["two_days", "one_day"])
def test_a_full_refresh_matches_pandas(url: str, tmp_path: Path, correlations: dict[str, int]) -> None:
    Dbt(url, tmp_path).run("build", "--full-refresh", "--select", *MODELS, dbt_vars=dbt_vars(correlations))
    returns = hourly_returns(url)
    assert_comoments_exact(url, returns)
    compared = assert_correlations_match(url, returns, correlations)
    found = cases(compared, correlations["min_observations"])
    assert found["defined"] > 100 and found["below_minimum"] > 0, found
    if correlations == ONE_DAY:
        assert found["zero_variance"] > 0, found
        flat = compared.loc[compared["correlation"].isna() & (compared["n_observations"] >= 8)]
        assert set(flat["symbol_a"]) | set(flat["symbol_b"]) >= {"NEWUSDTM"}
    # DOTUSDTM trades until hour 48: its pairs continue while it is in the window, then stop
    dot = compared.loc[(compared["symbol_a"] == "DOTUSDTM") | (compared["symbol_b"] == "DOTUSDTM"), "as_of"]
    assert dot.max() == hour(72 if correlations == TWO_DAYS else 48)
    assert fetch(url, "select bool_and(is_complete) from intermediate.int_return_correlations_30d")[0][0]


# hour offsets from synthetic.START: a first build of 8 hours, a window over a day boundary ending
# one hour before the end of day 1 (inside NEWUSDTM's flat start, after SOLUSDTM's gap), a single
# hour that ends the day, then day 2 (past DOTUSDTM's delisting)
BOUNDARIES = (0, 8, 47, 48, synthetic.HOURS)


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    return {
        model: fetch(url, f"select * from intermediate.{model} order by symbol_a, symbol_b, {'as_of' if 'correlations' in model else 'bucket_start'}")
        for model in MODELS
    }


def test_consecutive_windows_match_pandas_and_a_full_refresh(url: str, tmp_path: Path) -> None:
    """Each hourly/daily window leaves the tables equal to pandas on the returns built so far (the
    current day partial), and the sequence ends exactly where a full refresh does."""
    dbt = Dbt(url, tmp_path)
    chain = ("--select", f"+{MODELS[1]}", "--exclude-resource-type", "test")
    for start, end in zip(BOUNDARIES, BOUNDARIES[1:]):
        first = ("--full-refresh",) if start == 0 else ()
        dbt.run("build", *first, *chain, dbt_vars=dbt_vars(TWO_DAYS, hour(start), hour(end)))
        returns = hourly_returns(url, before=hour(end))
        assert returns.index.max() == hour(end - 1)
        assert_comoments_exact(url, returns)
        assert_correlations_match(url, returns, TWO_DAYS)
        # the day of the window's last hour is complete only when the window reaches its end
        flags = dict(fetch(url, "select as_of, bool_and(is_complete) from intermediate.int_return_correlations_30d group by as_of"))
        last_as_of = max(flags)
        assert flags[last_as_of] == (last_as_of == hour(end)), (start, end, flags)
        assert all(flags[as_of] for as_of in flags if as_of != last_as_of)
    incremental = snapshot(url)
    dbt.run("build", "--full-refresh", *chain, dbt_vars=dbt_vars(TWO_DAYS))
    assert snapshot(url) == incremental


def test_malformed_parameters_are_refused(url: str, tmp_path: Path) -> None:
    dbt = Dbt(url, tmp_path)
    result = dbt.run("compile", "--select", MODELS[1], dbt_vars=dbt_vars({"window_days": 0, "min_observations": 12}), check=False)
    assert result.returncode != 0 and "var correlations.window_days=0 is malformed" in result.stdout
    result = dbt.run("compile", "--select", MODELS[1], dbt_vars=dbt_vars({"window_days": 1, "min_observations": 25}), check=False)
    assert result.returncode != 0 and "var correlations.min_observations=25 exceeds the 24 hours" in result.stdout


def window_reads(url: str, dbt: Dbt, start: datetime) -> dict[str, dict[str, int]]:
    """Rows read, per relation, by each model's SQL as an incremental run of the hour `start`
    compiles it, with the plans used at scale (index probes)."""
    dbt.run("compile", "--select", *MODELS, dbt_vars=dbt_vars(ONE_DAY, start, start + timedelta(hours=1)))
    compiled = dbt.work_dir / "target" / "compiled" / "zmart" / "models" / "intermediate"
    return {model: query_reads(url, (compiled / f"{model}.sql").read_text()) for model in MODELS}


def test_an_hourly_increment_reads_the_same_rows_whatever_the_history_length(url: str, tmp_path: Path) -> None:
    """An hour of day 2 reads the same rows with day 0's comoments as without them: the day's
    returns, per pair index probes and two comoment rows, never the history."""
    dbt = Dbt(url, tmp_path)
    dbt.run("run", "--full-refresh", "--select", *MODELS, dbt_vars=dbt_vars(ONE_DAY))
    with_history = window_reads(url, dbt, hour(70))
    # the comoments' history (the returns are read by their bucket_start range, the window's day)
    fetch(url, "delete from intermediate.int_return_comoments_1d where bucket_start < %s returning 1", (hour(24),))
    shorter_history = window_reads(url, dbt, hour(70))
    assert with_history == shorter_history
    pair_count = fetch(url, "select count(*) from intermediate.int_return_comoments_1d where bucket_start = %s", (hour(48),))[0][0]
    assert with_history[MODELS[1]]["intermediate.int_return_comoments_1d"] <= 8 * pair_count, with_history


def test_a_window_whose_previous_day_was_never_built_is_refused(url: str, tmp_path: Path) -> None:
    dbt = Dbt(url, tmp_path)
    dbt.run("run", "--full-refresh", "--select", *MODELS, dbt_vars=dbt_vars(TWO_DAYS))
    fetch(url, "delete from intermediate.int_return_comoments_1d where bucket_start >= %s returning 1", (hour(24),))
    result = dbt.run("run", "--select", MODELS[0], dbt_vars=dbt_vars(TWO_DAYS, hour(50), hour(51)), check=False)
    assert result.returncode != 0
    assert "int_return_comoments_1d: int_returns_1h has bars on the day before the window" in result.stdout


def test_a_pair_without_a_common_return_on_the_last_built_day_carries_its_earlier_sums(
    synthetic_built: BuiltDatabase[synthetic.Synthetic], tmp_path: Path,
) -> None:
    """A contract without returns on day 1 (halted), back on day 2: its pairs have no row on the
    last day built before an hour of day 2, so their sums continue from day 0's rows (the per-pair
    probes), not from zero."""
    url = synthetic_built.clone()[0]  # its own copy: int_returns_1h is changed below
    (halted,) = fetch(url, "select symbol from intermediate.int_returns_1h group by symbol order by count(*) desc, symbol limit 1")[0]
    fetch(
        url, "delete from intermediate.int_returns_1h where symbol = %s and bucket_start >= %s and bucket_start < %s returning 1",
        (halted, hour(24), hour(48)),
    )
    dbt = Dbt(url, tmp_path)
    dbt.run("run", "--full-refresh", "--select", MODELS[0], dbt_vars=dbt_vars(TWO_DAYS, hour(0), hour(48)))
    on_day = "select count(*) from intermediate.int_return_comoments_1d where bucket_start = %s and %s in (symbol_a, symbol_b)"
    assert fetch(url, on_day, (hour(24), halted))[0][0] == 0 < fetch(url, on_day, (hour(0), halted))[0][0]
    for start in (48, 49):
        dbt.run("run", "--select", MODELS[0], dbt_vars=dbt_vars(TWO_DAYS, hour(start), hour(start + 1)))
    assert fetch(url, on_day, (hour(48), halted))[0][0] > 0
    assert_comoments_exact(url, hourly_returns(url))  # day 2 rebuilt from all its hours in int_returns_1h
