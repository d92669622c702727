"""The agent models on real PostgreSQL and dbt, against pandas references.

One database: synthetic.py's candles (13 contracts, 72 hours), synthetic_market.py's order books
and trades (hours 1..4, and 47..48 for LINKUSDTM) and one signal file imported by the real
importer: an informed source calling the sign of each hour's 4-hour forward return for two
contracts, and a contrarian one for one of them. The whole lineage is built once (full history),
then the agent models again in three windows, which must give the same tables. The references
read the agents' input tables (tested by their own modules) and recompute every agent model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from orchestration.ingestion.signals import import_signal_file
from tests.integration.dbt import synthetic, synthetic_market
from tests.integration.dbt.dbt_cli import Dbt, fetch, frame, query_reads, window

AGENTS = ("technical", "market_structure", "risk", "sentiment")
# var agents for this module: a 4-hour horizon and a 12-hour lookback, so 72 hours hold many
# resolved calls and calls leaving the lookback
PARAMETERS = {
    "recommendation_threshold": 0.2, "outcome_horizon_hours": 4, "accuracy_lookback_hours": 12, "accuracy_prior_strength": 4,
    "dispute_weight_floor": 0.05, "trend_scale": 0.02, "macd_scale": 0.005, "spread_ceiling": 0.002,
}
H, L, K = PARAMETERS["outcome_horizon_hours"], PARAMETERS["accuracy_lookback_hours"], PARAMETERS["accuracy_prior_strength"]
THRESHOLD, FLOOR = PARAMETERS["recommendation_threshold"], PARAMETERS["dispute_weight_floor"]
SUB_SCORES = {
    "technical": ("trend", "momentum", "macd", "directional"),
    "market_structure": ("depth_imbalance", "touch_imbalance", "order_flow"),
    "risk": ("risk_adjusted_return", "band_position", "liquidity"),
    "sentiment": ("sentiment",),
}
MODELS = ("int_agent_evaluations_1h", "int_agent_accuracy_1h", "int_agent_consensus_1h", "fct_agent_performance")
KEYS = {
    "int_agent_evaluations_1h": "agent, symbol, score_time", "int_agent_accuracy_1h": "agent, as_of",
    "int_agent_consensus_1h": "symbol, score_time", "fct_agent_performance": "agent, score_date",
}
SCHEMAS = {model: "marts" if model.startswith("fct_") else "intermediate" for model in MODELS}
WINDOW_HOURS = (0, 20, 41, 80)
SIGNAL_SYMBOLS = ("XBTUSDTM", "ETHUSDTM")
CONTRARIAN_SYMBOL = "XBTUSDTM"
SIGNAL_HOURS = range(0, 60)


@dataclass(frozen=True)
class Built:
    url: str
    dbt: Dbt
    full: dict[str, pd.DataFrame]
    windowed: dict[str, pd.DataFrame]


def agent_vars(**extra: str) -> dict[str, object]:
    return {"agents": PARAMETERS, **extra}


def table(url: str, model: str) -> pd.DataFrame:
    return frame(url, f"select * from {SCHEMAS[model]}.{model} order by {KEYS[model]}")


@pytest.fixture(scope="module")
def built(database_url: str, dbt_work_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    data = synthetic.populate(database_url)
    synthetic_market.populate(database_url, data)
    closes = synthetic.expected_candles_1h(data).set_index(["symbol", "bucket_start"])["close"]
    path = tmp_path_factory.mktemp("signals") / "agents.jsonl"
    path.write_text("\n".join(signal_json(closes)) + "\n")
    import_signal_file(database_url, path)
    dbt = Dbt(database_url, dbt_work_dir)
    dbt.run("build", "-s", "+fct_agent_performance", "--indirect-selection", "cautious", dbt_vars=agent_vars())
    full = {model: table(database_url, model) for model in MODELS}
    start = synthetic.START
    for i, (a, b) in enumerate(zip(WINDOW_HOURS, WINDOW_HOURS[1:])):
        refresh = ["--full-refresh"] if i == 0 else []
        dbt.run("build", "-s", *MODELS, *refresh, dbt_vars=agent_vars(**window(start + timedelta(hours=a), start + timedelta(hours=b))))
    windowed = {model: table(database_url, model) for model in MODELS}
    yield Built(database_url, dbt, full, windowed)


def signal_json(closes: pd.Series) -> list[str]:
    """The informed source's calls (the sign of the H-hour forward return from the end of the
    hour it is received in) and the contrarian's opposite calls, as JSONL lines."""
    lines = []
    for symbol in SIGNAL_SYMBOLS:
        for hour in SIGNAL_HOURS:
            bucket = pd.Timestamp(synthetic.START) + pd.Timedelta(hours=hour)
            start, end = closes.get((symbol, bucket)), closes.get((symbol, bucket + pd.Timedelta(hours=H)))
            if start is None or end is None or end == start:
                continue
            direction = "long" if end > start else "short"
            received = bucket + pd.Timedelta(minutes=10)
            sources = [("informed", direction)]
            if symbol == CONTRARIAN_SYMBOL:
                sources.append(("contrarian", "short" if direction == "long" else "long"))
            for source, call in sources:
                lines.append(json.dumps({
                    "source": source, "external_id": f"{source}-{symbol}-{hour}", "kind": "technical", "symbol": symbol,
                    "direction": call, "confidence": 0.8,
                    "published_at": (received - pd.Timedelta(minutes=1)).isoformat(), "received_at": received.isoformat(),
                }))
    return lines


# --- the references ------------------------------------------------------------------------------


def inputs(url: str, model: str, columns: str) -> pd.DataFrame:
    return frame(url, f"select symbol, bucket_start, {columns} from intermediate.{model}").set_index(["symbol", "bucket_start"])


def as_float(frame_: pd.DataFrame) -> pd.DataFrame:
    return frame_.apply(lambda column: pd.to_numeric(column, errors="coerce").astype(float))


def agent_inputs(url: str) -> dict[str, pd.DataFrame]:
    """Each agent's inputs on the bars of int_returns_1h (nan where its family has no row)."""
    bars = inputs(url, "int_returns_1h", "log_return_24")
    join = lambda *parts: as_float(bars[[]].join(list(parts)))  # noqa: E731
    return {
        "technical": join(
            inputs(url, "int_indicators_1h_moving_averages", "close, sma_20"), inputs(url, "int_indicators_1h_momentum", "rsi_14"),
            inputs(url, "int_indicators_1h_macd", "macd_hist"), inputs(url, "int_indicators_1h_directional_movement", "plus_di_14, minus_di_14"),
        ),
        "market_structure": join(inputs(
            url, "int_market_structure_1h", "imbalance_10bps_mean, imbalance_level_1_mean, buy_quote_volume, sell_quote_volume"
        )),
        "risk": join(
            bars, inputs(url, "int_indicators_1h_volatility", "close, rv_close_to_close_24, bb_middle, bb_upper"),
            inputs(url, "int_liquidity_1h", "corwin_schultz_spread"),
        ),
        "sentiment": join(inputs(url, "int_signal_sentiment_1h", "sentiment, confidence")),
    }


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return numerator / denominator.where(denominator != 0)


def sub_scores(agent: str, x: pd.DataFrame) -> pd.DataFrame:
    p = PARAMETERS
    if agent == "technical":
        return pd.DataFrame({
            "trend": np.tanh((ratio(x["close"], x["sma_20"]) - 1) / p["trend_scale"]),
            "momentum": (x["rsi_14"] - 50) / 50,
            "macd": np.tanh(ratio(x["macd_hist"], x["close"]) / p["macd_scale"]),
            "directional": ratio(x["plus_di_14"] - x["minus_di_14"], x["plus_di_14"] + x["minus_di_14"]),
        })
    if agent == "market_structure":
        buy, sell = x["buy_quote_volume"], x["sell_quote_volume"]
        return pd.DataFrame({
            "depth_imbalance": x["imbalance_10bps_mean"], "touch_imbalance": x["imbalance_level_1_mean"],
            "order_flow": ratio(buy - sell, buy + sell),
        })
    if agent == "risk":
        return pd.DataFrame({
            "risk_adjusted_return": np.tanh(ratio(x["log_return_24"], x["rv_close_to_close_24"] * math.sqrt(24))),
            "band_position": -ratio(x["close"] - x["bb_middle"], x["bb_upper"] - x["bb_middle"]).clip(-1, 1),
            "liquidity": 1 - 2 * np.minimum(1, x["corwin_schultz_spread"] / p["spread_ceiling"]),
        })
    return pd.DataFrame({"sentiment": x["sentiment"]})


def recommendation(score: float) -> str:
    if np.isnan(score):
        return "abstain"
    return "buy" if score >= THRESHOLD else "sell" if score <= -THRESHOLD else "hold"


def expected_evaluations(url: str) -> pd.DataFrame:
    frames = []
    for agent, x in agent_inputs(url).items():
        subs = sub_scores(agent, x)
        score = subs.mean(axis=1, skipna=True)
        defined = subs.notna().sum(axis=1)
        if agent == "sentiment":
            confidence = x["confidence"].where(score.notna(), 0.0)
        else:
            confidence = (defined / subs.shape[1] * np.maximum(0, 1 - subs.std(axis=1, ddof=0))).fillna(0.0)
        out = subs.add_prefix("sub_").assign(agent=agent, score=score, confidence=confidence, sub_score_count=defined)
        frames.append(out.reset_index())
    result = pd.concat(frames, ignore_index=True)
    result["score_time"] = result["bucket_start"] + pd.Timedelta(hours=1)
    result["recommendation"] = result["score"].map(recommendation)
    return result.sort_values(["agent", "symbol", "score_time"]).reset_index(drop=True)


def forward_returns(url: str) -> pd.Series:
    f = frame(url, f"select symbol, score_time, forward_return from intermediate.int_forward_returns_1h where horizon_hours = {H}")
    return f.set_index(["symbol", "score_time"])["forward_return"].astype(float)


def expected_accuracy(evaluations: pd.DataFrame, forward: pd.Series) -> pd.DataFrame:
    e = evaluations.join(forward, on=["symbol", "score_time"])
    calls = e[e["recommendation"].isin(["buy", "sell"]) & e["forward_return"].notna()].copy()
    calls["hit"] = np.where(calls["recommendation"] == "buy", 1, -1) * calls["forward_return"] > 0
    calls["resolved_at"] = calls["score_time"] + pd.Timedelta(hours=H)
    rows = []
    for as_of in sorted(evaluations["score_time"].unique()):
        for agent in AGENTS:
            c = calls[(calls["agent"] == agent) & (calls["resolved_at"] > as_of - pd.Timedelta(hours=L)) & (calls["resolved_at"] <= as_of)]
            n, k = len(c), int(c["hit"].sum())
            shrunk = (k + K / 2) / (n + K)
            rows.append({
                "agent": agent, "as_of": as_of, "resolved_count": n, "hit_count": k, "hit_rate": k / n if n else np.nan,
                "shrunk_accuracy": shrunk, "accuracy_weight": max(0.0, 2 * shrunk - 1),
            })
    return pd.DataFrame(rows).sort_values(["agent", "as_of"]).reset_index(drop=True)


def expected_consensus(evaluations: pd.DataFrame, accuracy: pd.DataFrame) -> pd.DataFrame:
    acc = accuracy.set_index(["agent", "as_of"])
    e = evaluations.join(acc[["shrunk_accuracy", "accuracy_weight"]], on=["agent", "score_time"])
    e["weight"] = e["accuracy_weight"] * e["confidence"]
    rows = []
    for (symbol, score_time), g in e.groupby(["symbol", "score_time"]):
        total = g["weight"].sum()
        by_call = {r: g.loc[g["recommendation"] == r, "weight"].sum() for r in ("buy", "hold", "sell")}
        strong = g[g["weight"] >= FLOOR]["recommendation"]
        score = (g["weight"] * g["score"].fillna(0)).sum() / total if total > 0 else np.nan
        agreement = max(by_call.values()) / total if total > 0 else np.nan
        rows.append({
            "symbol": symbol, "score_time": score_time, "consensus_score": score, "agreement": agreement,
            "consensus_confidence": agreement * (1 - np.prod(1 - g["weight"])) if total > 0 else 0.0,
            "is_disputed": bool((strong == "buy").any() and (strong == "sell").any()),
            "recommendation": recommendation(score), "total_weight": total,
            "voting_agent_count": int((g["recommendation"] != "abstain").sum()), "weighted_agent_count": int((g["weight"] > 0).sum()),
            "weights": dict(zip(g["agent"], g["weight"], strict=True)),
        })
    return pd.DataFrame(rows).sort_values(["symbol", "score_time"]).reset_index(drop=True)


def expected_performance(evaluations: pd.DataFrame, forward: pd.Series, consensus: pd.DataFrame) -> pd.DataFrame:
    e = evaluations.join(forward, on=["symbol", "score_time"])
    weights = consensus.set_index(["symbol", "score_time"])["weights"]
    e["consensus_weight"] = [weights[(s, t)][a] for s, t, a in zip(e["symbol"], e["score_time"], e["agent"], strict=True)]
    e["score_date"] = e["score_time"].dt.tz_convert("UTC").dt.date
    rows = []
    for (agent, day), g in e.groupby(["agent", "score_date"]):
        calls = g[g["recommendation"].isin(["buy", "sell"])]
        resolved = calls[calls["forward_return"].notna()]
        hits = ((resolved["recommendation"] == "buy") & (resolved["forward_return"] > 0)) | (
            (resolved["recommendation"] == "sell") & (resolved["forward_return"] < 0))
        pairs = g[g["score"].notna() & g["forward_return"].notna()]
        defined = len(pairs) >= 2 and pairs["score"].nunique() > 1 and pairs["forward_return"].nunique() > 1
        rows.append({
            "agent": agent, "score_date": day, "evaluation_count": len(g), "abstention_count": int((g["recommendation"] == "abstain").sum()),
            "call_count": len(calls), "resolved_count": len(resolved), "hit_count": int(hits.sum()),
            "hit_rate": hits.mean() if len(resolved) else np.nan,
            "mean_forward_return_buy": g.loc[g["recommendation"] == "buy", "forward_return"].mean(),
            "mean_forward_return_sell": g.loc[g["recommendation"] == "sell", "forward_return"].mean(),
            "ic_observation_count": len(pairs),
            "ic": np.corrcoef(pairs["score"], pairs["forward_return"])[0, 1] if defined else np.nan,
            "mean_consensus_weight": g["consensus_weight"].mean(),
        })
    return pd.DataFrame(rows).sort_values(["agent", "score_date"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def references(built: Built) -> dict[str, pd.DataFrame]:
    evaluations = expected_evaluations(built.url)
    forward = forward_returns(built.url)
    accuracy = expected_accuracy(evaluations, forward)
    consensus = expected_consensus(evaluations, accuracy)
    return {
        "evaluations": evaluations, "accuracy": accuracy, "consensus": consensus,
        "performance": expected_performance(evaluations, forward, consensus),
    }


def assert_close(actual: pd.Series, expected: pd.Series, name: str) -> None:
    np.testing.assert_allclose(
        pd.to_numeric(actual).astype(float).to_numpy(), pd.to_numeric(expected).astype(float).to_numpy(),
        rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=name,
    )


def assert_equal(actual: pd.Series, expected: pd.Series, name: str) -> None:
    assert actual.tolist() == expected.tolist(), name


def assert_recommendations(actual: pd.DataFrame, expected: pd.DataFrame, score: str) -> None:
    """The recommendations follow the thresholds from the model's own scores, and agree with the
    reference's except where a score lies within rounding of a threshold."""
    assert_equal(actual["recommendation"], actual[score].map(recommendation), "recommendation of the score")
    clear = (expected[score].abs() - THRESHOLD).abs().fillna(1) > 1e-9
    assert_equal(actual.loc[clear, "recommendation"], expected.loc[clear, "recommendation"], "recommendation")


# --- the tests -----------------------------------------------------------------------------------


def test_evaluations_match_the_reference(built: Built, references: dict[str, pd.DataFrame]) -> None:
    actual, expected = built.full["int_agent_evaluations_1h"], references["evaluations"]
    assert len(actual) == len(expected)
    for column in ("agent", "symbol", "score_time", "sub_score_count"):
        assert_equal(actual[column], expected[column], column)
    assert_recommendations(actual, expected, "score")
    for column in ("score", "confidence"):
        assert_close(actual[column], expected[column], column)
    assert (actual["bucket_start"] == actual["score_time"] - pd.Timedelta(hours=1)).all()
    for agent in AGENTS:
        rows = actual["agent"] == agent
        subs = pd.DataFrame([e["sub_scores"] for e in actual.loc[rows, "evidence"]])
        assert set(subs.columns) == set(SUB_SCORES[agent]), agent  # jsonb orders keys by length
        for column in subs.columns:
            assert_close(subs[column], expected.loc[rows, f"sub_{column}"].reset_index(drop=True), f"{agent}.{column}")


def test_every_agent_both_votes_and_abstains(built: Built) -> None:
    e = built.full["int_agent_evaluations_1h"]
    for agent in AGENTS:
        calls = e.loc[e["agent"] == agent, "recommendation"].value_counts()
        assert calls.drop("abstain", errors="ignore").sum() > 0, (agent, calls.to_dict())
        # every bar here has a Corwin-Schultz spread, so the risk agent always has an input
        assert (calls.get("abstain", 0) > 0) == (agent != "risk"), (agent, calls.to_dict())
    assert set(e.loc[e["agent"] == "risk", "sub_score_count"]) == {1, 2, 3}  # warm-up: partial inputs
    abstaining = e[e["recommendation"] == "abstain"]
    assert abstaining["score"].isna().all() and (abstaining["confidence"] == 0).all() and (abstaining["sub_score_count"] == 0).all()
    # market structure: only the contracts and hours with books or trades
    structure = e[(e["agent"] == "market_structure") & (e["recommendation"] != "abstain")]
    assert set(structure["symbol"]) <= {m.symbol for m in synthetic_market.MARKETS}


def test_accuracy_matches_the_reference(built: Built, references: dict[str, pd.DataFrame]) -> None:
    actual, expected = built.full["int_agent_accuracy_1h"], references["accuracy"]
    assert len(actual) == len(expected)
    for column in ("agent", "as_of", "resolved_count", "hit_count"):
        assert_equal(actual[column], expected[column], column)
    for column in ("hit_rate", "shrunk_accuracy", "accuracy_weight"):
        assert_close(actual[column], expected[column], column)
    sentiment = actual[actual["agent"] == "sentiment"]
    assert sentiment["accuracy_weight"].max() > 0.3  # the informed source makes the sentiment agent accurate
    # calls leave the lookback: resolved counts fall as well as rise
    assert (actual.groupby("agent")["resolved_count"].diff() < 0).any()


def test_consensus_matches_the_reference(built: Built, references: dict[str, pd.DataFrame]) -> None:
    actual, expected = built.full["int_agent_consensus_1h"], references["consensus"]
    assert len(actual) == len(expected)
    for column in ("symbol", "score_time", "is_disputed", "voting_agent_count", "weighted_agent_count"):
        assert_equal(actual[column], expected[column], column)
    assert_recommendations(actual, expected, "consensus_score")
    for column in ("consensus_score", "consensus_confidence", "agreement", "total_weight"):
        assert_close(actual[column], expected[column], column)
    for votes, weights in zip(actual["votes"], expected["weights"], strict=True):
        assert set(votes) == set(AGENTS)
        assert_close(pd.Series([votes[a]["weight"] for a in AGENTS]), pd.Series([weights[a] for a in AGENTS]), "votes.weight")
    assert actual["is_disputed"].any() and not actual["is_disputed"].all()
    assert actual["consensus_score"].isna().any() and actual["consensus_score"].notna().any()


def test_votes_carry_every_agents_evaluation(built: Built) -> None:
    e = built.full["int_agent_evaluations_1h"].set_index(["symbol", "score_time", "agent"])
    for row in built.full["int_agent_consensus_1h"].itertuples():
        for agent, vote in row.votes.items():
            evaluation = e.loc[(row.symbol, row.score_time, agent)]
            assert vote["recommendation"] == evaluation["recommendation"]
            assert (vote["score"] is None) == pd.isna(evaluation["score"])
            if vote["score"] is not None:
                assert math.isclose(vote["score"], evaluation["score"], rel_tol=1e-12)
            assert math.isclose(vote["confidence"], evaluation["confidence"], rel_tol=1e-12, abs_tol=1e-15)


def test_performance_matches_the_reference(built: Built, references: dict[str, pd.DataFrame]) -> None:
    actual, expected = built.full["fct_agent_performance"], references["performance"]
    assert len(actual) == len(expected)
    for column in ("agent", "score_date", "evaluation_count", "abstention_count", "call_count", "resolved_count", "hit_count", "ic_observation_count"):
        assert_equal(actual[column], expected[column], column)
    for column in ("hit_rate", "mean_forward_return_buy", "mean_forward_return_sell", "ic", "mean_consensus_weight"):
        assert_close(actual[column], expected[column], column)
    assert actual["ic"].notna().any()


def test_windowed_builds_equal_the_full_refresh(built: Built) -> None:
    for model in MODELS:
        pd.testing.assert_frame_equal(built.windowed[model], built.full[model], check_exact=True, obj=model)


def test_an_hourly_window_reads_a_bounded_share_of_its_inputs(built: Built, tmp_path: Path) -> None:
    """One hour's increment reads its inputs through their indexes: at most the rows of the
    lookbacks (L + H hours for the accuracy, the day plus H hours for the daily mart), never a
    whole table."""
    dbt = Dbt(built.url, tmp_path)
    end = synthetic.START + timedelta(hours=71)
    dbt.run("compile", "-s", *MODELS, dbt_vars=agent_vars(**window(end - timedelta(hours=1), end)))
    compiled = tmp_path / "target" / "compiled" / "zmart" / "models"
    for model in MODELS:
        reads = query_reads(built.url, (compiled / SCHEMAS[model] / f"{model}.sql").read_text())
        assert reads, model
        for relation, count in reads.items():
            rows = fetch(built.url, f"select count(*) from {relation}")[0][0]
            assert count <= max(30, rows * (24 + H + 2) / synthetic.HOURS), (model, relation, count, rows)


def test_accuracy_and_consensus_use_no_future_outcome(built: Built) -> None:
    """Scramble every forward return not yet known at CUTOFF: the accuracy and the consensus up
    to CUTOFF stay as they were, and later ones change (so the comparison can fail)."""
    cutoff = synthetic.START + timedelta(hours=40)
    with psycopg.connect(built.url) as conn:
        conn.execute(
            "update intermediate.int_forward_returns_1h set forward_return = -forward_return - 0.01 where horizon_end > %s", (cutoff,)
        )
    built.dbt.run("run", "-s", "int_agent_accuracy_1h", "int_agent_consensus_1h", "--full-refresh", dbt_vars=agent_vars())
    for model, column in (("int_agent_accuracy_1h", "as_of"), ("int_agent_consensus_1h", "score_time")):
        after, before = table(built.url, model), built.full[model]
        known = before[column] <= cutoff
        pd.testing.assert_frame_equal(after[after[column] <= cutoff].reset_index(drop=True), before[known].reset_index(drop=True), obj=model)
        assert not after[~known.to_numpy()].reset_index(drop=True).equals(before[~known].reset_index(drop=True)), model


def test_malformed_parameters_fail_naming_the_var(built: Built) -> None:
    for name, value, rule in (
        ("outcome_horizon_hours", 5, "is not one of scoring_performance.forward_return_horizons"),
        ("recommendation_threshold", 1.5, "expected a number in (0, 1)"),
        ("accuracy_lookback_hours", "a week", "expected an integer between 1 and 87600"),
    ):
        result = built.dbt.run("compile", "-s", "int_agent_accuracy_1h", dbt_vars={"agents": {**PARAMETERS, name: value}}, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0 and f"var agents.{name}={value}" in output and rule in output, (name, output[-2000:])
