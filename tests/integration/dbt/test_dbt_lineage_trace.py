"""Lineage through declared key references (orchestration/lineage/trace.py), on real PostgreSQL
and dbt over the shared portfolio build plus a policy evaluation.

The resolver's output for each reference path is compared with pandas recomputed from the raw
minute rows (the batches of each 1h bar: lineage_reference.bar_batches) and the definitions in the
models' YAML; only keys and groupings the models measure (holdings, eligibility, completeness)
are read back. A row's total must be its own array (verified by test_dbt_lineage) united with
those paths. The data has a bar whose minutes came in two batches (synthetic.SPLIT_HOUR), frames
spanning the three daily batches and SOLUSDTM's gap (hours 40..42: no bars, then no 1-hour
return at hour 43).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.lineage.trace import Lineage, LineageError, TracedRow, trace
from orchestration.settings import DBT_PROJECT_DIR
from tests.integration.dbt import synthetic
from tests.integration.dbt.conftest import BuiltDatabase, Portfolio
from tests.integration.dbt.dbt_cli import Dbt, frame
from tests.integration.dbt.lineage_reference import (
    HOUR, Bars, bar_batches, data_window_batches, return_batches, return_hours, symbol_bars, union,
)
from tests.integration.dbt.synthetic_portfolio import add_policy_evaluation

# the project's default vars (dbt_project.yml)
REGIME_SYMBOL = "XBTUSDTM"  # market_regime.symbol
TREND = pd.Timedelta(hours=24)  # market_regime.trend_hours
LOOKBACK = pd.Timedelta(hours=720)  # market_regime.volatility_lookback_hours
VOLATILITY_BARS = 25  # rv_close_to_close_24 (indicators.realized_volatility_period = 24): 25 bars
CORRELATION_WINDOW = pd.Timedelta(days=30)  # correlations.window_days
CANDLES = "int_candles_1h"


@dataclass(frozen=True)
class Built:
    url: str
    manifest: Path
    lineage: Lineage
    data: synthetic.Synthetic
    bars: Bars


@pytest.fixture(scope="module")
def built(portfolio_built: BuiltDatabase[Portfolio], dbt_work_dir: Path) -> Built:
    url, portfolio = portfolio_built.clone()
    add_policy_evaluation(url, Dbt(url, dbt_work_dir))  # its dbt run writes the manifest
    manifest = dbt_work_dir / "target" / "manifest.json"
    return Built(url, manifest, Lineage.from_manifest_file(manifest), portfolio.data, bar_batches(portfolio.data))


def traced(built: Built, model: str, where: str = "true") -> list[TracedRow]:
    with psycopg.connect(built.url, autocommit=True) as conn:
        return trace(conn, built.lineage, model, where)


def assert_paths(rows: list[TracedRow], own: Iterable[list[int]], expected: Iterable[dict[str, list[int]]], what: str) -> None:
    """Each row's path contributions equal `expected` (an absent path: nothing reached) and its
    batch ids are its own array united with them."""
    rows_expected = list(zip(own, expected, strict=True))
    assert len(rows) == len(rows_expected) > 0, what
    for row, (own_ids, paths) in zip(rows, rows_expected, strict=True):
        for path, ids in paths.items():
            assert row.contributions.get(path, []) == ids, f"{what} {row.key}: {path}"
        assert row.batch_ids == union([own_ids, *paths.values()]), f"{what} {row.key}"


def symbols(built: Built) -> list[str]:
    return sorted({s for s, _ in built.bars})


# ---- the reference ----------------------------------------------------------------------------


def regime_batches(built: Built, hour: pd.Timestamp) -> list[int]:
    """int_market_regime_1h at `hour`: the two trend bars when both exist, and the 25-bar frame of
    every volatility value in (hour - 720h, hour] (a bar with 24 bars before it has one)."""
    starts = symbol_bars(built.bars, REGIME_SYMBOL)
    sets: list[frozenset[int]] = []
    if (REGIME_SYMBOL, hour) in built.bars and (REGIME_SYMBOL, hour - TREND) in built.bars:
        sets += [built.bars[(REGIME_SYMBOL, hour)], built.bars[(REGIME_SYMBOL, hour - TREND)]]
    for position, start in enumerate(starts):
        if position >= VOLATILITY_BARS - 1 and hour - LOOKBACK < start <= hour:
            sets += [built.bars[(REGIME_SYMBOL, b)] for b in starts[position - VOLATILITY_BARS + 1 : position + 1]]
    return union(sets)


def window_returns(built: Built, as_of: pd.Timestamp) -> dict[str, set[pd.Timestamp]]:
    """Each contract's 1-hour return hours in the correlation window [as_of - 30 days, as_of)."""
    return {s: {h for h in return_hours(built.bars, s) if as_of - CORRELATION_WINDOW <= h < as_of} for s in symbols(built)}


def pair_batches(built: Built, returns: dict[str, set[pd.Timestamp]], a: str, b: str) -> list[int]:
    """A pair's correlation: the two bars of both returns at each common return hour."""
    return union(return_batches(built.bars, s, h) for h in returns[a] & returns[b] for s in (a, b))


def all_pairs_batches(built: Built, as_of: pd.Timestamp) -> list[int]:
    returns = window_returns(built, as_of)
    return union(pair_batches(built, returns, a, b) for a in returns for b in returns if a < b)


REGIME_PATH = f"int_market_regime_1h > {CANDLES}"
CORRELATION_PATH = f"int_return_correlations_30d > {CANDLES}"
CLUSTER_PATH = f"int_correlation_clusters_1d > {CORRELATION_PATH}"


# ---- intermediate models ----------------------------------------------------------------------


def test_regime_traces_its_trend_bars_and_every_volatility_frame(built: Built) -> None:
    rows = traced(built, "int_market_regime_1h")
    hours = [pd.Timestamp(r.key["bucket_start"]) for r in rows]
    assert hours == sorted({b for _, b in built.bars})  # one row per hour with any bar, in key order
    assert_paths(rows, ([] for _ in rows), ({REGIME_PATH: regime_batches(built, h)} for h in hours), "int_market_regime_1h")
    # the split hour's late batch reaches every frame over hour 5; the first hours read nothing
    late_hour = pd.Timestamp(synthetic.START) + 5 * HOUR
    late = built.bars[(REGIME_SYMBOL, late_hour)] - built.bars[(REGIME_SYMBOL, late_hour - HOUR)]
    assert late and late <= set(rows[-1].batch_ids) and len(rows[-1].batch_ids) >= 4
    assert rows[0].batch_ids == [] and rows[0].contributions == {}


def test_correlations_and_clusters_trace_the_common_return_bars(built: Built) -> None:
    pairs = traced(built, "int_return_correlations_30d")
    returns = {a: window_returns(built, a) for a in {pd.Timestamp(p.key["as_of"]) for p in pairs}}
    expected = [pair_batches(built, returns[pd.Timestamp(p.key["as_of"])], p.key["symbol_a"], p.key["symbol_b"]) for p in pairs]
    assert_paths(pairs, ([] for _ in pairs), ({CORRELATION_PATH: ids} for ids in expected), "int_return_correlations_30d")
    # SOLUSDTM's gap: no 1-hour return at hour 43 (its previous bar is at 39), so no pair has it
    gap_end = pd.Timestamp(synthetic.START) + 43 * HOUR
    assert ("SOLUSDTM", gap_end) in built.bars and gap_end not in return_hours(built.bars, "SOLUSDTM")
    clusters = traced(built, "int_correlation_clusters_1d")
    assert_paths(clusters, ([] for _ in clusters),
                 ({CLUSTER_PATH: all_pairs_batches(built, pd.Timestamp(c.key["as_of"]))} for c in clusters), "int_correlation_clusters_1d")


# ---- marts -------------------------------------------------------------------------------------


def own(built: Built, model: str, columns: str) -> pd.DataFrame:
    return frame(built.url, f"select {columns}, input_batch_ids from marts.{model} order by {columns}")


def test_symbol_master_traces_its_bars_volatility_frame_and_cluster(built: Built) -> None:
    master = own(built, "dim_symbols", "symbol")
    facts = frame(built.url, "select symbol, realized_volatility_annualized, cluster_as_of from marts.dim_symbols order by symbol")
    rows = traced(built, "dim_symbols")
    expected = []
    for row in facts.itertuples():
        # bar_count: every bar (the volatility's 25-bar frame is among them)
        expected.append({
            f"dim_symbols > {CANDLES}": union(built.bars[(row.symbol, b)] for b in symbol_bars(built.bars, row.symbol)),
            f"dim_symbols > {CLUSTER_PATH}": all_pairs_batches(built, pd.Timestamp(row.cluster_as_of)),
        })
    assert [r.key["symbol"] for r in rows] == list(master["symbol"])
    assert_paths(rows, master["input_batch_ids"].map(list), expected, "dim_symbols")
    assert facts["cluster_as_of"].notna().all()


def test_the_volatility_frame_alone_is_the_last_25_bars(built: Built) -> None:
    """dim_symbols' volatility reference on its own (bar_count's covers it in the union)."""
    only_frame = Lineage({**_manifest(built), "nodes": {
        k: _only_reference(n, 1) if n["name"] == "dim_symbols" else n for k, n in _manifest(built)["nodes"].items()}})
    with psycopg.connect(built.url, autocommit=True) as conn:
        rows = trace(conn, only_frame, "dim_symbols", "symbol in ('SOLUSDTM', 'XBTUSDTM')")
    for row in rows:
        frame_starts = symbol_bars(built.bars, row.key["symbol"])[-VOLATILITY_BARS:]
        assert row.contributions[f"dim_symbols > {CANDLES}"] == union(built.bars[(row.key["symbol"], b)] for b in frame_starts)


def test_constraint_compliance_traces_the_regime_and_the_holdings_correlations(built: Built) -> None:
    compliance = own(built, "fct_constraint_compliance", "evaluation_id, constraint_name")
    facts = frame(built.url, """
        select c.evaluation_id, c.constraint_name, c.as_of, c.algorithm_version,
               array(select symbol from portfolio.composition p where p.evaluation_id = c.evaluation_id order by symbol) as holdings
        from marts.fct_constraint_compliance c order by 1, 2""")
    complete = {(a, b, pd.Timestamp(t)) for a, b, t in frame(
        built.url, "select symbol_a, symbol_b, as_of from intermediate.int_return_correlations_30d where is_complete").itertuples(index=False)}
    regime_hours = {b for _, b in built.bars}
    expected = []
    for row in facts.itertuples():
        regime_hour = pd.Timestamp(row.as_of) - HOUR
        assert row.algorithm_version == "v1"  # add_policy_evaluation's, a scored version
        paths = {
            f"fct_constraint_compliance > {REGIME_PATH}": regime_batches(built, regime_hour) if regime_hour in regime_hours else [],
            # the ranked scores: every contract with a bar ending at as_of (v1 is scored here)
            "fct_constraint_compliance > fct_symbol_scores": union(
                data_window_batches(built.bars, s, regime_hour) for s, b in built.bars if b == regime_hour),
        }
        day = pd.Timestamp(row.as_of).floor("1D")
        returns = window_returns(built, day)
        paths[f"fct_constraint_compliance > {CORRELATION_PATH}"] = union(
            pair_batches(built, returns, a, b) for a in row.holdings for b in row.holdings
            if a < b and row.constraint_name == "max_pairwise_correlation" and (a, b, day) in complete
        )
        expected.append(paths)
    rows = traced(built, "fct_constraint_compliance")
    assert_paths(rows, compliance["input_batch_ids"].map(list), expected, "fct_constraint_compliance")
    # the split hour's late batch: only through the regime's frames
    late_batch = built.data.batch_ids[-1]
    assert all(late_batch in r.batch_ids and late_batch in r.contributions[f"fct_constraint_compliance > {REGIME_PATH}"] for r in rows)


def test_scoring_performance_traces_the_lagged_rankings(built: Built) -> None:
    performance = own(built, "fct_scoring_performance", "algorithm_version, horizon_hours, score_time")
    counts = frame(built.url, "select autocorrelation_symbol_count from marts.fct_scoring_performance order by algorithm_version, horizon_hours, score_time")
    eligible = frame(built.url, "select algorithm_version, score_time, symbol, bucket_start from marts.fct_symbol_scores where is_eligible")

    def cross_section(version: str, score_time: pd.Timestamp) -> list[int]:
        group = eligible[(eligible["algorithm_version"] == version) & (eligible["score_time"] == score_time)]
        return union(data_window_batches(built.bars, s, b) for s, b in zip(group["symbol"], group["bucket_start"], strict=True))

    # the current cross-section, and the lagged one where the autocorrelation is computed
    expected = [
        {"fct_scoring_performance > fct_symbol_scores": union([
            cross_section(row.algorithm_version, row.score_time),
            cross_section(row.algorithm_version, row.score_time - int(row.horizon_hours) * HOUR) if count > 0 else [],
        ])}
        for row, count in zip(performance.itertuples(), counts["autocorrelation_symbol_count"], strict=True)
    ]
    rows = traced(built, "fct_scoring_performance")
    assert_paths(rows, performance["input_batch_ids"].map(list), expected, "fct_scoring_performance")
    assert (counts["autocorrelation_symbol_count"] > 0).any() and (counts["autocorrelation_symbol_count"] == 0).any()


def test_portfolio_analytics_traces_the_diversification_hours(built: Built) -> None:
    analytics = own(built, "fct_portfolio_analytics", "algorithm_version, period")
    facts = frame(built.url, """
        select period_start, period_end, latest_evaluation_id, diversification_hours
        from marts.fct_portfolio_analytics order by algorithm_version, period""")
    history = frame(built.url, "select evaluation_id, symbol from marts.fct_portfolio_history")
    expected = []
    for row in facts.itertuples():
        holdings = sorted(history.loc[history["evaluation_id"] == row.latest_evaluation_id, "symbol"])
        hours = set.intersection(*(return_hours(built.bars, s) for s in holdings))
        sample = sorted(h for h in hours if row.period_start <= h < row.period_end)
        assert len(sample) == row.diversification_hours, row
        expected.append({f"fct_portfolio_analytics > {CANDLES}": union(return_batches(built.bars, s, h) for s in holdings for h in sample)})
    rows = traced(built, "fct_portfolio_analytics")
    assert_paths(rows, analytics["input_batch_ids"].map(list), expected, "fct_portfolio_analytics")
    assert (facts["diversification_hours"] > 0).any()


def _arrays(built: Built, model: str, key: str) -> dict[tuple[Any, ...], list[int]]:
    """Each row's input_batch_ids by its key columns (as the resolver names the row)."""
    rows = frame(built.url, f"select {key}, input_batch_ids from marts.{model}")
    columns = [c.strip() for c in key.split(",")]
    return {tuple(row[c] for c in columns): list(row["input_batch_ids"]) for _, row in rows.iterrows()}


def _by_key(rows: list[TracedRow]) -> dict[tuple[Any, ...], TracedRow]:
    return {tuple(row.key.values()): row for row in rows}


def _row_of(built: Built, model: str, rows: dict[tuple[Any, ...], TracedRow], fact: Any) -> TracedRow:
    """The traced row of `fact` (a row of the model read with its key columns)."""
    return rows[tuple(getattr(fact, c) for c in built.lineage.model(model).key)]


def test_portfolio_marts_reach_the_ranked_scores_and_what_the_scores_reference(built: Built) -> None:
    # the marts that combine an evaluation's scores reference them (and so reach what the scores
    # reference, e.g. v2's reliability weights); each direct path holds exactly the rows they combine
    # three evaluations of each version (the first, a middle and the last formed), to keep it quick
    picked = frame(built.url, """
        select evaluation_id, as_of from (
            select evaluation_id, as_of, row_number() over w as n, count(*) over (partition by algorithm_version) as k
            from marts.fct_portfolio_history group by evaluation_id, as_of, algorithm_version
            window w as (partition by algorithm_version order by as_of)) e
        where n in (1, k / 2 + 1, k)""")
    evaluations, times = ", ".join(map(str, picked["evaluation_id"])), ", ".join(f"'{t.isoformat()}'" for t in picked["as_of"])
    in_picked = f"r.as_of in ({times})"
    scores = frame(built.url, "select score_time, algorithm_version, input_batch_ids from marts.fct_symbol_scores")
    ranked = {k: union(g["input_batch_ids"]) for k, g in scores.groupby(["score_time", "algorithm_version"])}
    for model in ("fct_decisions", "fct_portfolio_composition", "fct_portfolio_history"):
        key = ", ".join(built.lineage.model(model).key)  # the columns the resolver names a row by
        facts = frame(built.url, f"select {key}, as_of, algorithm_version as version from marts.{model} r where {in_picked} order by {key}")
        rows = _by_key(traced(built, model, in_picked))
        assert len(rows) == len(facts) > 0, model
        for fact in facts.itertuples(index=False):
            row = rows[tuple(getattr(fact, c.strip()) for c in key.split(","))]
            # an evaluation of the shared portfolio history at an hour its version did not score ranks nothing
            assert row.contributions.get(f"{model} > fct_symbol_scores", []) == ranked.get((fact.as_of, fact.version), []), (model, row.key)
        assert any(f"{model} > fct_symbol_scores" in row.contributions for row in rows.values()), model
    # one level further: each traced row of these marts holds its upstream rows' arrays on the path
    history = frame(built.url, "select algorithm_version, as_of, symbol, input_batch_ids from marts.fct_portfolio_history")
    exposure = frame(built.url, f"select * from marts.fct_portfolio_sector_exposure r where {in_picked}")
    rows = _by_key(traced(built, "fct_portfolio_sector_exposure", in_picked))
    assert len(rows) == len(exposure) > 0
    for fact in exposure.itertuples(index=False):
        held = history[(history["algorithm_version"] == fact.algorithm_version) & (history["as_of"] == fact.as_of) & history["symbol"].isin(fact.symbols)]
        row = _row_of(built, "fct_portfolio_sector_exposure", rows, fact)
        assert len(held) == len(fact.symbols)
        assert row.contributions["fct_portfolio_sector_exposure > fct_portfolio_history"] == union(held["input_batch_ids"])
        assert row.contributions.get("fct_portfolio_sector_exposure > fct_portfolio_history > fct_symbol_scores", []) == ranked.get((fact.as_of, fact.algorithm_version), [])
    decisions = _arrays(built, "fct_decisions", "decision_id")
    impact = frame(built.url, "select * from marts.fct_decision_impact")
    rows = _by_key(traced(built, "fct_decision_impact", f"r.evaluation_id in ({evaluations})"))
    assert 0 < len(rows) == impact["evaluation_id"].isin(picked["evaluation_id"]).sum()
    for fact in impact[impact["evaluation_id"].isin(picked["evaluation_id"])].itertuples(index=False):
        assert _row_of(built, "fct_decision_impact", rows, fact).contributions["fct_decision_impact > fct_decisions"] == decisions[(fact.decision_id,)]
    actions = impact.groupby("evaluation_id")["action"].agg(set)
    measured = impact[impact["evaluation_id"].map(lambda e: {"add", "remove"} <= actions[e])]
    summary = frame(built.url, "select * from marts.fct_decision_impact_summary")
    rows = _by_key(traced(built, "fct_decision_impact_summary"))
    assert len(rows) == len(summary) > 0
    for fact in summary.itertuples(index=False):
        expected = union(measured.loc[measured["algorithm_version"] == fact.algorithm_version, "input_batch_ids"])
        assert _row_of(built, "fct_decision_impact_summary", rows, fact).contributions["fct_decision_impact_summary > fct_decision_impact"] == expected
    periods = frame(built.url, "select * from marts.fct_portfolio_analytics")
    rows = _by_key(traced(built, "fct_portfolio_analytics"))
    for fact in periods.itertuples(index=False):
        held = history[(history["algorithm_version"] == fact.algorithm_version) & (history["as_of"] >= fact.period_start) & (history["as_of"] < fact.period_end)]
        assert _row_of(built, "fct_portfolio_analytics", rows, fact).contributions["fct_portfolio_analytics > fct_portfolio_history"] == union(held["input_batch_ids"])


# ---- the declarations -------------------------------------------------------------------------

TRACED_THROUGH_REFERENCES = (
    "int_market_regime_1h", "int_return_correlations_30d", "int_correlation_clusters_1d", "fct_constraint_compliance",
    "dim_symbols", "fct_scoring_performance", "fct_portfolio_analytics", "int_signal_source_reliability", "int_signal_sentiment_1h",
    "fct_symbol_scores", "int_agent_evaluations_1h", "int_agent_accuracy_1h", "int_agent_consensus_1h", "fct_agent_performance",
    "fct_decisions", "fct_portfolio_composition", "fct_portfolio_history", "fct_portfolio_sector_exposure", "fct_decision_impact",
    "fct_decision_impact_summary",
)


def _manifest(built: Built) -> dict[str, Any]:
    return json.loads(built.manifest.read_text())


def _only_reference(node: dict[str, Any], index: int) -> dict[str, Any]:
    references = node["config"]["meta"]["lineage"]["references"]
    return {**node, "config": {**node["config"], "meta": {"lineage": {"references": [references[index]]}}}}


def _with_lineage(built: Built, model: str, lineage: dict[str, Any]) -> dict[str, Any]:
    manifest = _manifest(built)
    for node in manifest["nodes"].values():
        if node["name"] == model:
            node["config"]["meta"] = {"lineage": lineage}
    return manifest


def _with_reference(built: Built, model: str, reference: dict[str, Any]) -> dict[str, Any]:
    return _with_lineage(built, model, {"references": [reference]})


def test_every_declared_reference_resolves_and_nothing_is_left_untraced(built: Built) -> None:
    for model in TRACED_THROUGH_REFERENCES:
        assert built.lineage.model(model).references, model
    declaring = [m.name for m in built.lineage.models.values() if m.references]
    for model in declaring:  # each one's statement runs (on no row: cheap)
        assert traced(built, model, "false") == [], model
    # a YAML that says an input is a lineage reference declares one
    for node in _manifest(built)["nodes"].values():
        texts = [node.get("description") or "", *(c.get("description") or "" for c in (node.get("columns") or {}).values())]
        if node["resource_type"] == "model" and any("lineage reference" in t for t in texts):
            assert built.lineage.model(node["name"]).references, node["name"]
    untraced = subprocess.run(["grep", "-rn", "not traced", str(DBT_PROJECT_DIR / "models")], capture_output=True, text=True, check=False)
    assert untraced.stdout == ""


@pytest.mark.parametrize(("reference", "message"), [
    ({"model": "int_nowhere", "match": "u.symbol = r.symbol", "holds": "x"}, "dim_symbols: lineage reference to 'int_nowhere', which is not a model"),
    ({"model": CANDLES, "match": "c.symbol = r.symbol", "holds": "x"}, "dim_symbols -> int_candles_1h: match 'c.symbol = r.symbol' may qualify columns only with ['r', 'u'], not ['c']"),
    ({"model": CANDLES, "match": "u.symbol = 'XBTUSDTM'", "holds": "x"}, "must use the traced row (r.)"),
    ({"model": CANDLES, "match": "u.symbol = r.symbol; drop table x", "holds": "x"}, "must be one expression"),
    ({"model": CANDLES, "match": "u.symbol = r.symbol"}, "dim_symbols: a lineage reference lacks ['holds'] / has unknown keys []"),
    ({"model": CANDLES, "match": "u.symbol = r.symbol", "holds": "x", "exist": []}, "has unknown keys ['exist']"),
    ({"model": CANDLES, "match": "u.symbol = r.symbol", "holds": "x", "exists": [{"model": CANDLES, "alias": "u", "match": "u.x"}]}, "exists alias 'u'"),
])
def test_a_bad_declaration_is_refused_naming_the_model_and_the_rule(built: Built, reference: dict[str, Any], message: str) -> None:
    with pytest.raises(LineageError, match=re.escape(message)):
        Lineage(_with_reference(built, "dim_symbols", reference))


def test_a_model_with_two_unique_keys_is_printed_by_its_declared_key(built: Built) -> None:
    """fct_portfolio_composition's tests make (version, symbol) and (version, position) unique: its
    YAML names the first; without the declaration the resolver refuses to pick one."""
    assert built.lineage.model("fct_portfolio_composition").key == ("algorithm_version", "symbol")
    assert built.lineage.model("stg_portfolio__composition").key == ("evaluation_id", "symbol")
    [row, *_] = traced(built, "fct_portfolio_composition")
    assert set(row.key) == {"algorithm_version", "symbol"}
    undeclared = _with_lineage(built, "fct_portfolio_composition", {})
    with pytest.raises(LineageError, match=re.escape(
            "fct_portfolio_composition: its tests make 2 keys unique (algorithm_version, position; algorithm_version, symbol): "
            "declare the one its rows are printed by as meta.lineage.key")):
        Lineage(undeclared)
    for bad in (["algorithm_version", "nowhere"], [], "symbol"):
        with pytest.raises(LineageError, match=re.escape(f"fct_portfolio_composition: meta.lineage.key {bad!r} must be a list of the model's documented columns")):
            Lineage(_with_lineage(built, "fct_portfolio_composition", {"key": bad}))


def test_a_where_predicate_cannot_write(built: Built) -> None:
    with pytest.raises(LineageError, match="must be one expression"):
        traced(built, "dim_symbols", "true; drop table marts.dim_symbols")
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        traced(built, "dim_symbols", "nextval(pg_get_serial_sequence('raw.load_batches', 'batch_id')) > 0")


def test_cli_traces_one_row_end_to_end(built: Built) -> None:
    hour = pd.Timestamp(synthetic.START) + 60 * HOUR
    result = CliRunner().invoke(
        main, ["lineage", "trace", "int_market_regime_1h", "--where", f"bucket_start = '{hour.isoformat()}'", "--manifest", str(built.manifest), "--json"],
        env={"ZMART_DATABASE_URL": built.url}, catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert pd.Timestamp(row["key"]["bucket_start"]) == hour and row["batch_ids"] == regime_batches(built, hour)
    printed = CliRunner().invoke(
        main, ["lineage", "trace", "int_market_regime_1h", "--where", f"bucket_start = '{hour.isoformat()}'", "--manifest", str(built.manifest)],
        env={"ZMART_DATABASE_URL": built.url}, catch_exceptions=False,
    )
    assert printed.exit_code == 0 and "int_market_regime_1h: 1 rows" in printed.output and "bucket_start=" in printed.output
    table = CliRunner().invoke(main, ["lineage", "trace", "int_nowhere", "--where", "true", "--manifest", str(built.manifest)],
                               env={"ZMART_DATABASE_URL": built.url})
    assert table.exit_code != 0 and "model 'int_nowhere' is not a model of the project" in table.output
    refused = CliRunner().invoke(main, ["lineage", "trace", "dim_symbols", "--where", "symbol = = 1", "--manifest", str(built.manifest)],
                                 env={"ZMART_DATABASE_URL": built.url})
    assert refused.exit_code != 0 and "dim_symbols --where 'symbol = = 1': syntax error" in refused.output


def test_agent_accuracy_traces_the_resolved_calls_and_their_lookbacks(built: Built) -> None:
    """int_agent_accuracy_1h at (agent, as_of): the calls resolved in (as_of - 168h, as_of] (buy or
    sell evaluated at s in (as_of - 192h, as_of - 24h], with a forward return), what each read (the
    bar; every earlier bar for technical, the 25-bar frame for risk) and the return's two bars."""
    calls = frame(built.url, """
        select e.agent, e.symbol, e.score_time, e.bucket_start from intermediate.int_agent_evaluations_1h e
        join intermediate.int_forward_returns_1h f on f.symbol = e.symbol and f.score_time = e.score_time and f.horizon_hours = 24
        where e.recommendation in ('buy', 'sell') and f.forward_return is not null""")
    rows = traced(built, "int_agent_accuracy_1h", "agent in ('technical', 'risk')")
    expected = []
    for row in rows:
        as_of = pd.Timestamp(row.key["as_of"])
        resolved = calls[(calls["agent"] == row.key["agent"]) & (calls["score_time"] > as_of - (168 + 24) * HOUR) & (calls["score_time"] <= as_of - 24 * HOUR)]
        own_bars, lookbacks, outcomes = [], [], []
        for symbol, bucket in zip(resolved["symbol"], resolved["bucket_start"], strict=True):
            starts = [b for b in symbol_bars(built.bars, symbol) if b <= bucket]
            own_bars.append(built.bars[(symbol, bucket)])
            lookbacks += [built.bars[(symbol, b)] for b in (starts if row.key["agent"] == "technical" else starts[-VOLATILITY_BARS:])]
            outcomes += [built.bars[(symbol, bucket)], built.bars[(symbol, bucket + 24 * HOUR)]]
        expected.append({
            "int_agent_accuracy_1h > int_agent_evaluations_1h": union(own_bars),
            f"int_agent_accuracy_1h > int_agent_evaluations_1h > {CANDLES}": union(lookbacks),
            "int_agent_accuracy_1h > int_forward_returns_1h": union(outcomes),
        })
    assert_paths(rows, ([] for _ in rows), expected, "int_agent_accuracy_1h")
    assert any(r.batch_ids for r in rows) and any(not r.batch_ids for r in rows)  # resolved calls, and none yet
