"""Lineage of the signals chain: the raw.signals (and raw.signal_sentiment) batches in the
sentiment, the v2 scores, the agents' evaluations, their consensus and fct_agent_performance,
on real PostgreSQL and dbt.

One database: synthetic.py's candles (13 contracts, 72 hours) and two signal files imported by the
real importer, one load batch each (FIRST, SECOND), whose signals are designed so that the events
are known by construction (EVENTS; int_signal_event_members is checked against them):

* XBTUSDTM hour 5: a long from FIRST and an unrelated short from SECOND, two events: an hour with
  signals from two batches;
* ETHUSDTM hour 10: an item from FIRST and its repost from SECOND, received in the same hour: one
  event, counted once, whose members are both read, so both batches are traced;
* SOLUSDTM hours 20 / 21: a textless alert from FIRST and its echo from SECOND received in the next
  hour: one event of hour 20 that traces FIRST only; hour 21 has no sentiment row (the echo adds
  nothing there) although a signal was received in it.

Every other hour has no signals: its arrays are the bars' only. The references rebuild every array
from raw.signals.batch_id, raw.signal_sentiment.batch_id and the bars' batches recomputed from the
raw minutes (lineage_reference.bar_batches); v1 (no sentiment weight) must never hold a signal
batch. One populate and one build; the last test rebuilds the sentiment and score chain in windows,
which must give the full build's arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from orchestration.ingestion.signals import import_signal_file
from orchestration.lineage.trace import Lineage, trace
from tests.integration.dbt import synthetic
from tests.integration.dbt.dbt_cli import Dbt, fetch, frame, window
from tests.integration.dbt.lineage_reference import HOUR, Bars, bar_batches, data_window_batches, union

H = 24  # var agents.outcome_horizon_hours (the project default)
AGENTS = ("technical", "market_structure", "risk", "sentiment")
# file -> signals: (external_id, symbol, direction, text, published at, received at), minutes from START
FILES = {
    "first": (
        ("x-long", "XBTUSDTM", "long", "Bitcoin ETF inflows hit a record high", 5 * 60, 5 * 60 + 2),
        ("e-item", "ETHUSDTM", "short", "Ethereum exchange outflow warning issued by analysts", 10 * 60, 10 * 60 + 5),
        ("s-alert", "SOLUSDTM", "long", None, 20 * 60 + 30, 20 * 60 + 40),
    ),
    "second": (
        ("x-short", "XBTUSDTM", "short", "Regulator opens probe into a major exchange", 5 * 60 + 20, 5 * 60 + 30),
        ("e-repost", "ETHUSDTM", "short", "Ethereum exchange outflow warning issued by analysts!", 10 * 60 + 10, 10 * 60 + 20),
        ("s-echo", "SOLUSDTM", "long", None, 20 * 60 + 50, 21 * 60 + 15),
    ),
}
SOURCE = "newswire"
# signal -> the event it belongs to (the earliest-published member), by construction
EVENTS = {
    "x-long": "x-long", "x-short": "x-short", "e-item": "e-item", "e-repost": "e-item", "s-alert": "s-alert", "s-echo": "s-alert",
}
Key = tuple[str, pd.Timestamp]


@dataclass(frozen=True)
class Built:
    url: str
    dbt: Dbt
    data: synthetic.Synthetic
    bars: Bars
    batches: dict[str, int]  # file -> its import's load batch


def at(minutes: int) -> pd.Timestamp:
    return pd.Timestamp(synthetic.START) + pd.Timedelta(minutes=minutes)


def signal_lines(signals: tuple[tuple[str, str, str, str | None, int, int], ...]) -> str:
    lines = []
    for external_id, symbol, direction, text, published, received in signals:
        record = {
            "source": SOURCE, "external_id": external_id, "kind": "news" if text else "technical", "symbol": symbol,
            "direction": direction, "confidence": 0.8, "published_at": at(published).isoformat(), "received_at": at(received).isoformat(),
        }
        lines.append(json.dumps(record | ({"text": text} if text else {})))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def built(database_url: str, dbt_work_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    data = synthetic.populate(database_url)
    files = tmp_path_factory.mktemp("signals")
    batches = {}
    for name, signals in FILES.items():
        path = files / f"{name}.jsonl"
        path.write_text(signal_lines(signals))
        batches[name] = import_signal_file(database_url, path).batch_id
    dbt = Dbt(database_url, dbt_work_dir)
    dbt.run("build", "-s", "+fct_symbol_scores", "+fct_agent_performance", "--indirect-selection", "cautious")
    yield Built(database_url, dbt, data, bar_batches(data), batches)


# ---- the reference, from the raw tables ---------------------------------------------------------


def signal_batches(built: Built) -> dict[str, frozenset[int]]:
    """Each signal's batches: its raw.signals row's and its text's raw.signal_sentiment row's."""
    rows = fetch(built.url, """
        select s.external_id, array_remove(array[s.batch_id, t.batch_id], null)
        from raw.signals s left join raw.signal_sentiment t using (source, external_id)""")
    return {external_id: frozenset(ids) for external_id, ids in rows}


def expected_sentiment_batches(built: Built) -> dict[Key, list[int]]:
    """Per (symbol, hour of an event's first receipt): the batches of its events' members received in that hour."""
    signals = {s[0]: s for file_signals in FILES.values() for s in file_signals}
    batches = signal_batches(built)
    first_hour = {e: min(at(signals[m][5]) for m in EVENTS if EVENTS[m] == e).floor("h") for e in set(EVENTS.values())}
    rows: dict[Key, set[int]] = {}
    for member, event in EVENTS.items():
        symbol, received = signals[member][1], at(signals[member][5])
        if received.floor("h") == first_hour[event]:
            rows.setdefault((symbol, first_hour[event]), set()).update(batches[member])
    return {key: sorted(ids) for key, ids in rows.items()}


def bar(built: Built, symbol: str, bucket_start: pd.Timestamp) -> frozenset[int]:
    return built.bars.get((symbol, pd.Timestamp(bucket_start)), frozenset())


def expected_evaluation(built: Built, sentiment: dict[Key, list[int]], agent: str, symbol: str, bucket_start: pd.Timestamp) -> list[int]:
    """technical and risk: the bar; sentiment: the hour's signals; market_structure: nothing
    (this data has no books, tickers or trades)."""
    if agent in ("technical", "risk"):
        return sorted(bar(built, symbol, bucket_start))
    return sentiment.get((symbol, pd.Timestamp(bucket_start)), []) if agent == "sentiment" else []


def ids(values: object) -> list[int]:
    return sorted(map(int, values))  # type: ignore[call-overload]


# ---- the tests -----------------------------------------------------------------------------------


def test_the_data_holds_the_cases(built: Built) -> None:
    """Two signal batches, neither a candle or contract batch (so a signal batch in a v1 score or
    an hour without signals is an error the tests below can see), and the designed events."""
    candle_batches = {i for s in built.bars.values() for i in s}
    assert len(set(built.batches.values())) == 2 and not set(built.batches.values()) & candle_batches
    members = frame(built.url, "select split_part(signal_id, ':', 2) as member, split_part(event_id, ':', 2) as event from intermediate.int_signal_event_members")
    assert dict(zip(members["member"], members["event"], strict=True)) == EVENTS
    assert signal_batches(built)["x-long"] == {built.batches["first"]}  # text scored in the batch that inserted it


def test_members_and_events_trace_their_signals(built: Built) -> None:
    batches = signal_batches(built)
    members = frame(built.url, "select split_part(signal_id, ':', 2) as member, batch_ids from intermediate.int_signal_event_members order by 1")
    for member, row_ids in zip(members["member"], members["batch_ids"], strict=True):
        assert ids(row_ids) == sorted(batches[member]), member
    events = frame(built.url, "select split_part(event_id, ':', 2) as event, batch_ids from intermediate.int_signal_events order by 1")
    for event, row_ids in zip(events["event"], events["batch_ids"], strict=True):
        assert ids(row_ids) == union(batches[m] for m in EVENTS if EVENTS[m] == event), event
    # the echo received an hour later is still its event's member
    assert ids(events.set_index("event").loc["s-alert", "batch_ids"]) == sorted(built.batches.values())


def test_sentiment_traces_the_members_it_counts(built: Built) -> None:
    actual = frame(built.url, "select symbol, bucket_start, event_count, signal_count, input_batch_ids from intermediate.int_signal_sentiment_1h order by 1, 2")
    expected = expected_sentiment_batches(built)
    assert {(s, pd.Timestamp(b)): ids(i) for s, b, i in zip(actual["symbol"], actual["bucket_start"], actual["input_batch_ids"], strict=True)} == expected
    both, first = sorted(built.batches.values()), [built.batches["first"]]
    by_key = actual.set_index(["symbol", "bucket_start"])
    assert ids(by_key.loc[("XBTUSDTM", at(5 * 60)), "input_batch_ids"]) == both  # two events, two batches
    duplicate = by_key.loc[("ETHUSDTM", at(10 * 60))]
    assert (duplicate["event_count"], duplicate["signal_count"], ids(duplicate["input_batch_ids"])) == (1, 2, both)  # counted once, both read
    assert ids(by_key.loc[("SOLUSDTM", at(20 * 60)), "input_batch_ids"]) == first
    assert ("SOLUSDTM", at(21 * 60)) not in by_key.index  # the echo's hour: nothing counted, nothing traced


def test_score_components_keep_the_signals_apart_from_the_bars(built: Built) -> None:
    sentiment = expected_sentiment_batches(built)
    components = frame(built.url, "select symbol, bucket_start, input_batch_ids, sentiment_batch_ids from intermediate.int_score_components_1h order by 1, 2")
    assert len(components) == len(built.bars)
    for row in components.itertuples():
        assert ids(row.input_batch_ids) == data_window_batches(built.bars, row.symbol, row.bucket_start), (row.symbol, row.bucket_start)
        assert ids(row.sentiment_batch_ids) == sentiment.get((row.symbol, row.bucket_start), []), (row.symbol, row.bucket_start)


def test_scores_add_the_signal_batches_only_where_the_version_weighs_sentiment(built: Built) -> None:
    sentiment = expected_sentiment_batches(built)
    weighs = {v for (v,) in fetch(built.url, "select algorithm_version from marts.scoring_algorithm_weights where component = 'sentiment' and weight > 0")}
    scores = frame(built.url, "select symbol, bucket_start, algorithm_version, sentiment, input_batch_ids from marts.fct_symbol_scores order by 1, 2, 3")
    assert {"v1", "v2"} <= set(scores["algorithm_version"]) and weighs == {"v2"}
    for row in scores.itertuples():
        signals = sentiment.get((row.symbol, row.bucket_start), []) if row.algorithm_version in weighs else []
        want = union([data_window_batches(built.bars, row.symbol, row.bucket_start), signals])
        assert ids(row.input_batch_ids) == want, (row.symbol, row.bucket_start, row.algorithm_version)
    signal_ids = set(built.batches.values())
    v1 = scores[scores["algorithm_version"] == "v1"]
    assert not v1["input_batch_ids"].map(lambda a: bool(signal_ids & set(a))).any()  # v1 reads no signal
    v2 = scores[scores["algorithm_version"] == "v2"].set_index(["symbol", "bucket_start"])
    assert signal_ids <= set(v2.loc[("XBTUSDTM", at(5 * 60)), "input_batch_ids"])
    assert not signal_ids & set(v2.loc[("XBTUSDTM", at(6 * 60)), "input_batch_ids"])  # an hour without signals: the bars only


def test_evaluations_trace_each_agents_own_inputs(built: Built) -> None:
    sentiment = expected_sentiment_batches(built)
    evaluations = frame(built.url, "select agent, symbol, bucket_start, input_batch_ids from intermediate.int_agent_evaluations_1h order by 1, 2, 3")
    assert set(evaluations["agent"]) == set(AGENTS)
    for row in evaluations.itertuples():
        assert ids(row.input_batch_ids) == expected_evaluation(built, sentiment, row.agent, row.symbol, row.bucket_start), row
    # the market-structure agent traces int_market_structure_1h's rows by key, and this data has none
    assert fetch(built.url, "select count(*) from intermediate.int_market_structure_1h") == [(0,)]
    traced = evaluations[evaluations["agent"] == "sentiment"]["input_batch_ids"].map(len)
    assert (traced > 0).sum() == len(sentiment)


def test_consensus_and_agent_performance_trace_the_evaluations(built: Built) -> None:
    sentiment = expected_sentiment_batches(built)
    consensus = frame(built.url, "select symbol, bucket_start, input_batch_ids from intermediate.int_agent_consensus_1h order by 1, 2")
    assert len(consensus) == len(built.bars)
    for row in consensus.itertuples():
        want = union(expected_evaluation(built, sentiment, a, row.symbol, row.bucket_start) for a in AGENTS)
        assert ids(row.input_batch_ids) == want, (row.symbol, row.bucket_start)
    by_key = consensus.set_index(["symbol", "bucket_start"])
    assert set(built.batches.values()) <= set(by_key.loc[("ETHUSDTM", at(10 * 60)), "input_batch_ids"])
    assert ids(by_key.loc[("ETHUSDTM", at(11 * 60)), "input_batch_ids"]) == sorted(bar(built, "ETHUSDTM", at(11 * 60)))  # no signals: the bar only

    evaluations = frame(built.url, "select agent, symbol, bucket_start, score_time from intermediate.int_agent_evaluations_1h")
    evaluations["score_date"] = evaluations["score_time"].dt.tz_convert("UTC").dt.date
    performance = frame(built.url, "select agent, score_date, input_batch_ids from marts.fct_agent_performance order by 1, 2")
    for row in performance.itertuples():
        day = evaluations[(evaluations["agent"] == row.agent) & (evaluations["score_date"] == row.score_date)]
        want = union(
            {*expected_evaluation(built, sentiment, row.agent, s, b), *bar(built, s, b), *bar(built, s, b + H * HOUR)}
            for s, b in zip(day["symbol"], day["bucket_start"], strict=True)
        )
        assert ids(row.input_batch_ids) == want, (row.agent, row.score_date)
    sentiment_days = performance[performance["agent"] == "sentiment"]["input_batch_ids"]
    assert set(built.batches.values()) <= {i for a in sentiment_days for i in a}


def test_windows_in_sequence_give_the_full_builds_arrays(built: Built) -> None:
    """The sentiment and the score chain rebuilt in three windows (cut after hour 5's two batches
    and between SOLUSDTM's alert and its echo) give the full build's rows, arrays included."""
    tables = {
        "intermediate.int_signal_sentiment_1h": "symbol, bucket_start",
        "intermediate.int_score_components_1h": "symbol, bucket_start",
        "marts.fct_symbol_scores": "symbol, score_time, algorithm_version",
    }
    full = {t: fetch(built.url, f"select * from {t} order by {key}") for t, key in tables.items()}
    models = [t.split(".")[1] for t in tables]
    cuts = [synthetic.START + timedelta(hours=h) for h in (0, 6, 21, synthetic.HOURS)]
    for i, (start, end) in enumerate(zip(cuts, cuts[1:], strict=False)):
        refresh = ["--full-refresh"] if i == 0 else []
        built.dbt.run("build", "-s", *models, *refresh, "--exclude-resource-type", "test", dbt_vars=window(start, end))
    for t, key in tables.items():
        assert fetch(built.url, f"select * from {t} order by {key}") == full[t], t


def test_reliability_and_sentiment_weights_resolve_through_their_references(built: Built) -> None:
    """orchestration/lineage: int_signal_source_reliability at (source, as_of) traces the source's
    signals received in [as_of - 720h, as_of) and the forward returns (4h: the bar of the signal's
    hour and the bar 4 hours later) of those resolved by as_of (hour + 5h <= as_of); a sentiment
    hour traces the reliability rows at its bucket_start of its members' sources."""
    lineage = Lineage.from_manifest_file(built.dbt.work_dir / "target" / "manifest.json")
    signals = [s for file_signals in FILES.values() for s in file_signals]
    batches = signal_batches(built)
    sentiment = expected_sentiment_batches(built)

    def reliability(as_of: pd.Timestamp) -> dict[str, list[int]]:
        read = [s for s in signals if as_of - 720 * HOUR <= at(s[5]) < as_of]
        resolved = [s for s in read if at(s[5]).floor("h") + 5 * HOUR <= as_of]
        return {
            "stg_signals__signals": union(batches[s[0]] for s in read),
            "int_forward_returns_1h": union(bar(built, s[1], at(s[5]).floor("h") + k * HOUR) for s in resolved for k in (0, 4)),
        }

    with psycopg.connect(built.url, autocommit=True) as conn:
        rows = trace(conn, lineage, "int_signal_source_reliability", f"source = '{SOURCE}'")
        hours = trace(conn, lineage, "int_signal_sentiment_1h", "true")
        sentiment_hours = ", ".join(f"'{h.isoformat()}'" for _, h in sentiment)
        scores = trace(conn, lineage, "fct_symbol_scores", f"bucket_start in ({sentiment_hours})")
    assert len(rows) > 0 and len(hours) == len(sentiment)
    for row in rows:
        for path, want in reliability(pd.Timestamp(row.key["as_of"])).items():
            assert row.contributions.get(f"int_signal_source_reliability > {path}", []) == want, (row.key, path)
    resolved_somewhere = False
    for hour in hours:
        bucket = pd.Timestamp(hour.key["bucket_start"])
        want = reliability(bucket)  # one source here (hour 5: no row yet, nothing read before it)
        for path in ("stg_signals__signals", "int_forward_returns_1h"):
            got = hour.contributions.get(f"int_signal_sentiment_1h > int_signal_source_reliability > {path}", [])
            assert got == want.get(path, []), (hour.key, path)
            resolved_somewhere |= path == "int_forward_returns_1h" and bool(got)
    assert resolved_somewhere  # ETHUSDTM hour 10 is weighed by the hour-5 signals resolved at 10:00
    # a score reaches the weights of its bar's hour only where its version weighs sentiment (v2)
    weighed = "fct_symbol_scores > int_signal_sentiment_1h > int_signal_source_reliability > stg_signals__signals"
    for score in scores:
        bucket = pd.Timestamp(score.key["score_time"]) - HOUR
        has_row = (score.key["symbol"], bucket) in sentiment
        want = reliability(bucket)["stg_signals__signals"] if score.key["algorithm_version"] == "v2" and has_row else []
        assert score.contributions.get(weighed, []) == want, score.key
    assert any(weighed in s.contributions for s in scores)
