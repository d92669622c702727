"""fct_portfolio_history and fct_portfolio_analytics on real PostgreSQL and dbt, over a multi-day
portfolio history (synthetic_portfolio.py) on the synthetic market (synthetic.py).

The history is checked against a pandas reference computed from the minute candles (the 1h bars
resampled independently) and the portfolio tables; every analytic against empyrical
(empyrical-reloaded) computed from the reference's hourly returns, to 1e-9 relative. Edge cases:
holdings without a bar in their hour (a gap, a delisting), after a gap, before their listing (no
return); flat, single-hour and explosive return series (null ratios, never infinities).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg import sql

from orchestration.embedded_postgres import EmbeddedPostgres

from tests.integration.dbt import synthetic, synthetic_portfolio
from tests.integration.dbt.conftest import BuiltDatabase, Portfolio
from tests.integration.dbt.dbt_cli import Dbt, assert_close, fetch, frame, rows_read, window
from tests.integration.dbt.synthetic import hour

PERIODS_PER_YEAR = 365 * 24
PERIODS = {"all": None, "30d": 30 * 24, "7d": 7 * 24, "24h": 24}
BENCHMARK = "XBTUSDTM"
HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class Built:
    url: str
    dbt: Dbt
    closes: dict[str, pd.Series]  # each contract's 1h closes by bucket_start (pandas resample of the minutes)


@pytest.fixture(scope="module")
def built(portfolio_built: BuiltDatabase[Portfolio], dbt_work_dir: Path) -> Iterator[Built]:
    url, portfolio = portfolio_built.clone()  # synthetic and synthetic_portfolio populate + `dbt build`, once per session
    yield Built(url, Dbt(url, dbt_work_dir), portfolio.closes)


# ---- the reference history ------------------------------------------------------------------


def mark(closes: pd.Series, as_of: pd.Timestamp) -> dict[str, object]:
    """A holding's marks and return over [as_of, as_of + 1h) by the rule the model documents."""
    before = closes.index[closes.index < as_of]
    start_bar = before[-1] if len(before) else None
    end_bar = as_of if as_of in closes.index else start_bar
    if start_bar is None:
        end_price = None if end_bar is None else closes[end_bar]
        return {"start_bar_start": None, "end_bar_start": end_bar, "end_price": end_price, "symbol_return": None, "return_status": "no_price"}
    status = "no_bar_in_hour" if end_bar != as_of else "after_gap" if start_bar < as_of - HOUR else "close_to_close"
    return {
        "start_bar_start": start_bar, "end_bar_start": end_bar, "start_price": closes[start_bar], "end_price": closes[end_bar],
        "symbol_return": closes[end_bar] / closes[start_bar] - 1, "return_status": status,
    }


def expected_history(url: str, closes: dict[str, pd.Series]) -> pd.DataFrame:
    """One row per realised formed holding, from portfolio.* and the reference bars."""
    holdings = frame(url, """
        select e.algorithm_version, e.as_of, c.symbol, e.evaluation_id, c.position, c.weight
        from portfolio.evaluations e join portfolio.composition c using (evaluation_id)
        where e.outcome = 'formed'
    """)
    loaded_to = max(series.index.max() for series in closes.values())
    holdings = holdings.loc[holdings["as_of"] <= loaded_to].sort_values(["algorithm_version", "as_of", "symbol"], ignore_index=True)
    marks = pd.DataFrame([mark(closes[s], pd.Timestamp(a)) for s, a in zip(holdings["symbol"], holdings["as_of"], strict=True)])
    history = pd.concat([holdings, marks], axis=1)
    history["contribution"] = [
        None if r is None or pd.isna(r) else float(w) * r for w, r in zip(history["weight"], history["symbol_return"], strict=True)
    ]
    per_evaluation = []
    for (version, as_of), rows in history.groupby(["algorithm_version", "as_of"], sort=True):
        complete = rows["symbol_return"].notna().all()
        benchmark = mark(closes[BENCHMARK], pd.Timestamp(as_of))
        per_evaluation.append({
            "algorithm_version": version, "as_of": as_of,
            "portfolio_return": float(rows["contribution"].astype(float).sum()) if complete else None,
            "holdings_without_bar_in_hour": int((rows["return_status"] == "no_bar_in_hour").sum()),
            "holdings_without_price": int((rows["return_status"] == "no_price").sum()),
            "benchmark_return": benchmark["symbol_return"], "benchmark_return_status": benchmark["return_status"],
        })
    history = history.merge(pd.DataFrame(per_evaluation), on=["algorithm_version", "as_of"])
    return history.merge(rebalances(history), on=["algorithm_version", "as_of"])


def rebalances(history: pd.DataFrame) -> pd.DataFrame:
    """Turnover (exact, in Decimal), adds and removes against each version's previous formed evaluation."""
    rows = []
    for version, evaluations in history.groupby("algorithm_version", sort=True):
        previous: tuple[int, dict[str, Decimal]] | None = None
        for (as_of, evaluation_id), holdings in evaluations.groupby(["as_of", "evaluation_id"], sort=True):
            weights = dict(zip(holdings["symbol"], holdings["weight"], strict=True))
            if previous is None:
                rows.append((version, as_of, None, None, len(weights), 0))
            else:
                before = previous[1]
                changes = (abs(weights.get(s, Decimal(0)) - before.get(s, Decimal(0))) for s in set(weights) | set(before))
                rows.append((version, as_of, previous[0], sum(changes, Decimal(0)) / 2, len(set(weights) - set(before)), len(set(before) - set(weights))))
            previous = (int(evaluation_id), weights)
    return pd.DataFrame(rows, columns=["algorithm_version", "as_of", "previous_evaluation_id", "turnover", "adds", "removes"])


# ---- the reference analytics: empyrical --------------------------------------------------------


def finite(value: float) -> float | None:
    """empyrical's nan / +-inf where a ratio is undefined: the mart's null."""
    return float(value) if np.isfinite(value) else None


def return_statistics(returns: np.ndarray, benchmark: np.ndarray) -> dict[str, float | None]:
    """Every return statistic of the mart, by empyrical, of the period's hourly returns in time order."""
    a = {"annualization": PERIODS_PER_YEAR}
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        stats = {
            "cumulative_return": empyrical.cum_returns_final(returns),
            "annual_return": empyrical.annual_return(returns, **a),
            "annual_volatility": empyrical.annual_volatility(returns, **a),
            "sharpe_ratio": empyrical.sharpe_ratio(returns, **a),
            "downside_deviation": empyrical.downside_risk(returns, **a),
            "sortino_ratio": empyrical.sortino_ratio(returns, **a),
            "max_drawdown": empyrical.max_drawdown(returns),
            "calmar_ratio": empyrical.calmar_ratio(returns, **a),
            "value_at_risk_95": empyrical.value_at_risk(returns, cutoff=0.05),
            "conditional_value_at_risk_95": empyrical.conditional_value_at_risk(returns, cutoff=0.05),
            "value_at_risk_99": empyrical.value_at_risk(returns, cutoff=0.01),
            "conditional_value_at_risk_99": empyrical.conditional_value_at_risk(returns, cutoff=0.01),
            "beta": empyrical.beta(returns, benchmark),
        }
    return {name: finite(value) for name, value in stats.items()}


def genuine_returns(closes: dict[str, pd.Series]) -> pd.DataFrame:
    """bucket_start x symbol: close / previous close - 1 where the previous bar is the hour before."""
    columns = {}
    for symbol, series in closes.items():
        adjacent = series.index.to_series().diff() == HOUR
        columns[symbol] = (series / series.shift(1) - 1).where(adjacent)
    return pd.DataFrame(columns).sort_index()


def diversification(returns: pd.DataFrame, holdings: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, object]:
    """Average pairwise correlation and diversification ratio of the holdings over the hours of
    [start, end) in which each has a genuine 1h return."""
    weights = holdings.set_index("symbol")["weight"].astype(float)
    sample = returns.loc[(returns.index >= start) & (returns.index < end), weights.index].dropna()
    upper = sample.corr().to_numpy()[np.triu_indices(len(weights), k=1)]
    portfolio = sample.to_numpy() @ weights.to_numpy()
    sigma_p = portfolio.std(ddof=1) if len(sample) >= 2 else math.nan
    return {
        "diversification_hours": len(sample),
        "average_pairwise_correlation": float(upper.mean()) if len(sample) >= 2 and np.isfinite(upper).all() else None,
        "diversification_ratio": float((weights * sample.std(ddof=1)).sum() / sigma_p) if sigma_p > 0 else None,
    }


def expected_analytics(history: pd.DataFrame, returns: pd.DataFrame) -> pd.DataFrame:
    """One row per version and period, from a history (one row per holding, as the mart)."""
    rows = []
    for version, holdings in history.groupby("algorithm_version", sort=True):
        evaluations = holdings.drop_duplicates("as_of").sort_values("as_of")
        latest = evaluations["as_of"].max()
        end = latest + HOUR
        for period, hours in PERIODS.items():
            start = evaluations["as_of"].min() if hours is None else end - hours * HOUR
            chosen = evaluations.loc[(evaluations["as_of"] >= start) & (evaluations["as_of"] < end)]
            with_return = chosen.loc[chosen["portfolio_return"].notna()]
            turnover = chosen["turnover"].dropna()
            rows.append({
                "algorithm_version": version, "period": period, "period_start": start, "period_end": end,
                "is_period_covered": evaluations["as_of"].min() <= start, "first_hour": chosen["as_of"].min(),
                "latest_as_of": latest, "evaluation_hours": len(chosen), "return_hours": len(with_return),
                "hours_without_return": len(chosen) - len(with_return),
                "beta_hours": int(with_return["benchmark_return"].notna().sum()),
                "average_turnover": float(np.mean([float(t) for t in turnover])) if len(turnover) else None,
                **return_statistics(
                    with_return["portfolio_return"].to_numpy(float), with_return["benchmark_return"].to_numpy(float)
                ),
                **diversification(returns, holdings.loc[holdings["as_of"] == latest], start, end),
            })
    return pd.DataFrame(rows)


STATISTICS = (
    "cumulative_return", "annual_return", "annual_volatility", "sharpe_ratio", "downside_deviation", "sortino_ratio",
    "max_drawdown", "calmar_ratio", "value_at_risk_95", "conditional_value_at_risk_95", "value_at_risk_99",
    "conditional_value_at_risk_99", "beta", "average_pairwise_correlation", "diversification_ratio", "average_turnover",
)
COUNTS = ("period_start", "period_end", "is_period_covered", "first_hour", "latest_as_of", "evaluation_hours", "return_hours",
          "hours_without_return", "beta_hours", "diversification_hours")


def assert_analytics_match(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    actual = actual.sort_values(["algorithm_version", "period"], ignore_index=True)
    expected = expected.sort_values(["algorithm_version", "period"], ignore_index=True)
    assert actual[["algorithm_version", "period"]].equals(expected[["algorithm_version", "period"]])
    for mine, reference in zip(actual.to_dict("records"), expected.to_dict("records"), strict=True):
        label = (mine["algorithm_version"], mine["period"])
        for column in COUNTS:
            assert mine[column] == reference[column], (label, column, mine[column], reference[column])
        for column in STATISTICS:
            assert_close(mine[column], reference[column], (*label, column))


def assert_no_nan_or_infinity(url: str) -> None:
    """An undefined value is a SQL null: no double precision column holds NaN or an infinity."""
    columns = [name for name, kind in fetch(
        url,
        "select column_name, data_type from information_schema.columns where table_schema = 'marts' and table_name = 'fct_portfolio_analytics'",
    ) if kind == "double precision"]
    assert len(columns) >= len(STATISTICS) - 1
    found = fetch(url, "select " + ", ".join(f"count(*) filter (where {c} in ('NaN', 'Infinity', '-Infinity'))" for c in columns)
                  + " from marts.fct_portfolio_analytics")[0]
    assert dict(zip(columns, found, strict=True)) == dict.fromkeys(columns, 0)


def history_frame(url: str) -> pd.DataFrame:
    return frame(url, "select * from marts.fct_portfolio_history order by algorithm_version, as_of, symbol")


def analytics_frame(url: str) -> pd.DataFrame:
    return frame(url, "select * from marts.fct_portfolio_analytics")


# ---- tests -----------------------------------------------------------------------------------

EXACT_COLUMNS = (
    "evaluation_id", "position", "weight", "start_bar_start", "end_bar_start", "return_status", "holdings_without_bar_in_hour",
    "holdings_without_price", "benchmark_return_status", "turnover", "adds", "removes",
)
FLOAT_COLUMNS = ("start_price", "end_price", "symbol_return", "contribution", "portfolio_return", "benchmark_return")


def test_history_equals_the_pandas_reference(built: Built) -> None:
    actual = history_frame(built.url)
    expected = expected_history(built.url, built.closes)
    keys = ["algorithm_version", "as_of", "symbol"]
    assert actual[keys].values.tolist() == expected[keys].values.tolist()
    for column in EXACT_COLUMNS:
        mine = [None if pd.isna(v) else v for v in actual[column]]
        reference = [None if pd.isna(v) else v for v in expected[column]]
        assert mine == reference, column
    for column in FLOAT_COLUMNS:
        for key, mine, reference in zip(actual[keys].values.tolist(), actual[column], expected[column], strict=True):
            assert_close(None if pd.isna(mine) else mine, None if pd.isna(reference) else reference, (*key, column))
    assert (actual["benchmark_symbol"] == BENCHMARK).all()


def test_history_covers_every_realised_evaluation_and_flags_missing_bars(built: Built) -> None:
    history = history_frame(built.url)
    counts = history.groupby(["algorithm_version", "as_of"]).size()
    assert (counts == synthetic_portfolio.PORTFOLIO_SIZE).all()
    assert sorted(history["algorithm_version"].unique()) == ["rotation", "steady", "v1"]
    # every hour of each version up to the last loaded one; the evaluation at END (its hour not loaded) is not there
    rotation = history.loc[history["algorithm_version"] == "rotation"].drop_duplicates("as_of")
    assert rotation["as_of"].tolist() == [hour(h) for h in range(1, synthetic.HOURS)]
    assert set(history["return_status"]) == {"close_to_close", "after_gap", "no_bar_in_hour", "no_price"}

    def row(as_of: int, symbol: str) -> pd.Series:
        found = history.loc[(history["algorithm_version"] == "rotation") & (history["as_of"] == hour(as_of)) & (history["symbol"] == symbol)]
        assert len(found) == 1, (as_of, symbol)
        return found.iloc[0]

    gap = synthetic.GAP_HOURS["SOLUSDTM"]
    for h in gap:  # SOLUSDTM's gap: no bar, the mark carried, return 0
        held = row(h, "SOLUSDTM")
        assert held["return_status"] == "no_bar_in_hour" and held["symbol_return"] == 0
        assert held["start_bar_start"] == hour(gap.start - 1) and held["holdings_without_bar_in_hour"] >= 1
    after = row(gap.stop, "SOLUSDTM")  # the first bar after the gap is measured from the last one before it
    assert after["return_status"] == "after_gap" and after["start_bar_start"] == hour(gap.start - 1)
    delisted = row(synthetic_portfolio.DELISTING_HOUR + 1, "DOTUSDTM")
    assert delisted["return_status"] == "no_bar_in_hour" and delisted["symbol_return"] == 0
    listing = row(synthetic_portfolio.LISTING_HOUR, "NEWUSDTM")  # no price before its listing hour: no return at all
    assert listing["return_status"] == "no_price" and pd.isna(listing["symbol_return"]) and pd.isna(listing["portfolio_return"])
    assert listing["holdings_without_price"] == 1


def test_analytics_equal_empyrical(built: Built) -> None:
    actual = analytics_frame(built.url)
    expected = expected_analytics(expected_history(built.url, built.closes), genuine_returns(built.closes))
    assert_analytics_match(actual, expected)
    assert_no_nan_or_infinity(built.url)
    rotation = actual.set_index(["algorithm_version", "period"]).loc["rotation"]
    # the listing hour without a return is left out, and counted
    assert rotation.loc["all", "hours_without_return"] == 1 and rotation.loc["24h", "hours_without_return"] == 0
    assert rotation.loc["24h", "is_period_covered"] and not rotation.loc["7d", "is_period_covered"]
    assert rotation.loc["24h", "return_hours"] == 24
    # on this history every statistic is defined (the edge cases are below)
    assert actual.loc[actual["algorithm_version"] != "v1", list(STATISTICS)].notna().all().all()


def history_rows(url: str) -> list[tuple[object, ...]]:
    return fetch(url, "select * from marts.fct_portfolio_history order by algorithm_version, as_of, symbol")


def test_consecutive_windows_equal_a_full_refresh(built: Built) -> None:
    full = history_rows(built.url)
    boundaries = (0, 7, 8, 36, 41, 49, synthetic.HOURS + 1)  # windows ending at the listing, in the gap, after the delisting
    built.dbt.run("run", "--select", "fct_portfolio_history", "--full-refresh", dbt_vars=window(hour(0), hour(boundaries[1])))
    assert history_frame(built.url)["as_of"].max() == hour(boundaries[1] - 1)
    for start, end in zip(boundaries[1:], boundaries[2:]):
        built.dbt.run("run", "--select", "fct_portfolio_history", dbt_vars=window(hour(start), hour(end)))
    rows = history_rows(built.url)
    assert len(rows) == len(full)
    for got, want in zip(rows, full, strict=True):
        assert got == want, f"{got} != {want}"


# hand-made return series, written into the history as if it held them
FLAT_HOLDINGS = ("ETHUSDTM", "XBTUSDTM", "XBTUSDM", "DOGEUSDTM", "XRPUSDTM", "ADAUSDTM", "LINKUSDTM", "AVAXUSDTM", "DOTUSDTM", "BNBUSDTM")
EDGE_SERIES = {
    "flat": {h: 0.0 for h in synthetic.FLAT_HOURS["ETHUSDTM"]},  # during ETHUSDTM's flat stretch
    "single": {20: -0.01},
    "pump": {20: 0.6, 21: -0.1},  # W^(8760/2) beyond the double range
    "crash": {20: -0.6, 21: 0.1},  # W^(8760/2) underflows to 0
}


def edge_history(returns: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for k, (version, series) in enumerate(EDGE_SERIES.items()):
        for i, (h, r) in enumerate(series.items()):
            as_of = pd.Timestamp(hour(h))
            for position, symbol in enumerate(FLAT_HOLDINGS, start=1):
                rows.append({
                    "algorithm_version": version, "as_of": as_of, "symbol": symbol, "evaluation_id": -(1000 * k + h),
                    "position": position, "weight": Decimal("0.1"), "symbol_return": r, "return_status": "close_to_close",
                    "contribution": 0.1 * r, "portfolio_return": r, "benchmark_return": returns.loc[as_of, BENCHMARK],
                    "turnover": None if i == 0 else Decimal(0),
                })
    return pd.DataFrame(rows)


def test_undefined_ratios_are_null_on_flat_short_and_explosive_series(built: Built) -> None:
    returns = genuine_returns(built.closes)
    edges = edge_history(returns)
    columns = list(edges.columns)
    try:
        with psycopg.connect(built.url) as conn, conn.cursor() as cur:
            cur.executemany(
                f"insert into marts.fct_portfolio_history ({', '.join(columns)}) values ({', '.join(['%s'] * len(columns))})",
                [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row) for row in edges.itertuples(index=False)],
            )
        built.dbt.run("run", "--select", "fct_portfolio_analytics")
        actual = analytics_frame(built.url)
        actual = actual.loc[actual["algorithm_version"].isin(list(EDGE_SERIES))]
        assert_analytics_match(actual, expected_analytics(edges, returns))
        assert_no_nan_or_infinity(built.url)
        result = actual.loc[actual["period"] == "all"].set_index("algorithm_version")

        flat = result.loc["flat"]
        assert flat["annual_volatility"] == 0 and flat["downside_deviation"] == 0 and flat["max_drawdown"] == 0
        assert flat["cumulative_return"] == 0 and flat["value_at_risk_99"] == 0 and flat["conditional_value_at_risk_95"] == 0
        assert pd.isna(flat["sharpe_ratio"]) and pd.isna(flat["sortino_ratio"]) and pd.isna(flat["calmar_ratio"])  # not inf
        assert flat["beta"] == 0
        assert pd.isna(flat["average_pairwise_correlation"])  # ETHUSDTM does not move: its correlations are undefined
        assert flat["diversification_ratio"] > 0 and flat["diversification_hours"] == len(EDGE_SERIES["flat"])

        single = result.loc["single"]  # one observation: no dispersion, no beta
        for column in ("annual_volatility", "sharpe_ratio", "sortino_ratio", "beta", "average_pairwise_correlation", "diversification_ratio"):
            assert pd.isna(single[column]), column
        assert single["value_at_risk_95"] == single["conditional_value_at_risk_99"] == -0.01
        assert math.isclose(single["max_drawdown"], -0.01, rel_tol=1e-12)

        with np.errstate(over="ignore"):
            assert np.isinf(empyrical.annual_return(np.array(list(EDGE_SERIES["pump"].values())), annualization=PERIODS_PER_YEAR))
        assert pd.isna(result.loc["pump", "annual_return"]) and pd.isna(result.loc["pump", "calmar_ratio"])
        assert result.loc["crash", "annual_return"] == -1.0
        assert math.isclose(result.loc["crash", "calmar_ratio"], -1 / 0.6, rel_tol=1e-12)
    finally:
        with psycopg.connect(built.url) as conn:
            conn.execute("delete from marts.fct_portfolio_history where algorithm_version = any(%s)", (list(EDGE_SERIES),))
        built.dbt.run("run", "--select", "fct_portfolio_analytics")


def history_window_reads(url: str, dbt: Dbt, start: datetime) -> dict[str, int]:
    """Rows read, per relation, by fct_portfolio_history's SQL as an incremental run for the hour
    `start` compiles it (EXPLAIN ANALYZE, nothing written; index plans as at scale)."""
    dbt.run("compile", "--select", "fct_portfolio_history", dbt_vars=window(start, start + timedelta(hours=1)))
    sql = (dbt.work_dir / "target" / "compiled" / "zmart" / "models" / "marts" / "portfolio" / "fct_portfolio_history.sql").read_text()
    with psycopg.connect(url) as conn:
        conn.execute("set enable_seqscan = off")
        conn.execute("set enable_bitmapscan = off")
        plan = conn.execute(f"explain (analyze, verbose, format json) {sql}").fetchone()[0]  # type: ignore[index]
    return rows_read(plan[0]["Plan"])


def test_an_hourly_increment_reads_the_same_rows_whatever_the_history_length(
    built: Built, pg_cluster: EmbeddedPostgres, tmp_path: Path
) -> None:
    """The same hour reads exactly as many rows with the first day of history as without it (a
    copy of the database with the first day's bars and evaluations deleted): index probes, by key."""
    with_history = history_window_reads(built.url, built.dbt, hour(60))
    copy = f"{psycopg.conninfo.conninfo_to_dict(built.url)['dbname']}_shorter"
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} template {}").format(
            sql.Identifier(copy), sql.Identifier(str(psycopg.conninfo.conninfo_to_dict(built.url)["dbname"]))))
    shorter_url = pg_cluster.url(copy)
    with psycopg.connect(shorter_url) as conn:
        first_day = "select evaluation_id from portfolio.evaluations where as_of < %s"
        conn.execute(f"delete from portfolio.decisions where evaluation_id in ({first_day})", (hour(24),))
        conn.execute(f"delete from portfolio.composition where evaluation_id in ({first_day})", (hour(24),))
        conn.execute("delete from portfolio.evaluations where as_of < %s", (hour(24),))
        conn.execute("delete from intermediate.int_candles_1h where bucket_start < %s", (hour(24),))
    shorter_history = history_window_reads(shorter_url, Dbt(shorter_url, tmp_path), hour(60))
    assert with_history == shorter_history, (with_history, shorter_history)
    # per evaluation (two) and priced symbol (ten holdings and the benchmark): two max() probes,
    # two closes and the two bars' batch ids (lineage) by key; plus the latest bar of all
    assert with_history["intermediate.int_candles_1h"] <= 2 * (synthetic_portfolio.PORTFOLIO_SIZE + 1) * 6 + 1, with_history
