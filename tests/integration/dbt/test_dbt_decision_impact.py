"""fct_decision_impact and fct_decision_impact_summary on real PostgreSQL and dbt, over the
multi-day portfolio history with decisions (synthetic_portfolio.py) on the synthetic market
(synthetic.py).

Every column is checked against a pandas reference computed from the minute candles (the 1h bars
resampled independently) and the raw portfolio tables, to 1e-9 relative and exact counts. Edge
cases: the 7d horizon runs past the end of the 72 hours of data (always null), 24h returns of
the last day are null, SOLUSDTM's gap and DOTUSDTM's delisting null the returns whose bars fall
in them (never forward-filled), and a first portfolio (adds only) has no edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from tests.integration.dbt import synthetic, synthetic_portfolio
from tests.integration.dbt.conftest import BuiltDatabase, Portfolio
from tests.integration.dbt.dbt_cli import assert_close, frame

HORIZONS = {"1h": 1, "24h": 24, "7d": 168}
HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class Built:
    url: str
    closes: dict[str, pd.Series]  # each contract's 1h closes by bucket_start (pandas resample of the minutes)


@pytest.fixture(scope="module")
def built(portfolio_built: BuiltDatabase[Portfolio]) -> Iterator[Built]:
    url, portfolio = portfolio_built.clone()  # synthetic and synthetic_portfolio populate + `dbt build`, once per session
    yield Built(url, portfolio.closes)


# ---- the reference ----------------------------------------------------------------------------


def close_at(closes: pd.Series, t: pd.Timestamp) -> float | None:
    """The mark at time t: the close of the bar ending at t, or None when that bar is missing."""
    bar = t - HOUR
    return float(closes[bar]) if bar in closes.index else None


def forward_return(closes: pd.Series, as_of: pd.Timestamp, hours: int) -> float | None:
    start, end = close_at(closes, as_of), close_at(closes, as_of + hours * HOUR)
    return None if start is None or end is None else end / start - 1


def expected_impact(url: str, closes: dict[str, pd.Series]) -> pd.DataFrame:
    """One row per add / remove decision, from portfolio.* and the reference bars."""
    decisions = frame(url, """
        select d.decision_id, d.evaluation_id, e.as_of, e.algorithm_version, d.symbol, d.action, d.details
        from portfolio.decisions d join portfolio.evaluations e using (evaluation_id)
        where d.action <> 'hold'
        order by d.decision_id
    """)
    replaces = {
        (row.evaluation_id, row.symbol): sorted(row.details["replaces"])
        for row in decisions.itertuples() if row.action == "add" and "replaces" in row.details
    }
    decisions["replaces"] = [replaces.get((e, s)) for e, s in zip(decisions["evaluation_id"], decisions["symbol"], strict=True)]
    decisions["replaced_by"] = [
        sorted(a for (ae, a), replaced in replaces.items() if ae == row.evaluation_id and row.symbol in replaced) or None
        if row.action == "remove" else None
        for row in decisions.itertuples()
    ]
    as_of = [pd.Timestamp(a) for a in decisions["as_of"]]
    decisions["start_price"] = [close_at(closes[s], a) for s, a in zip(decisions["symbol"], as_of, strict=True)]
    for name, hours in HORIZONS.items():
        decisions[f"forward_return_{name}"] = [forward_return(closes[s], a, hours) for s, a in zip(decisions["symbol"], as_of, strict=True)]
    return decisions.merge(expected_edges(decisions), on="evaluation_id").drop(columns="details")


def expected_edges(decisions: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for evaluation_id, group in decisions.groupby("evaluation_id"):
        adds, removes = group.loc[group["action"] == "add"], group.loc[group["action"] == "remove"]
        row: dict[str, object] = {"evaluation_id": evaluation_id, "evaluation_adds": len(adds), "evaluation_removes": len(removes)}
        for name in HORIZONS:
            column = f"forward_return_{name}"
            complete = len(adds) and len(removes) and group[column].notna().all()
            row[f"edge_{name}"] = float(np.mean(adds[column].astype(float)) - np.mean(removes[column].astype(float))) if complete else None
        rows.append(row)
    return pd.DataFrame(rows)


def expected_summary(impact: pd.DataFrame) -> pd.DataFrame:
    evaluations = impact.drop_duplicates("evaluation_id")
    both = evaluations.loc[(evaluations["evaluation_adds"] > 0) & (evaluations["evaluation_removes"] > 0)]
    rows = []
    for version, group in both.groupby("algorithm_version", sort=True):
        for name, hours in HORIZONS.items():
            edges = group[f"edge_{name}"].dropna().astype(float)
            rows.append({
                "algorithm_version": version, "horizon": name, "horizon_hours": hours,
                "evaluations": len(group), "measured_evaluations": len(edges),
                "mean_edge": float(edges.mean()) if len(edges) else None,
                "hit_rate": float((edges > 0).mean()) if len(edges) else None,
            })
    return pd.DataFrame(rows)


def impact_frame(url: str) -> pd.DataFrame:
    # input_batch_ids (lineage) is checked against the raw rows by test_dbt_lineage
    return frame(url, "select * from marts.fct_decision_impact order by decision_id").drop(columns="input_batch_ids")


def assert_columns_match(actual: pd.DataFrame, expected: pd.DataFrame, exact: tuple[str, ...], floats: tuple[str, ...]) -> None:
    assert list(actual.columns) == list(expected.columns)
    for column in exact:
        mine = [None if not isinstance(v, list) and pd.isna(v) else v for v in actual[column]]
        reference = [None if not isinstance(v, list) and pd.isna(v) else v for v in expected[column]]
        assert mine == reference, column
    for column in floats:
        for i, (mine, reference) in enumerate(zip(actual[column], expected[column], strict=True)):
            assert_close(mine, reference, (i, column))


# ---- the tests --------------------------------------------------------------------------------


def test_impact_equals_the_pandas_reference(built: Built) -> None:
    actual = impact_frame(built.url)
    expected = expected_impact(built.url, built.closes)
    forwards = tuple(f"forward_return_{name}" for name in HORIZONS)
    edges = tuple(f"edge_{name}" for name in HORIZONS)
    exact = ("decision_id", "evaluation_id", "as_of", "algorithm_version", "symbol", "action", "replaces", "replaced_by",
             "start_price", "evaluation_adds", "evaluation_removes")
    assert_columns_match(actual, expected[list(actual.columns)], exact, forwards + edges)


def test_missing_bars_give_null_returns_never_a_carried_price(built: Built) -> None:
    impact = impact_frame(built.url)
    assert sorted(impact["algorithm_version"].unique()) == ["rotation", "steady", "v1"]
    assert impact["forward_return_7d"].isna().all()  # 168 hours run past the 72 hours of data
    end = synthetic.START + synthetic.HOURS * HOUR
    late = impact.loc[impact["as_of"] + 24 * HOUR > end]
    assert len(late) and late["forward_return_24h"].isna().all() and late["edge_24h"].isna().all()
    assert impact.loc[impact["as_of"] + HOUR <= end, "forward_return_1h"].notna().any()
    # SOLUSDTM's gap: a return whose start or end bar falls in it is null although bars exist
    # before and after it (no forward-fill), and one ending after the gap is measured
    gap = {synthetic.START + h * HOUR for h in synthetic_portfolio.GAP_HOURS}
    sol = impact.loc[impact["symbol"] == "SOLUSDTM"]
    touched = 0
    for name, hours in HORIZONS.items():
        in_gap = pd.Series([bool(gap & {a - HOUR, a + (hours - 1) * HOUR}) for a in sol["as_of"]], index=sol.index)
        touched += int(in_gap.sum())
        assert sol.loc[in_gap, f"forward_return_{name}"].isna().all(), name
    assert touched > 0
    across = sol.loc[(sol["as_of"] <= min(gap)) & (sol["as_of"] + 23 * HOUR > max(gap))]
    assert across["forward_return_24h"].notna().any()
    # a first portfolio: ten adds replacing nothing, no edge
    first = impact.loc[impact["evaluation_removes"] == 0]
    assert len(first) and (first["evaluation_adds"] == synthetic_portfolio.PORTFOLIO_SIZE).all()
    assert first[[f"edge_{name}" for name in HORIZONS]].isna().all().all()
    # the manager records a first portfolio's adds as replacing nothing (v1's rows record no replacements)
    assert all(r == [] for r in first.loc[first["algorithm_version"] != "v1", "replaces"])


def test_replacements_pair_adds_and_removes(built: Built) -> None:
    impact = impact_frame(built.url)
    swaps = impact.loc[(impact["evaluation_adds"] > 0) & (impact["evaluation_removes"] > 0)]
    assert len(swaps)
    # v1's add (synthetic.populate) records no replacements: null, and nothing replaces its remove
    v1 = impact.loc[impact["algorithm_version"] == "v1"]
    assert v1["replaces"].isna().all() and v1["replaced_by"].isna().all()
    swaps = swaps.loc[swaps["algorithm_version"] != "v1"]
    for _, rows in swaps.groupby("evaluation_id"):
        removed = sorted(rows.loc[rows["action"] == "remove", "symbol"])
        added = sorted(rows.loc[rows["action"] == "add", "symbol"])
        assert all(r == removed for r in rows.loc[rows["action"] == "add", "replaces"])
        assert all(r == added for r in rows.loc[rows["action"] == "remove", "replaced_by"])


def test_summary_equals_the_pandas_reference(built: Built) -> None:
    actual = frame(built.url, "select * from marts.fct_decision_impact_summary order by algorithm_version, horizon_hours").drop(columns="input_batch_ids")
    expected = expected_summary(expected_impact(built.url, built.closes))
    assert_columns_match(actual, expected, ("algorithm_version", "horizon", "horizon_hours", "evaluations", "measured_evaluations"),
                         ("mean_edge", "hit_rate"))
    measured = actual.loc[actual["horizon"] == "1h"]
    assert (measured["measured_evaluations"] > 0).all() and (actual.loc[actual["horizon"] == "7d", "measured_evaluations"] == 0).all()
