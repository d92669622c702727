"""Lineage to the raw load batches: every mart row's input_batch_ids, on real PostgreSQL and dbt,
over the shared portfolio build (synthetic.py's market and two v1 evaluations, plus
synthetic_portfolio.py's rotation / steady history).

Which marts must carry lineage is read from the manifest of `dbt docs generate` (every model in
the marts schema with a raw source among its ancestors), so a new mart without input_batch_ids
fails here. Each one's ids must be raw.load_batches ids, and the arrays are recomputed
independently: the batches of each 1h bar from the raw minute rows and the contract snapshot in
force (synthetic.expected_candles_1h), then per mart from its definition (a score's 25-bar data
window, an evaluation's ranked scores, a return's two bars ...). The data includes a bar whose
minutes came in two batches (synthetic.SPLIT_HOUR), windows spanning two daily batches and both
contract snapshots, evaluations of versions without scores (empty arrays) and a delisted contract.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.integration.dbt import synthetic
from tests.integration.dbt.conftest import BuiltDatabase, Portfolio
from tests.integration.dbt.dbt_cli import Dbt, fetch, frame
from tests.integration.dbt.lineage_reference import HOUR, Bars, bar_batches, data_window_batches, union
from tests.integration.dbt.synthetic_portfolio import add_policy_evaluation

@dataclass(frozen=True)
class Built:
    url: str
    manifest: dict[str, Any]
    catalog: dict[str, Any]  # of the same `dbt docs generate`
    data: synthetic.Synthetic
    bars: Bars  # the batches of each 1h bar, from the raw minutes (pandas)


@pytest.fixture(scope="module")
def built(portfolio_built: BuiltDatabase[Portfolio], dbt_work_dir: Path) -> Built:
    url, portfolio = portfolio_built.clone()
    dbt = Dbt(url, dbt_work_dir)
    add_policy_evaluation(url, dbt)
    dbt.run("docs", "generate")
    target = dbt_work_dir / "target"
    return Built(
        url, json.loads((target / "manifest.json").read_text()), json.loads((target / "catalog.json").read_text()),
        portfolio.data, bar_batches(portfolio.data),
    )


# ---- the reference ----------------------------------------------------------------------------


def bar(built: Built, symbol: str, bucket_start: pd.Timestamp | None) -> frozenset[int]:
    """The batches of a 1h bar; empty when there is no such bar."""
    return built.bars.get((symbol, pd.Timestamp(bucket_start)), frozenset()) if bucket_start is not None else frozenset()


def score_window(built: Built, symbol: str, bucket_start: pd.Timestamp) -> list[int]:
    """A score's data window: the bar and the contract's 24 bars before it."""
    return data_window_batches(built.bars, symbol, bucket_start)


def scored_versions(built: Built) -> set[str]:
    return {r[0] for r in fetch(built.url, "select distinct algorithm_version from marts.fct_symbol_scores")}


def evaluation_batches(built: Built, as_of: pd.Timestamp, version: str) -> list[int]:
    """The scores an evaluation at as_of ranked: every contract with a bar ending at as_of, when its
    version is scored (synthetic_portfolio's versions are not: no scores, no batches)."""
    if version not in scored_versions(built):
        return []
    bucket = pd.Timestamp(as_of) - HOUR
    return union(score_window(built, s, bucket) for s, b in built.bars if b == bucket)


def lineage(frame_: pd.DataFrame) -> pd.Series:
    return frame_["input_batch_ids"].map(lambda ids: sorted(map(int, ids)))


def assert_rows(actual: pd.DataFrame, expected: Iterable[list[int]], what: str) -> None:
    rows = list(expected)
    assert len(rows) == len(actual) > 0, what
    for (_, row), want in zip(actual.iterrows(), rows, strict=True):
        assert sorted(map(int, row["input_batch_ids"])) == want, f"{what}: {row.drop('input_batch_ids').to_dict()}"


# ---- every mart, from the manifest ------------------------------------------------------------


def lineage_marts(manifest: dict[str, Any]) -> list[str]:
    """The marts built (transitively) from a raw source: the ones whose rows must trace to batches."""
    parents = manifest["parent_map"]

    def reads_raw(node: str, seen: set[str]) -> bool:
        if node.startswith("source.") and manifest["sources"][node]["source_name"] == "raw":
            return True
        seen.add(node)
        return any(reads_raw(p, seen) for p in parents.get(node, ()) if p not in seen)

    return sorted(
        n["name"] for key, n in manifest["nodes"].items()
        if n["resource_type"] == "model" and n["schema"] == "marts" and reads_raw(key, set())
    )


def test_every_mart_built_from_raw_data_documents_and_carries_input_batch_ids(built: Built) -> None:
    marts = lineage_marts(built.manifest)
    assert {"fct_symbol_scores", "fct_decisions", "fct_portfolio_analytics", "dim_symbols"} <= set(marts)
    for name in marts:
        node = built.manifest["nodes"][f"model.zmart.{name}"]
        column = node["columns"].get("input_batch_ids")
        assert column is not None and column["description"].strip(), f"{name}: input_batch_ids is not documented"
        tests = {n["test_metadata"]["name"] for n in built.manifest["nodes"].values()
                 if n["resource_type"] == "test" and n.get("column_name") == "input_batch_ids"
                 and f"model.zmart.{name}" in n["depends_on"]["nodes"] and "test_metadata" in n}
        assert "array_elements_have_relationship" in tests, f"{name}: input_batch_ids has no relationship test"
        column_type = fetch(built.url, "select format_type(atttypid, atttypmod) from pg_attribute where attrelid = %s::regclass and attname = 'input_batch_ids'", (f"marts.{name}",))
        assert column_type == [("bigint[]",)], name


def test_every_marts_batch_ids_are_in_the_batch_ledger(built: Built) -> None:
    ledger = {r[0] for r in fetch(built.url, "select batch_id from raw.load_batches")}
    for name in lineage_marts(built.manifest):
        rows, traced, ids = fetch(built.url, f"""
            select count(*), count(*) filter (where cardinality(input_batch_ids) > 0),
                   array(select distinct unnest(input_batch_ids) from marts.{name})
            from marts.{name}""")[0]
        assert rows > 0 and traced > 0, f"{name}: {rows} rows, {traced} with batches: nothing proved"
        assert set(ids) <= ledger, f"{name}: batch ids {set(ids) - ledger} are not in raw.load_batches"


def test_docs_generate_lists_the_lineage_and_history_models(built: Built) -> None:
    for name in ("dim_algorithm_versions_history", "dim_schema_migrations"):
        assert f"model.zmart.{name}" in built.catalog["nodes"], name


# ---- recomputed from raw -----------------------------------------------------------------------


def test_scores_trace_the_batches_of_their_data_window(built: Built) -> None:
    scores = frame(built.url, "select symbol, bucket_start, algorithm_version, input_batch_ids from marts.fct_symbol_scores order by 1, 2, 3")
    assert_rows(scores, (score_window(built, s, b) for s, b in zip(scores["symbol"], scores["bucket_start"], strict=True)), "fct_symbol_scores")
    # the bar whose minutes came in two batches: its own day's batch, the late one and the snapshot's
    symbol, hour, _ = synthetic.SPLIT_HOUR
    split = pd.Timestamp(synthetic.START + timedelta(hours=hour))
    assert len(bar(built, symbol, split)) == 3
    row = scores[(scores["symbol"] == symbol) & (scores["bucket_start"] == split)].iloc[0]
    assert set(bar(built, symbol, split)) <= set(row["input_batch_ids"])
    # windows spanning the first two days' batches
    assert (lineage(scores).map(len) >= 4).any()


def test_forward_returns_and_scoring_performance_trace_their_bars(built: Built) -> None:
    returns = frame(built.url, "select symbol, score_time, horizon_end, input_batch_ids from intermediate.int_forward_returns_1h order by 1, 2, 3")
    assert_rows(returns, (
        union([bar(built, s, t - HOUR), bar(built, s, e - HOUR)])
        for s, t, e in zip(returns["symbol"], returns["score_time"], returns["horizon_end"], strict=True)
    ), "int_forward_returns_1h")
    performance = frame(built.url, "select algorithm_version, horizon_hours, score_time, input_batch_ids from marts.fct_scoring_performance order by 1, 2, 3")
    eligible = frame(built.url, "select algorithm_version, score_time, symbol, bucket_start from marts.fct_symbol_scores where is_eligible")
    expected = []
    for version, horizon, score_time in zip(performance["algorithm_version"], performance["horizon_hours"], performance["score_time"], strict=True):
        group = eligible[(eligible["algorithm_version"] == version) & (eligible["score_time"] == score_time)]
        expected.append(union(
            {*score_window(built, s, b), *bar(built, s, b), *bar(built, s, b + int(horizon) * HOUR)}
            for s, b in zip(group["symbol"], group["bucket_start"], strict=True)
        ))
    assert_rows(performance, expected, "fct_scoring_performance")


def test_agent_performance_traces_the_evaluated_bars_and_their_outcomes(built: Built) -> None:
    horizon = 24  # var agents.outcome_horizon_hours
    evaluations = frame(built.url, "select agent, symbol, score_time from intermediate.int_agent_evaluations_1h")
    evaluations["score_date"] = evaluations["score_time"].dt.tz_convert("UTC").dt.date
    performance = frame(built.url, "select agent, score_date, input_batch_ids from marts.fct_agent_performance order by 1, 2")
    expected = []
    for agent, day in zip(performance["agent"], performance["score_date"], strict=True):
        rows = evaluations[(evaluations["agent"] == agent) & (evaluations["score_date"] == day)]
        expected.append(union(
            {*bar(built, s, t - HOUR), *bar(built, s, t + (horizon - 1) * HOUR)} if (s, t - HOUR) in built.bars else set()
            for s, t in zip(rows["symbol"], rows["score_time"], strict=True)
        ))
    assert_rows(performance, expected, "fct_agent_performance")


def test_decisions_and_compositions_trace_the_scores_the_evaluation_ranked(built: Built) -> None:
    decisions = frame(built.url, "select decision_id, as_of, algorithm_version, input_batch_ids from marts.fct_decisions order by 1")
    assert_rows(decisions, (evaluation_batches(built, a, v) for a, v in zip(decisions["as_of"], decisions["algorithm_version"], strict=True)), "fct_decisions")
    # synthetic.py's v1 evaluations are ranked from real scores; synthetic_portfolio's versions have none
    assert (lineage(decisions[decisions["algorithm_version"] == "v1"]).map(len) > 0).all()
    composition = frame(built.url, "select algorithm_version, symbol, as_of, input_batch_ids from marts.fct_portfolio_composition order by 1, 2")
    assert_rows(composition, (evaluation_batches(built, a, v) for a, v in zip(composition["as_of"], composition["algorithm_version"], strict=True)), "fct_portfolio_composition")


def latest_bar(built: Built, symbol: str, before: pd.Timestamp, inclusive: bool) -> pd.Timestamp | None:
    starts = [b for s, b in built.bars if s == symbol and (b <= before if inclusive else b < before)]
    return max(starts) if starts else None


def test_portfolio_history_traces_the_scores_and_the_price_bars(built: Built) -> None:
    history = frame(built.url, """
        select algorithm_version, as_of, symbol, benchmark_symbol, start_bar_start, end_bar_start, input_batch_ids
        from marts.fct_portfolio_history order by 1, 2, 3""")
    expected = []
    for row in history.itertuples():
        benchmark = row.benchmark_symbol
        expected.append(union([
            evaluation_batches(built, row.as_of, row.algorithm_version),
            bar(built, row.symbol, latest_bar(built, row.symbol, row.as_of, inclusive=False)),
            bar(built, row.symbol, latest_bar(built, row.symbol, row.as_of, inclusive=True)),
            bar(built, benchmark, latest_bar(built, benchmark, row.as_of, inclusive=False)),
            bar(built, benchmark, latest_bar(built, benchmark, row.as_of, inclusive=True)),
        ]))
    assert_rows(history, expected, "fct_portfolio_history")


def test_decision_impact_traces_the_decision_and_its_return_bars(built: Built) -> None:
    impact = frame(built.url, "select decision_id, as_of, algorithm_version, symbol, input_batch_ids from marts.fct_decision_impact order by 1")
    assert_rows(impact, (
        union([evaluation_batches(built, a, v), *(bar(built, s, a + (h - 1) * HOUR) for h in (0, 1, 24, 168))])
        for a, v, s in zip(impact["as_of"], impact["algorithm_version"], impact["symbol"], strict=True)
    ), "fct_decision_impact")


def test_constraint_compliance_traces_the_scores_and_the_holdings_master_rows(built: Built) -> None:
    compliance = frame(built.url, """
        select c.evaluation_id, c.constraint_name, c.as_of, c.algorithm_version, c.input_batch_ids,
               array(select symbol from portfolio.composition p where p.evaluation_id = c.evaluation_id) as symbols
        from marts.fct_constraint_compliance c order by 1, 2""")
    valid_from = frame(built.url, "select symbol, valid_from, valid_to from marts.dim_symbols_history")
    expected = []
    for row in compliance.itertuples():
        in_force = valid_from[valid_from["symbol"].isin(row.symbols) & (valid_from["valid_from"] <= row.as_of)
                              & (valid_from["valid_to"].isna() | (valid_from["valid_to"] > row.as_of))]
        expected.append(union([evaluation_batches(built, row.as_of, row.algorithm_version),
                               [opening_snapshot_batch(built, v) for v in in_force["valid_from"]]]))
    assert_rows(compliance, expected, "fct_constraint_compliance")


def opening_snapshot_batch(built: Built, valid_from: pd.Timestamp) -> int:
    """The batch of the snapshot that opens a symbol-master version starting at valid_from: the
    first snapshot at or after it (a version back-dated to the listing starts before its first
    snapshot; a delisting starts at the snapshot that misses the contract)."""
    snapshots = built.data.contracts.groupby("snapshot_time")["batch_id"].first().sort_index()
    return int(snapshots[snapshots.index >= pd.Timestamp(valid_from)].iloc[0])


def test_symbol_master_traces_its_snapshots(built: Built) -> None:
    snapshot_batches = built.data.contracts.groupby("snapshot_time")["batch_id"].first()
    history = frame(built.url, "select symbol, valid_from, input_batch_ids from marts.dim_symbols_history order by 1, 2")
    assert_rows(history, ([opening_snapshot_batch(built, v)] for v in history["valid_from"]), "dim_symbols_history")
    master = frame(built.url, """
        select d.symbol, h.valid_from, d.last_seen_at, d.input_batch_ids
        from marts.dim_symbols d join marts.dim_symbols_history h on h.symbol = d.symbol and h.valid_to is null order by 1""")
    assert_rows(master, (
        union([[opening_snapshot_batch(built, v)], [int(snapshot_batches[pd.Timestamp(last)])]])
        for v, last in zip(master["valid_from"], master["last_seen_at"], strict=True)
    ), "dim_symbols")


def test_aggregating_marts_hold_the_union_of_what_they_aggregate(built: Built) -> None:
    """The marts that summarise others: their array is the union of their inputs' arrays, which the
    tests above recompute from raw."""
    for mart, source, keys in (
        ("fct_scoring_performance_summary", "fct_scoring_performance", ("algorithm_version", "horizon_hours")),
        # the summary measures the evaluations with at least one add and one remove
        ("fct_decision_impact_summary", "fct_decision_impact", ("algorithm_version",)),
    ):
        measured = "and s.evaluation_adds > 0 and s.evaluation_removes > 0" if source == "fct_decision_impact" else ""
        wrong = fetch(built.url, f"""
            select m.{keys[0]} from marts.{mart} m
            where m.input_batch_ids <> array(
                select distinct i from marts.{source} s cross join unnest(s.input_batch_ids) as i
                where {" and ".join(f"s.{k} = m.{k}" for k in keys)} {measured} order by i)""")
        assert wrong == [], f"{mart}: {wrong[:3]}"
    # a sector's rows: its holdings' history rows and their master rows (one snapshot batch each)
    exposure = frame(built.url, "select algorithm_version, as_of, sector, symbols, input_batch_ids from marts.fct_portfolio_sector_exposure order by 1, 2, 3")
    history = frame(built.url, "select algorithm_version, as_of, symbol, input_batch_ids from marts.fct_portfolio_history")
    master = frame(built.url, "select symbol, valid_from, valid_to, input_batch_ids from marts.dim_symbols_history")
    expected = []
    for row in exposure.itertuples():
        ids: set[int] = set()
        for symbol in row.symbols:
            held = history[(history["algorithm_version"] == row.algorithm_version) & (history["as_of"] == row.as_of) & (history["symbol"] == symbol)]
            ids |= set(held["input_batch_ids"].iloc[0])
            in_force = master[(master["symbol"] == symbol) & (master["valid_from"] <= row.as_of)
                              & (master["valid_to"].isna() | (master["valid_to"] > row.as_of))]
            ids |= {i for arr in in_force["input_batch_ids"] for i in arr}
        expected.append(sorted(ids))
    assert_rows(exposure, expected, "fct_portfolio_sector_exposure")
    analytics = frame(built.url, "select algorithm_version, period, period_start, period_end, input_batch_ids from marts.fct_portfolio_analytics order by 1, 2")
    assert_rows(analytics, (
        union(history[(history["algorithm_version"] == v) & (history["as_of"] >= s) & (history["as_of"] < e)]["input_batch_ids"])
        for v, s, e in zip(analytics["algorithm_version"], analytics["period_start"], analytics["period_end"], strict=True)
    ), "fct_portfolio_analytics")
