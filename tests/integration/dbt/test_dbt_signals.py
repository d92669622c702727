"""The signal models on real PostgreSQL and dbt, against pandas references and the simulator's truth.

One database: the simulator's own 1-minute candles for five contracts, its signal files for four
days (informative and noise sources, reposts, malformed rows) imported by the real importer, and
one file with an unknown symbol. The models are built by one `dbt build` of their lineage, then
again in three windows, which must give the same tables.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from orchestration.ingestion.signals import import_signal_file
from simulator.config import DEFAULT_CONTRACTS
from simulator.market import Market
from simulator.signals import GroundTruth, write_signal_files
from simulator.universe import build_universe
from tests.integration.dbt import synthetic
from tests.integration.dbt.dbt_cli import Dbt, frame, window

SEED = 42
SYMBOLS = ("XBTUSDTM", "ETHUSDTM", "SOLUSDTM", "XRPUSDTM", "DOGEUSDTM")
START = datetime(2026, 11, 1, tzinfo=UTC)
END = START + timedelta(hours=96)
H, WINDOW_MINUTES, SIMILARITY, LOOKBACK, K = 4, 60, 0.6, 720, 10  # dbt_project.yml vars.signals
CANDLES_END = END + timedelta(hours=H + 2)
MODELS = ("int_signal_event_members", "int_signal_events", "int_signal_source_reliability", "int_signal_sentiment_1h")
# the models' lineage and its own tests (not the tests of models outside it that also read int_candles_1h)
SELECT = ["-s", "+int_signal_sentiment_1h", "--indirect-selection", "cautious"]


@dataclass(frozen=True)
class Built:
    url: str
    dbt: Dbt
    truth: GroundTruth
    candles: pd.DataFrame


def simulator_candles() -> pd.DataFrame:
    universe = {c.symbol: c for c in build_universe(SEED, DEFAULT_CONTRACTS)}
    market = Market(SEED, list(universe.values()))
    frames = []
    for symbol in SYMBOLS:
        bars = market.candles(universe[symbol], int(START.timestamp() * 1000), int(CANDLES_END.timestamp() * 1000))
        frames.append(pd.DataFrame({
            "symbol": symbol, "open_time": pd.to_datetime(bars.open_ms, unit="ms", utc=True), "open": bars.open,
            "high": bars.high, "low": bars.low, "close": bars.close, "volume": bars.volume,
        }))
    return pd.concat(frames, ignore_index=True)


def contract_rows(batch_id: int) -> pd.DataFrame:
    universe = {c.symbol: c for c in build_universe(SEED, DEFAULT_CONTRACTS)}
    rows = []
    for symbol in SYMBOLS:
        c = universe[symbol]
        rows.append({
            "snapshot_time": START, "symbol": symbol, "unified_symbol": f"{c.base}/USDT:USDT", "contract_type": c.contract_type,
            "status": "Open", "base_currency": c.base, "quote_currency": c.quote, "settle_currency": c.settle,
            "is_inverse": c.is_inverse, "multiplier": c.multiplier, "lot_size": 1.0, "tick_size": c.tick_size,
            "max_leverage": float(c.max_leverage), "first_open_time": START, "funding_granularity_ms": c.funding_granularity_ms,
            "turnover_24h": c.daily_turnover_usd, "batch_id": batch_id,
        })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def built(database_url: str, dbt_work_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    candles = simulator_candles()
    with psycopg.connect(database_url) as conn:
        conn.execute("select raw.ensure_partitions('raw.candles_1m', %s, %s, interval '1 day')", (START, CANDLES_END))
        conn.execute("select raw.ensure_partitions('raw.contracts', %s, %s, interval '1 month')", (START, END))
        candle_batch = synthetic.insert_batch(conn, "kucoin_candles_1m", START, CANDLES_END, len(candles))
        synthetic.copy_rows(conn, "raw.candles_1m", candles.assign(batch_id=candle_batch))
        synthetic.insert_contracts(conn, contract_rows(synthetic.insert_batch(conn, "kucoin_contracts", None, None, len(SYMBOLS))))
    files = tmp_path_factory.mktemp("signals")
    truth = write_signal_files(files, SEED, list(SYMBOLS), START, END)
    for source in truth.sources:
        import_signal_file(database_url, files / source.file)
    (files / "unknown.jsonl").write_text(
        '{"source": "newswire", "external_id": "unknown-1", "kind": "news", "symbol": "NOPEUSDTM", "direction": "long", '
        '"confidence": 0.9, "text": "NOPE surges", "published_at": "2026-11-01T05:00:00Z", "received_at": "2026-11-01T05:01:00Z"}\n'
    )
    import_signal_file(database_url, files / "unknown.jsonl")
    dbt = Dbt(database_url, dbt_work_dir)
    dbt.run("build", *SELECT)
    yield Built(database_url, dbt, truth, candles)


def signals_frame(url: str) -> pd.DataFrame:
    return frame(url, "select * from staging.stg_signals__signals order by signal_id")


# -- pg_trgm's similarity, written out (PostgreSQL 15 contrib/pg_trgm, trgm_op.c) ------------------


def trigrams(text: str) -> set[str]:
    """Lower-cased alphanumeric words, each padded with two spaces before and one after."""
    grams = set()
    for word in re.findall(r"[0-9a-z]+", text.lower()):
        padded = f"  {word} "
        grams |= {padded[i : i + 3] for i in range(len(padded) - 2)}
    return grams


def similarity(a: str, b: str) -> float:
    ta, tb = trigrams(a), trigrams(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 0.0


def expected_events(signals: pd.DataFrame) -> pd.Series:
    """event_id per signal_id: connected components of the near-duplicate relation (union-find)."""
    known = signals[signals["is_known_symbol"]].sort_values(["published_at", "signal_id"]).reset_index(drop=True)
    parent = list(range(len(known)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for _, group in known.groupby(["symbol", "direction"]):
        rows = list(group.itertuples())
        for x, a in enumerate(rows):
            for b in rows[x + 1 :]:
                if b.published_at - a.published_at > pd.Timedelta(minutes=WINDOW_MINUTES):
                    break
                has_text = isinstance(a.text, str), isinstance(b.text, str)
                if has_text == (False, False) or (all(has_text) and similarity(a.text, b.text) >= SIMILARITY):
                    parent[max(root(a.Index), root(b.Index))] = min(root(a.Index), root(b.Index))  # the earliest stays root
    # rows are in (published_at, signal_id) order, so the smallest index of a component is its first member
    return pd.Series([known["signal_id"][root(i)] for i in range(len(known))], index=known["signal_id"], name="event_id")


def hour_closes(candles: pd.DataFrame) -> pd.Series:
    """Close of each symbol's 1h bar by the bar's end: the close of its last minute."""
    last = candles.sort_values("open_time").groupby(["symbol", candles["open_time"].dt.floor("h")]).last()["close"]
    last.index = last.index.set_levels(last.index.levels[1] + pd.Timedelta(hours=1), level=1)
    return last


def expected_reliability(signals: pd.DataFrame, candles: pd.DataFrame) -> pd.DataFrame:
    closes = hour_closes(candles)
    s = signals.copy()
    s["hour"] = s["received_at"].dt.floor("h")
    start = [closes.get((sym, h + pd.Timedelta(hours=1))) for sym, h in zip(s["symbol"], s["hour"], strict=True)]
    end = [closes.get((sym, h + pd.Timedelta(hours=1 + H))) for sym, h in zip(s["symbol"], s["hour"], strict=True)]
    s["forward"] = [None if a is None or b is None else b / a - 1 for a, b in zip(start, end, strict=True)]
    s["horizon_end"] = s["hour"] + pd.Timedelta(hours=1 + H)
    s["hit"] = [None if d == 0 or f is None else float(d * f > 0) for d, f in zip(s["direction_sign"], s["forward"], strict=True)]
    first, last = s["hour"].min() + pd.Timedelta(hours=1), s["hour"].max() + pd.Timedelta(hours=1 + H)
    known = s[s["is_known_symbol"]]
    rows = []
    for as_of in pd.date_range(first, last, freq="h"):
        seen = known[(known["received_at"] >= as_of - pd.Timedelta(hours=LOOKBACK)) & (known["received_at"] < as_of)]
        for source, group in seen.groupby("source"):
            resolved = group[group["hit"].notna() & (group["horizon_end"] <= as_of)]
            hits = int(resolved["hit"].sum())
            shrunk = (hits + K / 2) / (len(resolved) + K)
            rows.append({
                "source": source, "as_of": as_of, "signal_count": len(group), "resolved_count": len(resolved), "hit_count": hits,
                "hit_rate": hits / len(resolved) if len(resolved) else np.nan, "shrunk_hit_rate": shrunk,
                "reliability_weight": max(0.0, 2 * shrunk - 1), "median_delivery_latency_seconds": group["delivery_latency_seconds"].median(),
            })
    return pd.DataFrame(rows).sort_values(["source", "as_of"]).reset_index(drop=True)


def expected_sentiment(signals: pd.DataFrame, events: pd.Series, reliability: pd.DataFrame) -> pd.DataFrame:
    members = signals.set_index("signal_id").loc[events.index].assign(event_id=events)
    members["hour"] = members["received_at"].dt.floor("h")
    members["bucket_start"] = members.groupby("event_id")["received_at"].transform("min").dt.floor("h")
    members = members[members["hour"] == members["bucket_start"]]
    weights = reliability.set_index(["source", "as_of"])["reliability_weight"]
    members["weight"] = [weights.get((s, b), 0.0) for s, b in zip(members["source"], members["bucket_start"], strict=True)]
    dc = members["direction_sign"] * members["confidence"]
    members["stance"] = np.where(members["text_sentiment"].isna(), dc, (dc + members["text_sentiment"].fillna(0)) / 2)
    by_event = members.groupby(["symbol", "bucket_start", "event_id"]).agg(stance=("stance", "mean"), weight=("weight", "max"), signals=("stance", "size"))
    rows = []
    for (symbol, bucket), group in by_event.groupby(level=[0, 1]):
        total = group["weight"].sum()
        rows.append({
            "symbol": symbol, "bucket_start": bucket,
            "sentiment": (group["weight"] * group["stance"]).sum() / total if total > 0 else np.nan,
            "confidence": 1 - np.prod(1 - group["weight"]), "event_count": len(group), "signal_count": int(group["signals"].sum()),
            "source_count": members[(members["symbol"] == symbol) & (members["bucket_start"] == bucket)]["source"].nunique(),
            "total_weight": total,
        })
    return pd.DataFrame(rows).sort_values(["symbol", "bucket_start"]).reset_index(drop=True)


def assert_frames_close(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.columns) == list(expected.columns)
    assert len(actual) == len(expected)
    for column in expected.columns:
        a, e = actual[column], expected[column]
        if pd.api.types.is_float_dtype(e):
            assert np.allclose(a.astype(float), e.astype(float), rtol=1e-9, atol=1e-12, equal_nan=True), column
        else:
            assert a.tolist() == e.tolist(), column


# -- tests ---------------------------------------------------------------------------------


def test_staging_flags_unknown_symbols_and_carries_the_vader_score(built: Built) -> None:
    signals = signals_frame(built.url)
    assert signals.loc[~signals["is_known_symbol"], "external_id"].tolist() == ["unknown-1"]
    assert (signals["text"].isna() == signals["text_sentiment"].isna()).all()
    raw = frame(built.url, "select source || ':' || external_id as signal_id, compound from raw.signal_sentiment order by 1")
    assert signals.dropna(subset=["text_sentiment"])["text_sentiment"].tolist() == raw["compound"].tolist()
    latency = (signals["received_at"] - signals["published_at"]).dt.total_seconds()
    assert (signals["delivery_latency_seconds"] == latency).all()


def test_events_are_the_components_of_the_near_duplicate_relation(built: Built) -> None:
    signals = signals_frame(built.url)
    expected = expected_events(signals)
    members = frame(built.url, "select signal_id, event_id from intermediate.int_signal_event_members order by signal_id").set_index("signal_id")["event_id"]
    assert members.to_dict() == expected.to_dict()
    events = frame(built.url, "select * from intermediate.int_signal_events order by event_id").set_index("event_id")
    sizes = expected.value_counts()
    assert events["member_count"].to_dict() == sizes.to_dict()
    by_signal = signals.set_index("signal_id")
    for event_id, row in events.iterrows():
        ids = expected.index[expected == event_id]
        assert row["sources"] == sorted(set(by_signal.loc[ids, "source"])), event_id
        assert row["first_received_at"] == by_signal.loc[ids, "received_at"].min()
    # every repost is counted with the item it reposts, and the simulator's events outnumber none of its signals
    for repost, original in built.truth.duplicates:
        assert members[f"repost_hub:{repost}"] == members[f"newswire:{original}"], repost
    assert len(events) < len(members) and (events["member_count"] > 1).sum() >= len(built.truth.duplicates) // 2


def test_reliability_matches_the_pandas_reference(built: Built) -> None:
    actual = frame(built.url, "select * from intermediate.int_signal_source_reliability order by source, as_of")
    expected = expected_reliability(signals_frame(built.url), built.candles)
    assert_frames_close(actual, expected)


def test_reliability_recovers_the_simulators_truth(built: Built) -> None:
    final = frame(built.url, """
        select distinct on (source) source, resolved_count, hit_count, hit_rate
        from intermediate.int_signal_source_reliability order by source, as_of desc""").set_index("source")
    for source in built.truth.sources:
        row = final.loc[source.name]
        # the same signals judged by the same returns: the realized counts exactly
        assert (row["resolved_count"], row["hit_count"]) == (source.resolved, source.hits), source.name
        if source.nominal_accuracy is not None:
            p, n = source.nominal_accuracy, source.resolved
            # within 4 binomial standard errors of the accuracy the simulator drew with
            assert abs(row["hit_rate"] - p) <= 4 * math.sqrt(p * (1 - p) / n), (source.name, row["hit_rate"], p, n)
    informative = [s.name for s in built.truth.sources if s.nominal_accuracy is not None and s.nominal_accuracy > 0.5]
    noise = [s.name for s in built.truth.sources if s.nominal_accuracy == 0.5]
    assert final.loc[informative, "hit_rate"].min() > final.loc[noise, "hit_rate"].max()


def test_sentiment_matches_the_pandas_reference(built: Built) -> None:
    signals = signals_frame(built.url)
    reliability = frame(built.url, "select * from intermediate.int_signal_source_reliability")
    # input_batch_ids is test_dbt_lineage_signals.py's
    actual = frame(built.url, "select * from intermediate.int_signal_sentiment_1h order by symbol, bucket_start").drop(columns="input_batch_ids")
    expected = expected_sentiment(signals, expected_events(signals), reliability)
    assert_frames_close(actual, expected)
    assert actual["sentiment"].notna().sum() > len(actual) // 2  # the informative sources earn weight


def test_windows_in_sequence_give_the_full_refresh(built: Built) -> None:
    full = {m: frame(built.url, f"select * from intermediate.{m} order by 1, 2") for m in MODELS}
    cuts = [START, START + timedelta(hours=30), START + timedelta(hours=61), CANDLES_END]
    built.dbt.run("build", *SELECT, "--full-refresh", "--exclude-resource-type", "test", dbt_vars=window(cuts[0], cuts[1]))
    for start, end in zip(cuts[1:], cuts[2:], strict=False):
        built.dbt.run("build", *SELECT, "--exclude-resource-type", "test", dbt_vars=window(start, end))
    for model, expected in full.items():
        assert_frames_close(frame(built.url, f"select * from intermediate.{model} order by 1, 2"), expected)


def test_malformed_parameters_fail_naming_the_var(built: Built) -> None:
    parameters = {
        "outcome_horizon_hours": H, "event_window_minutes": WINDOW_MINUTES, "text_similarity": SIMILARITY,
        "reliability_lookback_hours": LOOKBACK, "reliability_prior_strength": K, "sentiment_model_version": "3.3.2",
    }
    for name, value, rule in (
        ("text_similarity", 1.5, "expected a number in (0, 1]"),
        ("event_window_minutes", True, "expected an integer between 1 and 1440"),
    ):
        result = built.dbt.run("compile", "-s", "int_signal_events", dbt_vars={"signals": {**parameters, name: value}}, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0 and f"var signals.{name}={value} is malformed: {rule}" in output, (name, output[-2000:])
