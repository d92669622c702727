"""The dbt project built over the full history on real PostgreSQL, checked against pandas and TA-Lib.

One database per module: synthetic raw data (tests/integration/dbt/synthetic.py) and one
`dbt build` without vars, the way a full refresh runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestration.settings import DBT_PROJECT_DIR
from tests.conftest import create_database
from tests.integration.dbt import indicator_reference, synthetic
from tests.integration.dbt.conftest import BuiltDatabase
from tests.integration.dbt.dbt_cli import Dbt, fetch, frame, window

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
RELATIONS = (
    "staging.stg_kucoin__contracts", "staging.stg_kucoin__candles_1m", "staging.stg_kucoin__load_batches",
    "staging.stg_kucoin__load_batch_symbols", "staging.stg_kucoin__quarantined_candles_1m",
    "staging.stg_history__algorithm_versions", "staging.stg_history__schema_migrations",
    "staging.stg_portfolio__evaluations", "staging.stg_portfolio__composition", "staging.stg_portfolio__decisions",
    "intermediate.int_candles_5m", "intermediate.int_candles_15m", "intermediate.int_candles_1h",
    "intermediate.int_candles_4h", "intermediate.int_candles_1d", "intermediate.int_returns_1h",
    "intermediate.int_indicators_1h_moving_averages", "intermediate.int_indicators_1h_macd",
    "intermediate.int_indicators_1h_momentum", "intermediate.int_indicators_1h_directional_movement",
    "intermediate.int_indicators_1h_volatility", "intermediate.int_indicators_1h_volume",
    "intermediate.int_indicators_1h", "intermediate.int_order_book_snapshots", "intermediate.int_market_structure_1h",
    "intermediate.int_liquidity_1h", "intermediate.int_return_comoments_1d", "intermediate.int_return_correlations_30d",
    "staging.stg_signals__signals", "intermediate.int_signal_event_members", "intermediate.int_signal_events",
    "intermediate.int_signal_source_reliability", "intermediate.int_signal_sentiment_1h",
    "intermediate.int_forward_returns_1h", "intermediate.int_market_regime_1h", "marts.fct_constraint_compliance",
    "intermediate.int_score_components_1h", "intermediate.int_correlation_clusters_1d",
    "intermediate.int_agent_evaluations_1h", "intermediate.int_agent_accuracy_1h", "intermediate.int_agent_consensus_1h",
    "marts.fct_agent_performance",
    "marts.dim_symbols", "marts.dim_symbols_history", "marts.fct_symbol_scores", "marts.fct_portfolio_composition",
    "marts.fct_decisions", "marts.fct_scoring_performance", "marts.fct_scoring_performance_summary",
    "marts.fct_portfolio_history", "marts.fct_portfolio_analytics", "marts.fct_portfolio_sector_exposure",
    "marts.fct_decision_impact", "marts.fct_decision_impact_summary", "marts.fct_data_quality",
    "marts.scoring_algorithms", "marts.scoring_algorithm_weights", "marts.scoring_algorithm_parameters",
)
# The staging views over the change-history ledgers, which an empty database already fills: the
# migrations applied and the versions fct_symbol_scores' post-hook records on its first build.
LEDGER_VIEWS = {
    "staging.stg_history__algorithm_versions": "history.algorithm_versions",
    "staging.stg_history__schema_migrations": "history.schema_migrations",
}


@dataclass(frozen=True)
class Built:
    url: str
    dbt: Dbt
    data: synthetic.Synthetic


@pytest.fixture(scope="module")
def built(synthetic_built: BuiltDatabase[synthetic.Synthetic], dbt_work_dir: Path) -> Iterator[Built]:
    url, data = synthetic_built.clone()  # synthetic.populate + `dbt build`, once per session (conftest.py)
    yield Built(url, Dbt(url, dbt_work_dir), data)




def test_parse_build_and_docs_succeed_on_an_empty_database(pg_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = create_database(pg_cluster)
    dbt = Dbt(url, tmp_path)
    dbt.run("parse")
    dbt.run("build")
    # the incremental path on empty tables, with a window
    dbt.run("build", "--exclude-resource-type", "test", dbt_vars=window(synthetic.START, synthetic.START + pd.Timedelta(hours=5)))
    dbt.run("docs", "generate")
    assert (tmp_path / "target" / "catalog.json").exists()
    expected = {f"marts.{csv.stem}": len(pd.read_csv(csv)) for csv in SEEDS_DIR.glob("scoring_algorithm*.csv")}
    expected |= {view: fetch(url, f"select count(*) from {ledger}")[0][0] for view, ledger in LEDGER_VIEWS.items()}
    for relation in RELATIONS:
        count = fetch(url, f"select count(*) from {relation}")[0][0]
        assert count == expected.get(relation, 0), relation


def test_docs_generate_on_the_populated_database(built: Built) -> None:
    built.dbt.run("docs", "generate")
    assert (built.dbt.work_dir / "target" / "catalog.json").exists()


def test_candles_1h_match_a_pandas_resample_of_the_minutes(built: Built) -> None:
    expected = synthetic.expected_candles_1h(built.data)
    actual = frame(built.url, "select * from intermediate.int_candles_1h order by symbol, bucket_start")
    assert list(actual[["symbol", "bucket_start"]].itertuples(index=False)) == list(
        expected[["symbol", "bucket_start"]].itertuples(index=False)
    )
    for column in ("open", "high", "low", "close", "volume_lots", "minute_count", "is_complete"):
        assert actual[column].tolist() == expected[column].tolist(), column
    for column in ("volume_base", "turnover_quote"):
        np.testing.assert_allclose(actual[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-12, atol=0)
    assert actual["batch_ids"].tolist() == expected["batch_ids"].tolist()
    assert (actual["bucket_end"] == actual["bucket_start"] + pd.Timedelta(hours=1)).all()

    # volume is conserved exactly, contract by contract
    raw_totals = dict(fetch(built.url, "select symbol, sum(volume) from raw.candles_1m group by symbol"))
    assert actual.groupby("symbol")["volume_lots"].sum().to_dict() == raw_totals
    # the split hour carries both candle batches; the gap has no bar; the partial hour is incomplete
    symbol, hour, _ = synthetic.SPLIT_HOUR
    split = actual.loc[(actual["symbol"] == symbol) & (actual["bucket_start"] == synthetic.START + pd.Timedelta(hours=hour))]
    assert len(split.iloc[0]["batch_ids"]) == 3  # two candle loads + the contract snapshot
    sol = actual.loc[actual["symbol"] == "SOLUSDTM"]
    sol_hours = set((sol["bucket_start"] - synthetic.START) // pd.Timedelta(hours=1))
    assert sol_hours.isdisjoint(synthetic.GAP_HOURS["SOLUSDTM"])
    assert sol.loc[sol["minute_count"] < 60, "bucket_start"].tolist() == [synthetic.START + pd.Timedelta(hours=synthetic.PARTIAL_HOUR[1])]
    # an inverse contract: base volume is lots x 1 USD / price, turnover the lots in USD
    inverse = actual.loc[actual["symbol"] == "XBTUSDM"]
    assert inverse["is_inverse"].all() and (inverse["turnover_quote"] == inverse["volume_lots"]).all()


ROLLUPS = ("5m", "15m", "1h", "4h", "1d")


def test_every_rollup_matches_a_pandas_resample_and_conserves_volume_exactly(built: Built) -> None:
    minutes = synthetic.converted_minutes(built.data)
    bars = {}
    for timeframe in ROLLUPS:
        expected = synthetic.expected_candles(built.data, timeframe, minutes)
        actual = frame(built.url, f"select * from intermediate.int_candles_{timeframe} order by symbol, bucket_start")
        bars[timeframe] = actual
        assert actual[["symbol", "bucket_start", "bucket_end"]].equals(expected[["symbol", "bucket_start", "bucket_end"]]), timeframe
        for column in ("open", "high", "low", "close", "volume_lots", "minute_count", "is_complete", "batch_ids"):
            assert actual[column].tolist() == expected[column].tolist(), (timeframe, column)
        # numeric, exact: the turnover of every bar and the base volume of linear contracts
        assert actual["turnover_quote"].tolist() == expected["turnover_exact"].tolist(), timeframe
        linear = expected["volume_base_exact"].notna()
        assert actual.loc[linear, "volume_base"].tolist() == expected.loc[linear, "volume_base_exact"].tolist(), timeframe
        # inverse contracts: lots / price per minute, a numeric quotient; equal to float precision
        np.testing.assert_allclose(actual["volume_base"].to_numpy(float), expected["volume_base"].to_numpy(float), rtol=1e-12, atol=0)

    # conservation: every timeframe adds up to the same totals per contract, to the last digit,
    # and the lots to the raw candles' own sum
    raw_lots = {symbol: Decimal(f"{total:.15g}") for symbol, total in fetch(built.url, "select symbol, sum(volume) from raw.candles_1m group by symbol")}
    for column in ("volume_lots", "volume_base", "turnover_quote", "minute_count"):
        totals = {timeframe: rows.groupby("symbol")[column].sum().to_dict() for timeframe, rows in bars.items()}
        assert all(t == totals["5m"] for t in totals.values()), column
    assert bars["1d"].groupby("symbol")["minute_count"].sum().to_dict() == minutes.groupby("symbol").size().to_dict()
    assert bars["1d"].groupby("symbol")["volume_lots"].sum().to_dict() == raw_lots
    # and bucket by bucket: each bar is the exact sum of the shorter bars it contains
    for shorter, longer in zip(ROLLUPS, ROLLUPS[1:]):
        inner = bars[shorter].assign(bucket_start=bars[shorter]["bucket_start"].dt.floor(synthetic.ROLLUP_FREQUENCIES[longer]))
        sums = inner.groupby(["symbol", "bucket_start"])[["volume_lots", "volume_base", "turnover_quote", "minute_count"]].sum()
        mine = bars[longer].set_index(["symbol", "bucket_start"])[sums.columns]
        assert sums.equals(mine), (shorter, longer)


def test_indicators_equal_talib_and_the_textbook_references(built: Built) -> None:
    comparisons = indicator_reference.check_database(built.url)
    print("\n" + indicator_reference.report(comparisons))
    failures = [c for c in comparisons if not c.ok(rtol=1e-9)]
    assert not failures, failures
    assert {c.column for c in comparisons} >= {"sma_20", "rsi_14", "macd_hist", "adx_14", "mfi_14", "vwap_24"}
    assert all(c.compared > 0 for c in comparisons)

    indicators = frame(built.url, "select * from intermediate.int_indicators_1h order by symbol, bucket_start")
    candles = frame(built.url, "select symbol, bucket_start, close from intermediate.int_candles_1h order by symbol, bucket_start")
    assert indicators[["symbol", "bucket_start", "close"]].equals(candles)
    for _, rows in indicators.groupby("symbol"):
        assert rows["bar_number"].tolist() == list(range(1, len(rows) + 1))
    # the flat start of the late listing takes TA-Lib's zero-movement branches
    new = indicators.loc[indicators["symbol"] == "NEWUSDTM"].reset_index(drop=True)
    assert new["rsi_14"].iloc[14] == 0.0 and new["roc_10"].iloc[10] == 0.0 and new["plus_di_14"].iloc[14] == 0.0
    # the gap is skipped, not filled: the bar after it is measured from the last bar before it
    sol = indicators.loc[indicators["symbol"] == "SOLUSDTM"].set_index("bucket_start")
    after_gap = synthetic.START + pd.Timedelta(hours=max(synthetic.GAP_HOURS["SOLUSDTM"]) + 1)
    before_gap = synthetic.START + pd.Timedelta(hours=min(synthetic.GAP_HOURS["SOLUSDTM"]) - 1)
    assert sol.loc[after_gap, "hours_since_previous_bar"] == len(synthetic.GAP_HOURS["SOLUSDTM"]) + 1
    assert sol.loc[after_gap, "log_return_1"] == np.log(sol.loc[after_gap, "close"] / sol.loc[before_gap, "close"])


def test_every_model_and_column_is_documented(built: Built) -> None:
    built.dbt.run("docs", "generate")
    manifest = json.loads((built.dbt.work_dir / "target" / "manifest.json").read_text())
    catalog = json.loads((built.dbt.work_dir / "target" / "catalog.json").read_text())
    models = {
        k: n for k, n in manifest["nodes"].items()
        if n["resource_type"] == "model" and (n["schema"] == "intermediate" or n["name"] == "fct_symbol_scores")
    }
    for key, node in models.items():
        assert node["description"].strip(), key
        documented = {name for name, column in node["columns"].items() if column["description"].strip()}
        actual = set(catalog["nodes"][key]["columns"])
        assert documented == actual, (key, sorted(actual - documented), sorted(documented - actual))
    # the lineage reaches every indicator from the raw candles
    parents = {k: set(n.get("depends_on", {}).get("nodes", ())) for k, n in manifest["nodes"].items()}

    def ancestors(node: str) -> set[str]:
        seen: set[str] = set()
        todo = [node]
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    for family in ("moving_averages", "macd", "momentum", "directional_movement", "volatility", "volume"):
        lineage = ancestors(f"model.zmart.int_indicators_1h_{family}")
        assert {"source.zmart.raw.candles_1m", "model.zmart.int_candles_5m", "model.zmart.int_candles_1h"} <= lineage, family


def test_scores_carry_version_hash_window_and_batches(built: Built) -> None:
    every_version = frame(built.url, "select * from marts.fct_symbol_scores order by score_time, symbol")
    candles = frame(built.url, "select * from intermediate.int_candles_1h order by symbol, bucket_start")
    indicators = frame(built.url, "select * from intermediate.int_indicators_1h")
    # every seeded version side by side, each scoring every bar; v1 checked here
    # (test_dbt_score_components.py checks every version and its parameters_hash)
    assert set(every_version["algorithm_version"]) == {"v1", "v2"}
    assert (every_version.groupby("algorithm_version").size() == len(candles)).all()
    scores = every_version.loc[every_version["algorithm_version"] == "v1"].reset_index(drop=True)
    assert scores["parameters_hash"].nunique() == 1
    assert (scores["score_time"] == scores["bucket_start"] + pd.Timedelta(hours=1)).all()
    assert (scores["data_window_end"] == scores["score_time"]).all()
    assert (scores["data_window_start"] <= scores["bucket_start"] - pd.Timedelta(hours=23)).all()

    # input_batch_ids: exactly the batches of the contract's bars in [data_window_start, data_window_end)
    by_symbol = {s: rows for s, rows in candles.groupby("symbol")}
    for row in scores.itertuples(index=False):
        bars = by_symbol[row.symbol]
        inside = bars.loc[(bars["bucket_start"] >= row.data_window_start) & (bars["bucket_start"] < row.data_window_end)]
        assert row.input_batch_ids == sorted({b for ids in inside["batch_ids"] for b in ids}), row
    assert set().union(*map(set, scores["input_batch_ids"])) <= set(built.data.batch_ids)

    # eligibility: complete bar, indicators past warm-up, positive turnover; only then a composite in [0, 1]
    merged = scores.merge(indicators[["symbol", "bucket_start", "bar_number"]], on=["symbol", "bucket_start"])
    merged = merged.merge(candles[["symbol", "bucket_start", "is_complete"]], on=["symbol", "bucket_start"])
    assert (merged["is_eligible"] == (merged["is_complete"] & (merged["bar_number"] >= 20))).all()
    eligible = merged.loc[merged["is_eligible"]]
    assert len(eligible) > 0 and eligible["composite_score"].between(0, 1).all()
    assert merged.loc[~merged["is_eligible"], "composite_score"].isna().all()

    # components recomputed independently, then ranked and weighted with pandas
    np.testing.assert_allclose(eligible["trend"], eligible["close"] / eligible["sma_20"] - 1, rtol=1e-12)
    np.testing.assert_allclose(eligible["momentum"], (eligible["rsi_14"] - 50) / 50, rtol=1e-12, atol=1e-15)
    turnover_24h = pd.concat(
        rows.set_index("bucket_start")["turnover_quote"].rolling("24h").sum().rename("expected").reset_index().assign(symbol=s)
        for s, rows in by_symbol.items()
    )
    checked = eligible.merge(turnover_24h, on=["symbol", "bucket_start"])
    np.testing.assert_allclose(checked["turnover_quote_24h"], checked["expected"], rtol=1e-12)
    np.testing.assert_allclose(checked["liquidity"], np.log(checked["expected"]), rtol=1e-12)
    weights = pd.read_csv(SEEDS_DIR / "scoring_algorithm_weights.csv").query("algorithm_version == 'v1'").set_index("component")["weight"]
    composite = pd.Series(0.0, index=eligible.index)
    for component, weight in weights.items():
        ranks = eligible.groupby("score_time")[component].rank(method="min")
        sizes = eligible.groupby("score_time")[component].transform("size")
        percent = ((ranks - 1) / (sizes - 1)).where(sizes > 1, 0.0)
        np.testing.assert_allclose(eligible[f"{component}_score"], percent, rtol=1e-12, atol=1e-15)
        composite += weight * percent
    np.testing.assert_allclose(eligible["composite_score"], composite, rtol=1e-12, atol=1e-15)
    assert (eligible["ranked_universe_size"] == eligible.groupby("score_time")["symbol"].transform("size")).all()


def test_dim_symbols_describe_each_contract_by_its_latest_snapshot(built: Built) -> None:
    dim = frame(built.url, "select * from marts.dim_symbols order by symbol").set_index("symbol")
    assert set(dim.index) == {i.symbol for i in synthetic.INSTRUMENTS}
    live = set(dim.index[dim["is_live"]])
    assert live == synthetic.IN_SECOND_SNAPSHOT
    assert dim.loc["LINKUSDTM", "multiplier"] == 1.0  # the second snapshot's spec
    assert dim.loc["NEWUSDTM", "first_seen_at"] == synthetic.SNAPSHOT_TIMES[1]
    assert dim.loc["XBTUSDM", "is_inverse"] and dim.loc["XBTUSDM", "lot_usd_value"] == 1.0


def test_portfolio_marts_show_the_latest_holdings_and_every_decision(built: Built) -> None:
    latest_id, latest_as_of = built.data.evaluations.iloc[-1]
    composition = frame(built.url, "select * from marts.fct_portfolio_composition order by position")
    assert composition["evaluation_id"].tolist() == [latest_id] * 10
    assert (composition["as_of"] == latest_as_of).all() and set(composition["algorithm_version"]) == {"v1"}
    assert composition["symbol"].tolist() == synthetic.SECOND_HOLDINGS
    assert composition["position"].tolist() == list(range(1, 11)) and sum(composition["weight"]) == 1
    decisions = frame(built.url, "select * from marts.fct_decisions order by decision_id")
    source = frame(built.url, "select * from portfolio.decisions order by decision_id")
    assert decisions["decision_id"].tolist() == source["decision_id"].tolist()
    assert decisions[["action", "reason", "score_rank", "details"]].equals(source[["action", "reason", "score_rank", "details"]])
    as_of = dict(built.data.evaluations[["evaluation_id", "as_of"]].itertuples(index=False))
    assert (decisions["as_of"] == decisions["evaluation_id"].map(as_of)).all()
    assert set(decisions["algorithm_version"]) == {"v1"}
    second = decisions.loc[decisions["evaluation_id"] == latest_id].set_index("symbol")["action"]
    assert (second["BNBUSDTM"], second["NEWUSDTM"], second["XBTUSDTM"]) == ("remove", "add", "hold")
