"""Forward returns and scoring performance (int_forward_returns_1h, fct_scoring_performance,
fct_scoring_performance_summary) against alphalens-reloaded itself, on the synthetic market.

Two versions side by side, both seeded (seeds scoring_algorithms, _weights, _parameters) and
scored by fct_symbol_scores in the same build. Some v2 rows are then edited to reach the edge cases: a tie,
ties spanning whole quantiles (qcut's "Bin edges must be unique"), fewer eligible symbols than
quantiles and a single one. The synthetic data brings a gap (SOLUSDTM, no forward bar) and a
delisting (DOTUSDTM). The references are alphalens' functions on the same scores and on closes
taken from the raw minutes.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import alphalens as al
import numpy as np
import pandas as pd
import psycopg
import pytest
from scipy import stats

from tests.integration.dbt import synthetic
from tests.integration.dbt.conftest import BuiltDatabase
from tests.integration.dbt.dbt_cli import RTOL, Dbt, assert_same_tables, fetch, rows_read, window
from tests.integration.dbt.synthetic import hour

HORIZONS = (1, 4, 24)
QUANTILES = 5
MODELS = ("int_forward_returns_1h", "fct_scoring_performance")
TABLES = {
    "intermediate.int_forward_returns_1h": "symbol, score_time, horizon_hours",
    "marts.fct_scoring_performance": "algorithm_version, horizon_hours, score_time",
}


# score_times (hour offsets) of the edited v2 rows
TIE_TIME = hour(30)  # two symbols share a score, inside one quantile
SPANNING_TIES_TIME = hour(34)  # all but two symbols share a score: qcut's edges are not unique
FEW_TIME = hour(44)  # three eligible symbols, fewer than the quantiles
SINGLE_TIME = hour(46)  # one eligible symbol
GAP_TIME = hour(min(synthetic.GAP_HOURS["SOLUSDTM"]))  # SOLUSDTM's bar ending one hour later is missing


@dataclass(frozen=True)
class Built:
    url: str
    dbt: Dbt
    data: synthetic.Synthetic


def frame(url: str, query: str) -> pd.DataFrame:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query)  # type: ignore[arg-type]
        assert cur.description is not None
        result = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    # one time zone object for every timestamp (alphalens compares the factor's and the prices')
    for column in result.columns:
        if isinstance(result[column].dtype, pd.DatetimeTZDtype):
            result[column] = result[column].dt.tz_convert("UTC")
    return result


def edit_second_version(url: str) -> None:
    """Edit some of the v2 scores the project computed into the edge cases."""
    v2 = "from marts.fct_symbol_scores where algorithm_version = 'v2' and is_eligible and score_time = %s"
    ineligible = "is_eligible = false, composite_score = null, ranked_universe_size = null"
    with psycopg.connect(url) as conn:
        conn.execute(
            f"""update marts.fct_symbol_scores target set composite_score = source.composite_score
            from (select composite_score {v2} order by symbol limit 1) as source
            where target.algorithm_version = 'v2' and target.score_time = %s
              and target.symbol = (select symbol {v2} order by symbol offset 1 limit 1)""",
            (TIE_TIME, TIE_TIME, TIE_TIME),
        )
        conn.execute(
            f"update marts.fct_symbol_scores set composite_score = 0.5 where algorithm_version = 'v2' and score_time = %s "
            f"and symbol in (select symbol {v2} order by symbol offset 2)",
            (SPANNING_TIES_TIME, SPANNING_TIES_TIME),
        )
        for score_time, kept in ((FEW_TIME, 3), (SINGLE_TIME, 1)):
            conn.execute(
                f"update marts.fct_symbol_scores set {ineligible} where algorithm_version = 'v2' and score_time = %s "
                f"and symbol in (select symbol {v2} order by symbol offset %s)",
                (score_time, score_time, kept),
            )


@pytest.fixture(scope="module")
def built(synthetic_built: BuiltDatabase[synthetic.Synthetic], dbt_work_dir: Path) -> Iterator[Built]:
    url, data = synthetic_built.clone()  # synthetic.populate + `dbt build` (every seeded version), once per session (conftest.py)
    dbt = Dbt(url, dbt_work_dir)
    edit_second_version(url)
    # this module's mart again over the edited scores, with its data tests (not int_forward_returns_1h+:
    # the scores are downstream of it through the signals' reliability, and would be rebuilt over the edits)
    dbt.run("build", "--select", "fct_scoring_performance")
    yield Built(url, dbt, data)


def hourly_closes(data: synthetic.Synthetic) -> pd.DataFrame:
    """alphalens' prices: the close of each contract's last minute of every UTC hour, indexed by the
    end of the hour (the score_time convention) on the full 24/7 hourly grid, NaN without a bar."""
    minutes = data.candles.sort_values("open_time")
    closes = minutes.groupby(["symbol", minutes["open_time"].dt.floor("1h") + pd.Timedelta(hours=1)])["close"].last()
    grid = pd.date_range(synthetic.START + timedelta(hours=1), synthetic.END, freq="1h", name="date")
    return closes.unstack("symbol").reindex(grid)


def alphalens_forward_returns(prices: pd.DataFrame, index: pd.MultiIndex, horizon: int) -> tuple[pd.Series, pd.Series]:
    """compute_forward_returns for one horizon at `index` (date, asset): alphalens' own values,
    and the same with the returns that end at a missing bar set to NaN (alphalens forward-fills)."""
    factor = pd.Series(0.0, index=index)
    with warnings.catch_warnings():
        # pandas 3 deprecations inside alphalens, and its hourly-calendar notice
        warnings.simplefilter("ignore")
        returns = al.utils.compute_forward_returns(factor, prices, periods=(horizon,))
    own = returns.iloc[:, 0]
    end_exists = prices.shift(-horizon).stack().reindex(index).notna().to_numpy()
    return own, own.where(end_exists)


def scores(url: str) -> pd.DataFrame:
    return frame(url, "select algorithm_version, score_time, symbol, composite_score from marts.fct_symbol_scores where is_eligible")


def factor_series(scores_of_version: pd.DataFrame) -> pd.Series:
    factor = scores_of_version.set_index(["score_time", "symbol"])["composite_score"].astype(float).sort_index()
    factor.index = factor.index.set_names(["date", "asset"])
    return factor


def assert_same(actual: pd.Series, expected: pd.Series, name: str) -> None:
    """Same nulls, values equal to RTOL relative (and 1e-15 absolute: a correlation alphalens finds
    exactly 0 comes out of the SQL's sums with a rounding residue of about 1e-18)."""
    actual, expected = actual.astype(float), expected.reindex(actual.index).astype(float)
    assert (actual.isna() == expected.isna()).all(), (name, actual[actual.isna() != expected.isna()], expected[actual.isna() != expected.isna()])
    defined = actual.notna()
    np.testing.assert_allclose(actual[defined], expected[defined], rtol=RTOL, atol=1e-15, err_msg=name)


def test_forward_returns_equal_alphalens_except_at_missing_bars(built: Built) -> None:
    prices = hourly_closes(built.data)
    actual = frame(built.url, "select * from intermediate.int_forward_returns_1h order by symbol, score_time, horizon_hours")
    bars = prices.stack().dropna().index.rename(["date", "asset"])
    assert len(actual) == len(bars) * len(HORIZONS)
    assert (actual["horizon_end"] == actual["score_time"] + pd.to_timedelta(actual["horizon_hours"], unit="h")).all()
    for horizon in HORIZONS:
        rows = actual.loc[actual["horizon_hours"] == horizon].set_index(["score_time", "symbol"]).rename_axis(["date", "asset"])
        assert set(rows.index) == set(bars)
        own, expected = alphalens_forward_returns(prices, rows.index, horizon)
        assert_same(rows["close"], prices.stack().dropna().reindex(rows.index), f"close {horizon}h")
        assert_same(rows["forward_return"], expected, f"forward_return {horizon}h")
        # where alphalens forward-fills, the row is null: into the gap and past the delisting
        filled = rows.index[rows["forward_return"].isna().to_numpy() & own.notna().to_numpy()]
        assert ("SOLUSDTM" in filled.get_level_values("asset")) and ("DOTUSDTM" in filled.get_level_values("asset")), horizon
    gap = actual.set_index(["symbol", "score_time", "horizon_hours"])
    assert pd.isna(gap.loc[("SOLUSDTM", GAP_TIME, 1), "forward_return"])
    last_dot = hour(next(i.last_hour for i in synthetic.INSTRUMENTS if i.symbol == "DOTUSDTM"))
    assert gap.loc[("DOTUSDTM", last_dot - timedelta(hours=1), 1), "forward_return"] == pytest.approx(
        prices.loc[last_dot, "DOTUSDTM"] / prices.loc[last_dot - timedelta(hours=1), "DOTUSDTM"] - 1, rel=RTOL
    )
    assert pd.isna(gap.loc[("DOTUSDTM", last_dot, 1), "horizon_end_close"])


def expected_performance(factor: pd.Series, prices: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Every column of fct_scoring_performance for one version and horizon, from alphalens."""
    _, forward = alphalens_forward_returns(prices, factor.index, horizon)
    column = timedelta_label(horizon)
    factor_data = pd.DataFrame({column: forward, "factor": factor}).dropna()  # get_clean_factor's first step
    by_date = factor_data.groupby(level="date")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's constant-input warning for a single symbol
        rank_ic = al.performance.factor_information_coefficient(factor_data)[column]
        quantile = al.utils.quantize_factor(factor_data, quantiles=QUANTILES, no_raise=True)
    quantized = factor_data.join(quantile, how="inner")
    quantized["factor_quantile"] = quantized["factor_quantile"].astype(int)
    means, _ = al.performance.mean_return_by_quantile(quantized, by_date=True, demeaned=False)
    half_spread, _ = al.performance.compute_mean_returns_spread(means, QUANTILES, 1)
    expected = pd.DataFrame(
        {
            "eligible_count": factor.groupby(level="date").size(),
            "symbol_count": by_date.size(),
            "ic": by_date.apply(lambda rows: rows["factor"].corr(rows[column])),
            "rank_ic": rank_ic,
            "mean_forward_return": by_date[column].mean(),
            **{f"quantile_{k}_mean_return": means[column].xs(k, level="factor_quantile") for k in range(1, QUANTILES + 1) if k in means.index.get_level_values(0)},
            "quantile_spread": 2 * half_spread[column],
        }
    )
    autocorrelation, common = rank_autocorrelation(factor, horizon)
    expected["rank_autocorrelation"] = autocorrelation
    expected["autocorrelation_symbol_count"] = common
    return expected


def rank_autocorrelation(factor: pd.Series, horizon: int) -> tuple[pd.Series, pd.Series]:
    """factor_rank_autocorrelation(period=horizon) on all the eligible scores, on an hourly
    date index (so the period is hours), and how many symbols the two times share."""
    dates = factor.index.levels[0]
    assert (dates == pd.date_range(dates[0], dates[-1], freq="1h")).all()  # contiguous: shift by rows = by hours
    factor_data = pd.DataFrame({"factor": factor})
    factor_data.index = factor_data.index.set_levels(pd.DatetimeIndex(dates, freq="1h"), level="date")
    autocorrelation = al.performance.factor_rank_autocorrelation(factor_data, period=horizon)
    present = factor.notna().unstack("asset").reindex(dates).fillna(False).astype(bool)
    common = (present & present.shift(horizon, fill_value=False)).sum(axis=1)
    return autocorrelation, common


def timedelta_label(horizon: int) -> str:
    """The column alphalens names a horizon's forward returns by."""
    return al.utils.timedelta_to_string(pd.Timedelta(hours=horizon))


def test_performance_equals_alphalens_for_every_version_horizon_and_score_time(built: Built) -> None:
    prices = hourly_closes(built.data)
    all_scores = scores(built.url)
    actual = frame(built.url, "select * from marts.fct_scoring_performance order by algorithm_version, horizon_hours, score_time")
    assert set(actual["algorithm_version"]) == {"v1", "v2"}
    # input_batch_ids (lineage) is checked against the raw rows by test_dbt_lineage
    columns = [c for c in actual.columns if c not in ("algorithm_version", "horizon_hours", "score_time", "horizon_end", "input_batch_ids")]
    for (version, horizon), rows in actual.groupby(["algorithm_version", "horizon_hours"]):
        rows = rows.set_index("score_time").rename_axis("date")
        factor = factor_series(all_scores.loc[all_scores["algorithm_version"] == version])
        expected = expected_performance(factor, prices, int(horizon))
        assert list(rows.index) == sorted(set(factor.index.get_level_values("date")))
        for column in columns:
            if column.endswith("count"):
                assert rows[column].tolist() == expected[column].reindex(rows.index).fillna(0).astype(int).tolist(), (version, horizon, column)
            else:
                assert_same(rows[column], expected[column] if column in expected else pd.Series(np.nan, index=rows.index), f"{version} {horizon}h {column}")
        assert rows["ic"].notna().sum() > 20 and rows["quantile_spread"].notna().sum() > 20

    # the edge cases happened where they were put
    table = actual.set_index(["algorithm_version", "horizon_hours", "score_time"])
    v2 = all_scores.loc[all_scores["algorithm_version"] == "v2"]
    tie = v2.loc[v2["score_time"] == TIE_TIME, "composite_score"]
    assert tie.duplicated().sum() == 1 and pd.notna(table.loc[("v2", 1, TIE_TIME), "quantile_spread"])
    spanning = table.loc[("v2", 1, SPANNING_TIES_TIME)]
    assert pd.notna(spanning["ic"]) and all(pd.isna(spanning[f"quantile_{k}_mean_return"]) for k in range(1, QUANTILES + 1))
    spanning_data = factor_series(v2.loc[v2["score_time"] == SPANNING_TIES_TIME]).to_frame("factor")
    with pytest.raises(ValueError, match="Bin edges must be unique"):
        al.utils.quantize_factor(spanning_data, quantiles=QUANTILES)
    few = table.loc[("v2", 1, FEW_TIME)]
    assert few["symbol_count"] == 3 and [pd.notna(few[f"quantile_{k}_mean_return"]) for k in range(1, 6)] == [True, False, True, False, True]
    single = table.loc[("v2", 1, SINGLE_TIME)]
    assert single["symbol_count"] == 1 and pd.isna(single["ic"]) and pd.isna(single["quantile_spread"])
    gap = table.loc[("v1", 1, GAP_TIME)]
    assert gap["symbol_count"] == gap["eligible_count"] - 1  # SOLUSDTM's missing forward bar is excluded


def test_summary_equals_the_information_table_of_the_per_score_time_rows(built: Built) -> None:
    performance = frame(built.url, "select * from marts.fct_scoring_performance")
    summary = frame(built.url, "select * from marts.fct_scoring_performance_summary order by algorithm_version, horizon_hours")
    assert len(summary) == 2 * len(HORIZONS)
    for row in summary.itertuples(index=False):
        rows = performance.loc[(performance["algorithm_version"] == row.algorithm_version) & (performance["horizon_hours"] == row.horizon_hours)]
        ic = rows.dropna(subset=["ic"])
        assert (row.score_time_count, row.ic_count) == (len(rows), len(ic))
        assert (row.first_ic_score_time, row.last_ic_score_time) == (ic["score_time"].min(), ic["score_time"].max())
        for statistic in ("ic", "rank_ic"):
            values = ic[statistic].astype(float)
            t_stat = stats.ttest_1samp(values, 0.0).statistic  # alphalens' "t-stat(IC)"
            expected = {
                f"mean_{statistic}": values.mean(), f"{statistic}_std": values.std(), f"{statistic}_ir": values.mean() / values.std(),
                f"{statistic}_t_stat": t_stat, f"{statistic}_hit_rate": (values > 0).mean(),
            }
            for name, value in expected.items():
                assert getattr(row, name) == pytest.approx(value, rel=RTOL, abs=0), (row.algorithm_version, row.horizon_hours, name)
        for name, column in (("quantile_spread", "quantile_spread"), ("rank_autocorrelation", "rank_autocorrelation")):
            values = rows[column].dropna().astype(float)
            assert getattr(row, f"{name}_count") == len(values)
            assert getattr(row, f"mean_{name}") == pytest.approx(values.mean(), rel=RTOL, abs=0), (row.algorithm_version, row.horizon_hours, name)


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    return {table: fetch(url, f"select * from {table} order by {key}") for table, key in TABLES.items()}


def test_consecutive_windows_equal_a_full_refresh(built: Built) -> None:
    full = snapshot(built.url)
    # a first build (a full refresh up to window_end) ending inside SOLUSDTM's gap, then a
    # window from there past the delisting to the end (test_dbt_incremental runs more windows)
    boundaries = (0, 41, synthetic.HOURS)
    for start, end in zip(boundaries, boundaries[1:]):
        extra = ("--full-refresh",) if start == 0 else ()
        # with the summary view, which a full refresh of the table under it drops
        # (not int_forward_returns_1h+: that would rebuild the edited scores too, through the signals' reliability)
        built.dbt.run("run", "--select", "int_forward_returns_1h", "fct_scoring_performance+", *extra, dbt_vars=window(hour(start), hour(end)))
    assert_same_tables(snapshot(built.url), full)
    # rebuilding an earlier window, with the bars after it built, completes its horizons from them
    built.dbt.run("run", "--select", *MODELS, dbt_vars=window(hour(8), hour(41)))
    assert_same_tables(snapshot(built.url), full)


def test_an_hourly_run_reads_the_same_rows_whatever_the_history_length(built: Built) -> None:
    """The SQL of an incremental run for one hour reads as many rows with 60 hours of history
    before it as with 50 (the first 10 removed): per contract the window and the horizons' reach."""
    built.dbt.run("compile", "--select", *MODELS, dbt_vars=window(hour(60), hour(61)))
    compiled = built.dbt.work_dir / "target" / "compiled" / "zmart" / "models"
    sql = {model: (compiled / folder / f"{model}.sql").read_text() for model, folder in zip(MODELS, ("intermediate", "marts"), strict=True)}

    def reads() -> dict[str, dict[str, int]]:
        result = {}
        for model, query in sql.items():
            with psycopg.connect(built.url) as conn:
                conn.execute("set enable_seqscan = off")  # the plans as they run at scale (see test_dbt_incremental)
                conn.execute("set enable_bitmapscan = off")
                plan = conn.execute(f"explain (analyze, format json) {query}").fetchone()  # type: ignore[arg-type]
            assert plan is not None
            result[model] = rows_read(plan[0][0]["Plan"])
        return result

    with_history = reads()
    with psycopg.connect(built.url) as conn:
        conn.execute("delete from intermediate.int_candles_1h where bucket_start < %s", (hour(10),))
        conn.execute("delete from marts.fct_symbol_scores where score_time <= %s", (hour(10),))
        for table in TABLES:
            conn.execute(f"delete from {table} where score_time <= %s", (hour(10),))
    shorter_history = reads()
    assert with_history == shorter_history, json.dumps([with_history, shorter_history])


def test_malformed_parameters_fail_naming_the_var(built: Built) -> None:
    for parameters, message in (
        ({"forward_return_horizons": [1, 0], "quantiles": 5}, "var scoring_performance.forward_return_horizons=0 is malformed"),
        ({"forward_return_horizons": [1], "quantiles": 1}, "var scoring_performance.quantiles=1 is malformed: expected an integer between 2 and 100"),
    ):
        result = built.dbt.run("parse", dbt_vars={"scoring_performance": parameters}, check=False)
        assert result.returncode != 0 and message in result.stdout, result.stdout[-2000:]


def test_every_model_and_column_is_documented(built: Built) -> None:
    manifest = json.loads((built.dbt.work_dir / "target" / "manifest.json").read_text())
    for name, schema in (("int_forward_returns_1h", "intermediate"), ("fct_scoring_performance", "marts"), ("fct_scoring_performance_summary", "marts")):
        node = manifest["nodes"][f"model.zmart.{name}"]
        assert node["description"].strip(), name
        documented = {column for column, spec in node["columns"].items() if spec["description"].strip()}
        actual = {c for (c,) in fetch(built.url, "select column_name from information_schema.columns where table_schema = %s and table_name = %s", (schema, name))}
        assert documented == actual, (name, sorted(actual - documented), sorted(documented - actual))
