"""Time windows of a load: chunks of whole hours, the part of a window a contract traded, ms conversions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from orchestration.ingestion.universe import Instrument

HOUR = timedelta(hours=1)


def hour_chunks(start: datetime, end: datetime, chunk_hours: int) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive chunks of ``chunk_hours`` (the last may be shorter)."""
    step = HOUR * chunk_hours
    while start < end:
        yield start, min(start + step, end)
        start += step


def listed_span(instrument: Instrument, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The part of [start, end) during which the contract traded, on whole minutes (None: none)."""
    start_ms, end_ms = to_ms(start), to_ms(end)
    if instrument.listed_from is not None:
        start_ms = max(start_ms, -(-to_ms(instrument.listed_from) // 60_000) * 60_000)
    if instrument.listed_until is not None:
        end_ms = min(end_ms, to_ms(instrument.listed_until) // 60_000 * 60_000)
    return (from_ms(start_ms), from_ms(end_ms)) if start_ms < end_ms else None


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def partition_key(moment: datetime) -> str:
    """Dagster's hourly partition key of the hour starting at ``moment``."""
    return moment.strftime("%Y-%m-%d-%H:%M")
