"""Score components (int_score_components_1h), the versioned composite (fct_symbol_scores, every
seeded version side by side) and the correlation clusters (int_correlation_clusters_1d,
dim_symbols.cluster_*), against references computed here with pandas, numpy and scipy.

The synthetic market has no order-book snapshots, so the test writes book rows into
int_market_structure_1h for two contracts over some hours (a zero depth among them) before the
components are built: the liquidity measures are checked with and without the book. Likewise
int_signal_sentiment_1h rows for three contracts on some hours (one with confidence 0) give the
sentiment component, with and without signals. Clusters are
checked on two crafted correlation days written into int_return_correlations_30d: several
clusters, a chain, a singleton, a pair below the minimum overlap, a pair exactly at the
threshold, null correlations, then a random graph.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
import yaml
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from orchestration.resources.database import ConnectionParams
from orchestration.settings import DBT_PROJECT_DIR
from tests.integration.dbt import synthetic
from tests.integration.dbt.dbt_cli import DBT, Dbt, assert_same_tables, fetch, frame, query_reads, window
from tests.integration.dbt.synthetic import hour

RTOL, ATOL = 1e-9, 1e-12
SEEDS = ("scoring_algorithms", "scoring_algorithm_weights", "scoring_algorithm_parameters")
SCORE_MODELS = ("int_score_components_1h", "fct_symbol_scores")
TABLES = {
    "intermediate.int_score_components_1h": "symbol, bucket_start",
    "marts.fct_symbol_scores": "symbol, score_time, algorithm_version",
    "intermediate.int_correlation_clusters_1d": "as_of, symbol",
}
COMPONENTS = ("liquidity", "momentum", "risk", "sentiment", "trend")
BOOK_SYMBOLS, BOOK_HOURS = ("XBTUSDTM", "ETHUSDTM"), range(30, 46)
ZERO_DEPTH = ("XBTUSDTM", 31)  # a book row whose 50-bps depth is 0: that measure is undefined
# hours with signal sentiment (int_signal_sentiment_1h rows), one of them with confidence 0
SENTIMENT_SYMBOLS, SENTIMENT_HOURS = ("XBTUSDTM", "SOLUSDTM", "DOGEUSDTM"), range(36, 60, 2)
ZERO_CONFIDENCE = ("SOLUSDTM", 40)
BOUNDARIES = (0, 7, 8, 33, 41, synthetic.HOURS)
# the edge rule of the clusters, and the crafted correlation days (after the synthetic history)
CLUSTER_VARS = {"cluster_min_correlation": 0.6, "cluster_min_observations": 100}
CRAFTED_DAY = datetime(2026, 11, 10, tzinfo=synthetic.START.tzinfo)
RANDOM_DAY = CRAFTED_DAY + timedelta(days=1)


def symbols() -> list[str]:
    return sorted(i.symbol for i in synthetic.INSTRUMENTS)


@dataclass(frozen=True)
class Built:
    url: str
    dbt: Dbt
    master_vars: dict[str, object]


def write_book_rows(url: str) -> None:
    rng = np.random.default_rng(7)
    with psycopg.connect(url) as conn:
        for symbol in BOOK_SYMBOLS:
            for offset in BOOK_HOURS:
                depth = 0.0 if (symbol, offset) == ZERO_DEPTH else float(rng.uniform(1e5, 5e6))
                conn.execute(
                    "insert into intermediate.int_market_structure_1h (symbol, bucket_start, book_snapshot_count, book_spread_bps_mean,"
                    " bid_depth_quote_50bps_mean, ask_depth_quote_50bps_mean) values (%s, %s, 12, %s, %s, %s)",
                    (symbol, hour(offset), float(rng.uniform(0.5, 8.0)), depth, depth * float(rng.uniform(0.5, 1.5))),
                )


def write_sentiment_rows(url: str) -> None:
    """What int_signal_sentiment_1h gives for hours with signals (the signals' own models are tested in test_dbt_signals)."""
    rng = np.random.default_rng(13)
    with psycopg.connect(url) as conn:
        for symbol in SENTIMENT_SYMBOLS:
            for offset in SENTIMENT_HOURS:
                confidence = 0.0 if (symbol, offset) == ZERO_CONFIDENCE else float(rng.uniform(0.05, 0.95))
                conn.execute(
                    "insert into intermediate.int_signal_sentiment_1h (symbol, bucket_start, sentiment, confidence, event_count,"
                    " signal_count, source_count, total_weight) values (%s, %s, %s, %s, 1, 1, 1, %s)",
                    (symbol, hour(offset), float(rng.uniform(-1, 1)), confidence, confidence),
                )


def crafted_pairs() -> pd.DataFrame:
    """Two correlation days over the contracts: a handmade graph, then a random one."""
    s = symbols()
    edges = {
        (s[0], s[1]): (0.9, 500), (s[1], s[2]): (0.6, 500), (s[0], s[2]): (0.95, 500),  # a triangle, one edge exactly at the threshold
        (s[3], s[4]): (0.8, 500), (s[4], s[5]): (0.7, 500), (s[5], s[6]): (0.99, 500),  # a chain of four
        (s[3], s[5]): (0.59, 500), (s[3], s[6]): (-0.9, 500),  # below the threshold: no shortcut
        (s[7], s[8]): (0.95, 99),  # above the threshold, below the minimum overlap: two singletons
        (s[9], s[10]): (0.65, 100),  # a pair, exactly at the minimum overlap
        (s[11], s[12]): (None, 500),  # no correlation: no edge
    }
    rng = np.random.default_rng(11)
    rows = []
    for i, a in enumerate(s):
        for b in s[i + 1:]:
            correlation, n = edges.get((a, b), (0.1, 500))
            rows.append((CRAFTED_DAY, a, b, n, correlation))
            rows.append((RANDOM_DAY, a, b, int(rng.integers(50, 200)), float(rng.uniform(-0.2, 1.0))))
    return pd.DataFrame(rows, columns=["as_of", "symbol_a", "symbol_b", "n_observations", "correlation"])


def write_crafted_pairs(url: str, pairs: pd.DataFrame) -> None:
    with psycopg.connect(url) as conn:
        for row in pairs.itertuples(index=False):
            conn.execute(
                "insert into intermediate.int_return_correlations_30d (as_of, symbol_a, symbol_b, n_observations, correlation, is_complete)"
                " values (%s, %s, %s, %s, %s, true)",
                (row.as_of, row.symbol_a, row.symbol_b, row.n_observations, None if pd.isna(row.correlation) else row.correlation),
            )


@pytest.fixture(scope="module")
def built(database_url: str, dbt_work_dir: Path) -> Iterator[Built]:
    synthetic.populate(database_url)
    dbt = Dbt(database_url, dbt_work_dir)
    defaults = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["symbol_master"]
    master_vars = {**defaults, **CLUSTER_VARS}
    cluster_vars = {"symbol_master": master_vars}
    dbt.run("build", "--select", "+fct_symbol_scores", "+dim_symbols", "--exclude-resource-type", "test", dbt_vars=cluster_vars)
    write_book_rows(database_url)
    write_sentiment_rows(database_url)
    write_crafted_pairs(database_url, crafted_pairs())
    # the models of this module from the start of history again, over the written rows, with their data tests
    dbt.run(
        "build", "--full-refresh", "--select", *SEEDS, *SCORE_MODELS, "int_correlation_clusters_1d", "dim_symbols",
        "--indirect-selection", "cautious", dbt_vars=cluster_vars,  # not the tests of models left out (they read dim_symbols)
    )
    yield Built(database_url, dbt, master_vars)


# ---------------------------------------------------------------- references


def mean_of_defined(measures: list[pd.Series]) -> tuple[pd.Series, pd.Series]:
    stacked = pd.concat(measures, axis=1).astype(float)
    defined = stacked.notna().sum(axis=1)
    return stacked.sum(axis=1, min_count=1) / defined.where(defined > 0), defined


def expected_components(url: str) -> pd.DataFrame:
    """int_score_components_1h recomputed from the bars and the indicator rows."""
    bars = frame(url, "select symbol, bucket_start, minute_count, is_complete, turnover_quote, batch_ids from intermediate.int_candles_1h")
    indicators = frame(url, """
        select ma.symbol, ma.bucket_start, ma.close, ma.sma_20, mo.rsi_14, mo.stoch_slowk, mo.roc_10, macd.macd_hist,
               dm.adx_14, dm.plus_di_14, dm.minus_di_14, v.atr_14, v.rv_close_to_close_24, v.rv_parkinson_24,
               v.rv_garman_klass_24, l.corwin_schultz_spread, l.amihud_illiquidity_24
        from intermediate.int_indicators_1h_moving_averages ma
        join intermediate.int_indicators_1h_momentum mo using (symbol, bucket_start)
        join intermediate.int_indicators_1h_macd macd using (symbol, bucket_start)
        join intermediate.int_indicators_1h_directional_movement dm using (symbol, bucket_start)
        join intermediate.int_indicators_1h_volatility v using (symbol, bucket_start)
        join intermediate.int_liquidity_1h l using (symbol, bucket_start)""")
    indicators = indicators.astype({c: float for c in indicators.columns if c not in ("symbol", "bucket_start")})
    book = frame(url, """select symbol, bucket_start, book_spread_bps_mean,
        (bid_depth_quote_50bps_mean + ask_depth_quote_50bps_mean) / 2 as depth from intermediate.int_market_structure_1h""")
    book = book.astype({"book_spread_bps_mean": float, "depth": float})
    looked_back = []
    for _, rows in bars.sort_values("bucket_start").groupby("symbol"):
        rows = rows.set_index("bucket_start", drop=False)
        turnover = rows["turnover_quote"].astype(float)
        rows["turnover_quote_24h"] = turnover.rolling("24h").sum().to_numpy()
        rows["lookback_bar_count"] = turnover.rolling("24h").count().astype(int).to_numpy()
        starts = rows["bucket_start"].tolist()
        ids = rows["batch_ids"].tolist()
        rows["data_window_start"] = [min(starts[max(0, i - 24)], starts[i] - pd.Timedelta(hours=23)) for i in range(len(rows))]
        rows["input_batch_ids"] = [sorted({b for bar in ids[max(0, i - 24): i + 1] for b in bar}) for i in range(len(rows))]
        looked_back.append(rows.reset_index(drop=True))
    x = pd.concat(looked_back).merge(indicators, on=["symbol", "bucket_start"]).merge(book, on=["symbol", "bucket_start"], how="left")
    x["score_time"] = x["bucket_start"] + pd.Timedelta(hours=1)
    x["bar_completeness"] = x["minute_count"] / 60.0
    x["lookback_coverage"] = x["lookback_bar_count"] / 24.0
    scale = x["bar_completeness"] * x["lookback_coverage"]
    atr = x["atr_14"].where(x["atr_14"] > 0)
    rv = x["rv_close_to_close_24"].where(x["rv_close_to_close_24"] > 0)
    primaries = {
        "liquidity": np.log(x["turnover_quote_24h"].where(x["turnover_quote_24h"] > 0)),
        "momentum": (x["rsi_14"] - 50) / 50,
        "risk": x["rv_close_to_close_24"],
        "trend": x["close"] / x["sma_20"] - 1,
    }
    measures = {
        "liquidity": [
            x["corwin_schultz_spread"] / 2, x["book_spread_bps_mean"] / 2e4, x["amihud_illiquidity_24"],
            0.005 * 1e6 / x["depth"].where(x["depth"] > 0),
        ],
        "momentum": [(x["rsi_14"] - 50) / 50, (x["stoch_slowk"] - 50) / 50, np.tanh(np.log(1 + x["roc_10"] / 100) / (rv * np.sqrt(10)))],
        "risk": [x["rv_close_to_close_24"], x["rv_parkinson_24"], x["rv_garman_klass_24"], x["atr_14"] / x["close"] * np.sqrt(np.pi / 8)],
        "trend": [
            np.tanh((x["close"] - x["sma_20"]) / atr), np.tanh(x["macd_hist"] / atr),
            (x["plus_di_14"] - x["minus_di_14"]) / 100 * x["adx_14"] / 100,
        ],
    }
    for name, primary in primaries.items():
        x[f"{name}_primary"] = primary
        x[f"{name}_primary_confidence"] = scale.where(primary.notna(), 0.0)
        mean, defined = mean_of_defined(measures[name])
        value = -np.log(mean.where(mean > 0)) if name == "liquidity" else mean
        x[name] = value
        x[f"{name}_confidence"] = (defined / len(measures[name]) * scale).where(value.notna(), 0.0)
    sentiment = frame(url, "select symbol, bucket_start, sentiment as signal_sentiment, confidence as signal_confidence from intermediate.int_signal_sentiment_1h")
    x = x.merge(sentiment.astype({"signal_sentiment": float, "signal_confidence": float}), on=["symbol", "bucket_start"], how="left")
    x["sentiment"] = x["signal_sentiment"]
    x["sentiment_confidence"] = (scale * x["signal_confidence"]).where(x["sentiment"].notna(), 0.0)
    return x


def seed_frames() -> dict[str, pd.DataFrame]:
    return {seed: pd.read_csv(DBT_PROJECT_DIR / "seeds" / f"{seed}.csv", dtype=str) for seed in SEEDS}


def parameters_hash(seeds: dict[str, pd.DataFrame], version: str) -> str:
    weights = seeds["scoring_algorithm_weights"].query("algorithm_version == @version")
    parameters = seeds["scoring_algorithm_parameters"].query("algorithm_version == @version")
    lines = [f"{version}|weight|{r.component}|{trim_scale(r.weight)}" for r in weights.itertuples()]
    lines += [f"{version}|parameter|{r.parameter}|{r.value}" for r in parameters.itertuples()]
    return hashlib.md5("\n".join(sorted(lines)).encode()).hexdigest()


def trim_scale(text: str) -> str:
    """PostgreSQL's trim_scale(numeric)::text."""
    plain = format(Decimal(text), "f")
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


def normalised(values: pd.Series, method: str, limit: float) -> pd.Series:
    """One score_time's present values of a component among the eligible rows, in [0, 1]."""
    n = len(values)
    if method == "percent_rank":
        return (values.rank(method="min") - 1) / (n - 1) if n > 1 else pd.Series(0.0, index=values.index)
    std = values.std(ddof=1) if n > 1 else np.nan
    if not std > 0:
        return pd.Series(0.5, index=values.index)
    return ((values - values.mean()) / std).clip(-limit, limit).add(limit) / (2 * limit)


def expected_scores(components: pd.DataFrame, seeds: dict[str, pd.DataFrame], version: str) -> pd.DataFrame:
    p = seeds["scoring_algorithm_parameters"].query("algorithm_version == @version").set_index("parameter")["value"]
    w = seeds["scoring_algorithm_weights"].query("algorithm_version == @version").set_index("component")["weight"].map(Decimal)
    s = components[["symbol", "bucket_start", "score_time", "is_complete"]].copy()
    present_weight = pd.Series(Decimal(0), index=s.index)
    s["composite_confidence"] = 0.0
    for c in COMPONENTS:
        primary = p["component_measures"] == "primary" and c != "sentiment"
        s[c] = components[f"{c}_primary" if primary else c]
        s[f"{c}_confidence"] = components[f"{c}_primary_confidence" if primary else f"{c}_confidence"]
        s[f"{c}_present"] = s[c].notna() & (s[f"{c}_confidence"] >= float(p["min_component_confidence"]))
        weight = w.get(c, Decimal(0))
        present_weight += s[f"{c}_present"].map(lambda present, weight=weight: weight if present else Decimal(0))
        s["composite_confidence"] += (float(weight) * s[f"{c}_confidence"]).where(s[f"{c}_present"], 0.0)
    s["is_eligible"] = (
        s["is_complete"] & (present_weight >= Decimal(p["min_present_weight"]))
        & (s["composite_confidence"] >= float(p["min_composite_confidence"]))
    )
    limit = float(p.get("winsorisation_limit", "nan"))
    composite = pd.Series(0.0, index=s.index)
    for c in COMPONENTS:
        s[f"{c}_score"] = np.nan
        ranked = s.loc[s["is_eligible"] & s[f"{c}_present"]]
        oriented = -ranked[c] if c == "risk" else ranked[c]
        for _, values in oriented.groupby(ranked["score_time"]):
            s.loc[values.index, f"{c}_score"] = normalised(values, p["normalisation"], limit)
        composite += (float(w.get(c, Decimal(0))) * s[f"{c}_score"]).fillna(0.0)
    s["composite_score"] = (composite / present_weight.map(float)).where(s["is_eligible"])
    s["ranked_universe_size"] = s.groupby(["score_time", "is_eligible"])["symbol"].transform("size").where(s["is_eligible"])
    s["parameters_hash"] = parameters_hash(seeds, version)
    return s


def assert_columns_match(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str], columns: list[str]) -> None:
    merged = actual.merge(expected, on=keys, suffixes=("", "_expected"), validate="one_to_one")
    assert len(merged) == len(actual) == len(expected)
    for column in columns:
        got = pd.to_numeric(merged[column], errors="coerce").astype(float)
        want = pd.to_numeric(merged[f"{column}_expected"], errors="coerce").astype(float)
        assert (got.isna() == want.isna()).all(), (column, merged.loc[got.isna() != want.isna(), [*keys, column, f"{column}_expected"]])
        off = got.notna() & ~np.isclose(got, want, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(
            got[got.notna()], want[want.notna()], rtol=RTOL, atol=ATOL,
            err_msg=f"{column}:\n{merged.loc[off, [*keys, *(k for k in ('algorithm_version',) if k in merged and k not in keys), column, f'{column}_expected']]}",
        )


# ---------------------------------------------------------------- tests


def test_components_and_confidences_match_the_reference(built: Built) -> None:
    actual = frame(built.url, "select * from intermediate.int_score_components_1h")
    expected = expected_components(built.url)
    keys = ["symbol", "bucket_start"]
    numeric = [
        "bar_completeness", "lookback_bar_count", "lookback_coverage", "turnover_quote_24h", "sentiment", "sentiment_confidence",
        *(f"{c}{suffix}" for c in ("liquidity", "momentum", "risk", "trend") for suffix in ("_primary", "_primary_confidence", "", "_confidence")),
    ]
    assert_columns_match(actual, expected, keys, numeric)
    merged = actual.merge(expected, on=keys, suffixes=("", "_expected"))
    assert (merged["data_window_start"] == merged["data_window_start_expected"]).all()
    assert (merged["input_batch_ids"] == merged["input_batch_ids_expected"]).all()
    assert (merged["score_time"] == merged["bucket_start"] + pd.Timedelta(hours=1)).all()
    # the edge cases are reached: the book present (and a zero depth), young contracts, the gap, a partial bar
    with_book = merged["symbol"].isin(BOOK_SYMBOLS) & merged["bucket_start"].isin([hour(h) for h in BOOK_HOURS])
    assert (merged.loc[with_book & merged["lookback_coverage"].eq(1) & merged["is_complete"], "liquidity_confidence"] > 0.5).any()
    assert merged.loc[~with_book, "liquidity_confidence"].max() <= 0.5  # two of the four costs at most without a book
    assert (merged["lookback_coverage"] < 1).any() and (merged["bar_completeness"] < 1).any()
    assert merged["trend_primary"].isna().any() and (merged["trend_confidence"] == 0).any()


def test_every_version_scores_side_by_side_as_the_reference(built: Built) -> None:
    components = expected_components(built.url)
    seeds = seed_frames()
    actual = frame(built.url, "select * from marts.fct_symbol_scores")
    versions = sorted(seeds["scoring_algorithms"].query("status != 'retired'")["algorithm_version"])
    assert versions == ["v1", "v2"] and sorted(actual["algorithm_version"].unique()) == versions
    columns = [
        *(f"{c}{suffix}" for c in COMPONENTS for suffix in ("", "_confidence", "_score")),
        "composite_score", "composite_confidence", "ranked_universe_size",
    ]
    for version in versions:
        got = actual.loc[actual["algorithm_version"] == version]
        want = expected_scores(components, seeds, version)
        assert_columns_match(got, want, ["symbol", "score_time"], columns)
        merged = got.merge(want, on=["symbol", "score_time"], suffixes=("", "_expected"))
        assert (merged["is_eligible"] == merged["is_eligible_expected"]).all(), version
        assert (merged["parameters_hash"] == merged["parameters_hash_expected"]).all(), version
        assert merged["is_eligible"].sum() > 0 and (~merged["is_eligible"]).sum() > 0, version
    v2 = actual.loc[(actual["algorithm_version"] == "v2") & actual["is_eligible"]]
    # where sentiment is absent its weight renormalises away and caps the composite confidence at 0.9
    without_sentiment = v2["sentiment_score"].isna()
    assert without_sentiment.any() and (~without_sentiment).any()
    assert (v2.loc[without_sentiment, "composite_confidence"] <= 0.9 + 1e-12).all()
    assert v2["risk_score"].notna().any() and v2["liquidity_score"].notna().any()


def test_consecutive_windows_equal_a_full_refresh(built: Built) -> None:
    full = {table: fetch(built.url, f"select * from {table} order by {key}") for table, key in TABLES.items()}
    vars_ = {"symbol_master": built.master_vars}
    with psycopg.connect(built.url) as conn:
        for table in TABLES:
            conn.execute(f"drop table {table}")
    for start, end in zip(BOUNDARIES, BOUNDARIES[1:]):
        dbt_vars = {**vars_, **window(hour(start), hour(end))}
        built.dbt.run("run", "--select", *SCORE_MODELS, "int_correlation_clusters_1d", dbt_vars=dbt_vars)
    # the crafted days lie after the market's history: their window
    built.dbt.run("run", "--select", "int_correlation_clusters_1d", dbt_vars={**vars_, **window(CRAFTED_DAY - timedelta(hours=1), RANDOM_DAY)})
    assert_same_tables({table: fetch(built.url, f"select * from {table} order by {key}") for table, key in TABLES.items()}, full)


def test_clusters_are_the_connected_components_of_the_thresholded_graph(built: Built) -> None:
    pairs = frame(built.url, "select * from intermediate.int_return_correlations_30d")
    clusters = frame(built.url, "select * from intermediate.int_correlation_clusters_1d")
    assert set(clusters["as_of"]) == set(pairs["as_of"]) and {CRAFTED_DAY, RANDOM_DAY} <= set(clusters["as_of"])
    for as_of, day in pairs.groupby("as_of"):
        nodes = sorted(set(day["symbol_a"]) | set(day["symbol_b"]))
        number = {s: i for i, s in enumerate(nodes)}
        linked = day.loc[(day["correlation"] >= CLUSTER_VARS["cluster_min_correlation"])
                         & (day["n_observations"] >= CLUSTER_VARS["cluster_min_observations"])]
        graph = coo_matrix(
            (np.ones(len(linked)), (linked["symbol_a"].map(number), linked["symbol_b"].map(number))), shape=(len(nodes), len(nodes))
        )
        _, labels = connected_components(graph, directed=False)
        members = pd.Series(nodes).groupby(labels)
        expected = pd.DataFrame({
            "symbol": nodes,
            "cluster_id": [members.get_group(label).min() for label in labels],
            "cluster_size": [len(members.get_group(label)) for label in labels],
            "linked_symbol_count": [int(((linked["symbol_a"] == s) | (linked["symbol_b"] == s)).sum()) for s in nodes],
        }).set_index("symbol")
        actual = clusters.loc[clusters["as_of"] == as_of].set_index("symbol")[expected.columns].sort_index()
        pd.testing.assert_frame_equal(actual, expected, check_dtype=False, obj=str(as_of))
    s = symbols()
    crafted = clusters.loc[clusters["as_of"] == CRAFTED_DAY].set_index("symbol")
    assert crafted.loc[s[2], "cluster_id"] == s[0] and crafted.loc[s[2], "cluster_size"] == 3  # through the edge at the threshold
    assert crafted.loc[s[6], "cluster_id"] == s[3] and crafted.loc[s[6], "cluster_size"] == 4  # the end of the chain
    assert crafted.loc[[s[7], s[8], s[11], s[12]], "cluster_size"].eq(1).all()  # below the overlap, a null correlation
    assert crafted.loc[s[10], "cluster_id"] == s[9]  # exactly at the minimum overlap
    # dim_symbols carries the latest day's clusters
    dim = frame(built.url, "select symbol, cluster_id, cluster_size, cluster_as_of from marts.dim_symbols").set_index("symbol")
    latest = clusters.loc[clusters["as_of"] == RANDOM_DAY].set_index("symbol")
    assert (dim["cluster_as_of"] == RANDOM_DAY).all()
    pd.testing.assert_frame_equal(dim[["cluster_id", "cluster_size"]].sort_index(), latest[["cluster_id", "cluster_size"]].sort_index())


def test_a_malformed_cluster_var_fails_naming_it(built: Built) -> None:
    bad = {**built.master_vars, "cluster_min_correlation": 1.5}
    result = built.dbt.run("run", "--select", "int_correlation_clusters_1d", dbt_vars={"symbol_master": bad}, check=False)
    assert result.returncode != 0 and "var symbol_master.cluster_min_correlation=1.5 is malformed" in result.stdout


# per seed, an edit breaking rules, and the messages naming seed, version and rule
BAD_SEEDS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], tuple[str, ...]]] = {
    "scoring_algorithm_weights": (
        lambda f: f.assign(
            weight=f["weight"].mask((f["algorithm_version"] == "v2") & (f["component"] == "trend"), "0.15"),
            component=f["component"].mask((f["algorithm_version"] == "v2") & (f["component"] == "risk"), "volume"),
        ),
        (
            "seed scoring_algorithm_weights, version v2: weights sum to 0.9, not 1",
            "seed scoring_algorithm_weights, version v2: component volume is not one of liquidity, momentum, risk, sentiment, trend",
        ),
    ),
    "scoring_algorithm_parameters": (
        lambda f: f.loc[~((f["algorithm_version"] == "v1") & (f["parameter"] == "min_present_weight"))].assign(
            value=lambda g: g["value"].mask((g["algorithm_version"] == "v2") & (g["parameter"] == "normalisation"), "rank"),
        ),
        (
            "seed scoring_algorithm_parameters, version v1: the active version has no parameter min_present_weight",
            "seed scoring_algorithm_parameters, version v2: normalisation = rank is malformed: expected percent_rank or zscore",
            "seed scoring_algorithm_parameters, version v2: winsorisation_limit is set but normalisation is rank: only zscore uses it",
        ),
    ),
}


def test_bad_seeds_stop_the_build_naming_seed_version_and_rule(built: Built, tmp_path: Path) -> None:
    """A copy of the project with two seeds broken: `dbt build` fails at the seeds' tests, and
    `dbt run` of the scores (no tests) fails in the model, both naming seed, version and rule."""
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    for seed, (edit, _) in BAD_SEEDS.items():
        csv = project / "seeds" / f"{seed}.csv"
        edit(pd.read_csv(csv, dtype=str)).to_csv(csv, index=False)
    messages = [message for _, expected in BAD_SEEDS.values() for message in expected]
    copy = Dbt(built.url, tmp_path)
    try:
        build = run_in(copy, project, "build", "--select", *SEEDS, "fct_symbol_scores")
        assert build.returncode != 0, build.stdout[-3000:]
        for message in messages:
            assert message in build.stdout, (message, build.stdout[-3000:])
        assert "OK created sql incremental model marts.fct_symbol_scores" not in build.stdout
        run = run_in(copy, project, "run", "--select", "fct_symbol_scores")
        assert run.returncode != 0 and "invalid scoring seeds: " in run.stdout, run.stdout[-3000:]
        for message in messages:
            assert message in run.stdout, (message, run.stdout[-3000:])
    finally:
        built.dbt.run("seed", "--select", *SEEDS)  # the project's seeds back for the other tests


def run_in(dbt: Dbt, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """dbt against another copy of the project: Dbt's command with its project and profiles dirs swapped."""
    command = [
        str(DBT), "--no-use-colors", *args, "--project-dir", str(project), "--profiles-dir", str(project),
        "--target-path", str(dbt.work_dir / "target"), "--log-path", str(dbt.work_dir / "logs"),
    ]
    env = {**os.environ, **ConnectionParams.from_url(dbt.url).dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_an_hourly_increment_reads_the_same_rows_whatever_the_history_length(built: Built, tmp_path: Path) -> None:
    """Last in the module (it deletes history). The hour window's SQL reads as many rows with 70
    hours of history as with 60 (per contract the window's rows by key and 24 bars before it)."""
    dbt = Dbt(built.url, tmp_path)
    vars_ = {"symbol_master": built.master_vars}

    def reads() -> dict[str, dict[str, int]]:
        dbt.run("compile", "--select", *SCORE_MODELS, "int_correlation_clusters_1d", dbt_vars={**vars_, **window(hour(70), hour(71))})
        compiled = tmp_path / "target" / "compiled" / "zmart" / "models"
        return {
            model: query_reads(built.url, (compiled / folder / f"{model}.sql").read_text())
            for model, folder in (
                ("int_score_components_1h", "intermediate"), ("fct_symbol_scores", "marts"), ("int_correlation_clusters_1d", "intermediate"),
            )
        }

    with_history = reads()
    with psycopg.connect(built.url) as conn:
        for table in (
            "int_candles_1h", "int_indicators_1h_moving_averages", "int_indicators_1h_momentum", "int_indicators_1h_macd",
            "int_indicators_1h_directional_movement", "int_indicators_1h_volatility", "int_liquidity_1h", "int_market_structure_1h",
            "int_signal_sentiment_1h", "int_score_components_1h",
        ):
            conn.execute(f"delete from intermediate.{table} where bucket_start < %s", (hour(10),))
        conn.execute("delete from intermediate.int_return_correlations_30d where as_of < %s", (hour(48),))
    shorter_history = reads()
    assert with_history == shorter_history
