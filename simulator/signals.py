"""Signal files with a known ground truth, from the simulated market's own future returns.

Every source emits, for each symbol and UTC hour, a signal with its own probability; the
signal is received at a random minute of the hour and was published a source-specific delay
before. Its outcome is the forward return the platform measures for it
(int_signal_source_reliability): from the close of the 1h bar in which it was received to the
close HORIZON_HOURS later, read from the simulator's own 1-minute candles:

    forward_return = close(t0 + H) / close(t0) - 1,   t0 = date_trunc('hour', received_at) + 1 hour

An informative source states the direction of that return with probability ``accuracy``
(the opposite otherwise); a noise source states a direction at random (accuracy 0.5) and is
sometimes neutral. ``repost_hub`` echoes newswire items a few minutes later with
near-duplicate text (cross-source duplicates): same symbol and direction, ``RT @newswire: ``
before the original text. A few malformed rows are written into each file, each with the rule
the importer must refuse it by. Everything is drawn from counter-based streams
(simulator.rng): the same seed, symbols and hours give the same bytes.

The ground truth (ground_truth.json) holds each source's nominal accuracy, its realized hit
count (directional signals whose forward return is non-zero and agrees), the duplicates and
the malformed rows with their file, line and rule.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from simulator.config import DEFAULT_CONTRACTS
from simulator.market import Market
from simulator.rng import stream_key, uniforms
from simulator.universe import HOUR_MS, Contract, build_universe

HORIZON_HOURS = 4
CSV_FIELDS = ("source", "external_id", "kind", "symbol", "direction", "confidence", "text", "published_at", "received_at")


@dataclass(frozen=True)
class SourceSpec:
    name: str
    kind: str
    file_format: str  # jsonl | csv
    accuracy: float | None  # P(direction agrees with the forward return); 0.5 noise; None: echoes echo_of
    rate: float  # probability of a signal per symbol and hour (an echo: per item of echo_of)
    delay_seconds: tuple[int, int]  # received_at - published_at, uniform in this range
    neutral_share: float = 0.0
    echo_of: str | None = None

    @property
    def file_name(self) -> str:
        return f"{self.name}.{self.file_format}"


SOURCES = (
    SourceSpec("ta_breakout", "technical", "csv", 0.72, 0.30, (5, 60)),
    SourceSpec("newswire", "news", "jsonl", 0.68, 0.30, (30, 300)),
    SourceSpec("chain_watch", "onchain", "jsonl", 0.64, 0.30, (60, 600)),
    SourceSpec("crowd_chatter", "social", "jsonl", 0.50, 0.30, (5, 120), neutral_share=0.1),
    SourceSpec("ta_random", "technical", "csv", 0.50, 0.30, (5, 60), neutral_share=0.1),
    SourceSpec("repost_hub", "social", "jsonl", None, 0.6, (120, 900), echo_of="newswire"),
)

_WORDS = {
    "news": {
        "long": (("surges", "rallies", "jumps", "climbs"), ("ETF inflows accelerate", "whales accumulate", "a major exchange lists it", "open interest builds")),
        "short": (("slumps", "drops", "tumbles", "slides"), ("regulators open a probe", "a large holder dumps tokens", "liquidations cascade", "an exploit drains a bridge")),
    },
    "social": {
        "long": (("love", "buying more", "so bullish on", "great entry on"), ("to the moon", "best setup this week", "easy win", "huge upside")),
        "short": (("hate", "dumping", "so bearish on", "terrible chart on"), ("going to crash", "worst setup this week", "bad loss coming", "ugly downside")),
        "neutral": (("watching", "no view on", "sideways", "waiting on"), ("for now", "until the close", "today", "this week")),
    },
    "onchain": {
        "long": (("withdrawn from exchanges to cold storage", "accumulated by long-term holders"), ("strong support", "healthy demand")),
        "short": (("deposited to exchanges", "moved by a hacked wallet"), ("selling pressure", "panic risk")),
    },
}


@dataclass(frozen=True)
class Malformed:
    file: str
    line: int
    rule: str


@dataclass(frozen=True)
class SourceTruth:
    name: str
    kind: str
    file: str
    informative: bool
    nominal_accuracy: float | None
    signals: int  # rows written (valid ones)
    resolved: int  # directional signals with a non-null forward return
    hits: int  # ... whose direction agrees with the sign of the forward return


@dataclass(frozen=True)
class GroundTruth:
    seed: int
    symbols: list[str]
    start: str
    end: str
    horizon_hours: int
    sources: list[SourceTruth]
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (repost external_id, original external_id)
    malformed: list[Malformed] = field(default_factory=list)

    def source(self, name: str) -> SourceTruth:
        return next(s for s in self.sources if s.name == name)


def write_signal_files(
    out_dir: Path, seed: int, symbols: Sequence[str], start: datetime, end: datetime, contracts: int = DEFAULT_CONTRACTS,
) -> GroundTruth:
    """Write one file per source and ground_truth.json into ``out_dir``; signals are received in [start, end)."""
    if start.tzinfo is None or end <= start or start.timestamp() % 3600 or end.timestamp() % 3600:
        raise ValueError(f"signals window {start}..{end}: expected whole UTC hours with start < end")
    universe = {c.symbol: c for c in build_universe(seed, contracts)}
    unknown = [s for s in symbols if s not in universe]
    if unknown:
        raise ValueError(f"symbols {unknown}: not in the simulator's universe of {contracts} contracts (seed {seed})")
    market = Market(seed, list(universe.values()))
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    closes = {s: _hour_closes(market, universe[s], start_ms, end_ms + (HORIZON_HOURS + 1) * HOUR_MS) for s in symbols}
    rows: dict[str, list[_Draft]] = {}
    duplicates: list[tuple[str, str]] = []
    for spec in sorted(SOURCES, key=lambda s: s.echo_of is not None):  # an echo after what it echoes
        if spec.echo_of is None:
            rows[spec.name] = _source_rows(seed, spec, symbols, start_ms, end_ms)
        else:
            rows[spec.name], pairs = _echo_rows(seed, spec, rows[spec.echo_of], end_ms)
            duplicates += pairs
        for row in rows[spec.name]:
            _decide(row, spec, _outcome(row, closes))
    out_dir.mkdir(parents=True, exist_ok=True)
    truths, malformed = [], []
    for spec in SOURCES:
        resolved, hits = _score(rows[spec.name], closes)
        bad = _malformed_rows(spec, rows[spec.name][0] if rows[spec.name] else None)
        malformed += _write(out_dir / spec.file_name, spec, rows[spec.name], bad, seed)
        informative = spec.accuracy is None or spec.accuracy > 0.5
        truths.append(SourceTruth(spec.name, spec.kind, spec.file_name, informative, spec.accuracy, len(rows[spec.name]), resolved, hits))
    truth = GroundTruth(seed, list(symbols), start.isoformat(), end.isoformat(), HORIZON_HOURS, truths, duplicates, malformed)
    (out_dir / "ground_truth.json").write_text(json.dumps(asdict(truth), indent=2) + "\n", encoding="utf-8")
    return truth


@dataclass
class _Draft:
    """A signal being made: its direction and text are decided once its outcome is known."""

    source: str
    external_id: str
    kind: str
    symbol: str
    confidence: float
    published_ms: int
    received_ms: int
    u_direction: float = 0.5  # the draw that decides whether the direction agrees with the outcome
    u_text: float = 0.5  # the draw that picks the words (and a direction when there is no outcome)
    neutral: bool = False
    echo_of: _Draft | None = None
    direction: str = ""
    text: str | None = None

    def public(self) -> dict[str, object]:
        """The row as written: the schema fields, times as ISO-8601 UTC."""
        return {
            "source": self.source, "external_id": self.external_id, "kind": self.kind, "symbol": self.symbol,
            "direction": self.direction, "confidence": self.confidence, "text": self.text,
            "published_at": _iso(self.published_ms), "received_at": _iso(self.received_ms),
        }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _hour_closes(market: Market, contract: Contract, start_ms: int, end_ms: int) -> dict[int, float]:
    """Close of each 1h bar by its end (ms): the close of the hour's last traded minute, as int_candles_1h."""
    bars = market.candles(contract, start_ms, end_ms)
    hour_end = (bars.open_ms // HOUR_MS + 1) * HOUR_MS
    last = np.r_[hour_end[1:] != hour_end[:-1], True]
    return dict(zip(hour_end[last].tolist(), bars.close[last].tolist(), strict=True))


def _source_rows(seed: int, spec: SourceSpec, symbols: Sequence[str], start_ms: int, end_ms: int) -> list[_Draft]:
    hours = np.arange(start_ms // HOUR_MS, end_ms // HOUR_MS)
    informative = (spec.accuracy or 0.5) > 0.5
    low, high = spec.delay_seconds
    rows = []
    for symbol in symbols:
        draws = {
            name: uniforms(stream_key(seed, "signals", spec.name, symbol, name), hours)
            for name in ("emit", "minute", "delay", "confidence", "neutral", "text", "direction")
        }
        for i in np.flatnonzero(draws["emit"] < spec.rate):
            received_ms = int(hours[i]) * HOUR_MS + int(draws["minute"][i] * 3_600) * 1000
            u = float(draws["confidence"][i])
            rows.append(_Draft(
                source=spec.name, external_id=f"{spec.name}-{symbol}-{int(hours[i])}", kind=spec.kind, symbol=symbol,
                confidence=round(0.55 + 0.4 * u if informative else 0.3 + 0.6 * u, 2),
                published_ms=received_ms - int(low + draws["delay"][i] * (high - low)) * 1000, received_ms=received_ms,
                u_direction=float(draws["direction"][i]), u_text=float(draws["text"][i]),
                neutral=bool(draws["neutral"][i] < spec.neutral_share),
            ))
    return rows


def _echo_rows(seed: int, spec: SourceSpec, originals: list[_Draft], end_ms: int) -> tuple[list[_Draft], list[tuple[str, str]]]:
    rows, pairs = [], []
    low, high = spec.delay_seconds
    for n, original in enumerate(originals):
        u = uniforms(stream_key(seed, "signals", spec.name, original.external_id), np.arange(3))
        if u[0] >= spec.rate:
            continue
        published_ms = original.published_ms + int(low + u[1] * (high - low)) * 1000
        received_ms = published_ms + int(5 + 55 * u[2]) * 1000
        if received_ms >= end_ms:
            continue
        external_id = f"{spec.name}-{n}"
        rows.append(_Draft(spec.name, external_id, spec.kind, original.symbol, original.confidence, published_ms, received_ms, echo_of=original))
        pairs.append((external_id, original.external_id))
    return rows, pairs


def _decide(row: _Draft, spec: SourceSpec, forward_return: float | None) -> None:
    """The row's direction (from its outcome and the source's accuracy) and its text."""
    if row.echo_of is not None:
        row.direction, row.text = row.echo_of.direction, f"RT @{row.echo_of.source}: {row.echo_of.text}"
        return
    if row.neutral:
        row.direction = "neutral"
    else:
        agrees = row.u_direction < (spec.accuracy or 0.5)
        up = forward_return > 0 if forward_return else row.u_text < 0.5  # no (or a zero) outcome: either way
        row.direction = "long" if up == agrees else "short"
    row.text = _text(spec.kind, row.symbol, row.direction, row.u_text)


def _text(kind: str, symbol: str, direction: str, u: float) -> str | None:
    words = _WORDS.get(kind, {}).get(direction)
    if words is None:
        return None
    base = symbol.removesuffix("USDTM")
    verbs, tails = words
    verb, tail = verbs[int(u * len(verbs))], tails[int(u * 97) % len(tails)]
    number = 1 + int(u * 9_973) % 900
    if kind == "news":
        return f"{base} {verb} {number / 100:.2f}% as {tail}"
    if kind == "social":
        return f"{verb} ${base} {tail} #{number}"
    return f"{number * 10} {base} {verb}: {tail}"


def _outcome(row: _Draft, closes: dict[str, dict[int, float]]) -> float | None:
    t0 = (row.received_ms // HOUR_MS + 1) * HOUR_MS
    series = closes[row.symbol]
    start, end = series.get(t0), series.get(t0 + HORIZON_HOURS * HOUR_MS)
    return None if start is None or end is None or start == 0 else end / start - 1


def _score(rows: list[_Draft], closes: dict[str, dict[int, float]]) -> tuple[int, int]:
    resolved = hits = 0
    for row in rows:
        outcome = _outcome(row, closes)
        if row.direction == "neutral" or outcome is None:
            continue
        resolved += 1
        hits += int(outcome * (1 if row.direction == "long" else -1) > 0)
    return resolved, hits


def _malformed_rows(spec: SourceSpec, example: _Draft | None) -> list[tuple[str, dict[str, object] | str]]:
    """(rule, record) of the malformed rows written into the source's file."""
    if example is None:
        return []
    good = example.public()
    bad: list[tuple[str, dict[str, object] | str]] = [
        ("confidence:less_than_equal", {**good, "external_id": f"{spec.name}-bad-confidence", "confidence": 1.3}),
        ("direction:literal_error", {**good, "external_id": f"{spec.name}-bad-direction", "direction": "up"}),
        ("symbol:missing", {k: v for k, v in {**good, "external_id": f"{spec.name}-bad-symbol"}.items() if k != "symbol"}),
        ("published_at:timezone_aware", {**good, "external_id": f"{spec.name}-bad-time", "published_at": "2026-11-01 00:00:00"}),
        ("received_before_published", {**good, "external_id": f"{spec.name}-bad-order", "received_at": "2000-01-01T00:00:00+00:00"}),
    ]
    bad.append(("line:wrong_field_count", "a,b,c") if spec.file_format == "csv" else ("line:invalid_json", '{"source": "broken'))
    return bad


def _write(path: Path, spec: SourceSpec, rows: list[_Draft], bad: list[tuple[str, dict[str, object] | str]], seed: int) -> list[Malformed]:
    """Write the rows (by received time) with the malformed ones at seeded positions; returns where those went."""
    records: list[dict[str, object] | str] = [r.public() for r in sorted(rows, key=lambda r: (r.received_ms, r.external_id))]
    spots = uniforms(stream_key(seed, "signals", spec.name, "malformed"), np.arange(len(bad)))
    placed: list[tuple[int, str]] = []
    for (rule, record), u in zip(bad, spots, strict=True):
        at = int(u * (len(records) + 1))
        records.insert(at, record)
        placed = [(p + 1 if p >= at else p, r) for p, r in placed] + [(at, rule)]
    header = 1 if spec.file_format == "csv" else 0
    buffer = io.StringIO()
    if spec.file_format == "csv":
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        for record in records:
            if isinstance(record, str):
                buffer.write(record + "\n")
            else:
                writer.writerow(["" if record.get(f) is None else record.get(f) for f in CSV_FIELDS])
    else:
        for record in records:
            buffer.write((record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)) + "\n")
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return [Malformed(path.name, p + 1 + header, rule) for p, rule in sorted(placed)]
