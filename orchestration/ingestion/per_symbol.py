"""Fetch one request (or a few) per symbol, keeping every symbol that arrives whole.

A symbol whose requests fail after the client's own retries is set aside with its error, the
others go on: a bad or unavailable symbol must not cost the other 499. The load records the
failures per symbol (raw.load_batch_symbols); a step retry of the same run then asks only for
what this run has not loaded yet.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import pandas as pd
import psycopg

from models.rejections import Rejection
from models.tables import RawTable
from orchestration.ingestion.batches import BatchSpec
from orchestration.ingestion.gc_pause import collector_paused
from orchestration.ingestion.runner import ArrivedBatch, BatchResult, Fetched, SymbolSpan, checksum_of, fetch_batch
from orchestration.ingestion.universe import Instrument
from orchestration.ingestion.windows import HOUR, hour_chunks, listed_span, partition_key
from orchestration.resources.exchange import ExchangeClient, ExchangeRequestError, KucoinFuturesResource

T = TypeVar("T")


@dataclass
class PerSymbol(Generic[T]):
    results: dict[str, T] = field(default_factory=dict)
    failures: dict[str, ExchangeRequestError] = field(default_factory=dict)


async def fetch_each(symbols: Iterable[str], fetch_one: Callable[[str], Awaitable[T]]) -> PerSymbol[T]:
    """Run ``fetch_one`` for every symbol concurrently (the client bounds concurrency and pace)."""
    ordered = list(dict.fromkeys(symbols))
    outcomes = await asyncio.gather(*(fetch_one(s) for s in ordered), return_exceptions=True)
    fetched: PerSymbol[T] = PerSymbol()
    for symbol, outcome in zip(ordered, outcomes, strict=True):
        if isinstance(outcome, ExchangeRequestError):
            fetched.failures[symbol] = outcome
        elif isinstance(outcome, BaseException):
            raise outcome  # a bug or a cancellation, not the exchange: nothing to set aside
        else:
            fetched.results[symbol] = outcome
    return fetched


def loaded_in_run(url: str, asset: str, run_id: str, window_start: datetime | None = None, window_end: datetime | None = None) -> set[str]:
    """Symbols an earlier attempt of this run loaded for the batch window (snapshots: any batch)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            select distinct s.symbol
            from raw.load_batch_symbols s
            join raw.load_batches b using (batch_id)
            where b.asset = %(asset)s and b.run_id = %(run)s and b.status = 'succeeded' and s.status = 'succeeded'
              and (%(start)s::timestamptz is null or (b.window_start = %(start)s and b.window_end = %(end)s))
            """,
            {"asset": asset, "run": run_id, "start": window_start, "end": window_end},
        ).fetchall()
    return {symbol for (symbol,) in rows}


@dataclass(frozen=True)
class SymbolLoad:
    """One symbol's validated data: rows to load, records refused, and what was received."""

    accepted: pd.DataFrame
    rejections: list[Rejection]
    rows_fetched: int
    gaps: list[datetime] = field(default_factory=list)  # requested times the exchange did not serve


async def load_per_symbol(
    url: str,
    spec: BatchSpec,
    table: RawTable,
    exchange: KucoinFuturesResource,
    instruments: Sequence[Instrument],
    fetch: Callable[[ExchangeClient, Instrument], Awaitable[Any]],
    validate: Callable[[Instrument, Any], SymbolLoad],
    span: Callable[[Instrument], tuple[datetime | None, datetime | None]] = lambda _: (None, None),
) -> BatchResult:
    """One batch over many symbols: the symbols that arrived whole are loaded, the others are
    recorded as failed with their error; all in one transaction with the batch's ledger row."""
    batch = await fetch_per_symbol(url, spec, table, exchange, instruments, fetch, validate, span)
    return await asyncio.to_thread(batch.write)


async def fetch_per_symbol(
    url: str,
    spec: BatchSpec,
    table: RawTable,
    exchange: KucoinFuturesResource,
    instruments: Sequence[Instrument],
    fetch: Callable[[ExchangeClient, Instrument], Awaitable[Any]],
    validate: Callable[[Instrument, Any], SymbolLoad],
    span: Callable[[Instrument], tuple[datetime | None, datetime | None]],
) -> ArrivedBatch:
    """The requests of :func:`load_per_symbol`'s batch; validating and writing are left to the batch."""
    by_symbol = {i.symbol: i for i in instruments}

    async def fetch_all(client: ExchangeClient) -> Callable[[], Fetched]:
        fetched = await fetch_each(by_symbol, lambda symbol: fetch(client, by_symbol[symbol]))
        return lambda: _assemble(table, by_symbol, fetched, validate, span)

    return await fetch_batch(url, spec, table, exchange, fetch_all)


def _assemble(
    table: RawTable,
    by_symbol: dict[str, Instrument],
    fetched: PerSymbol[Any],
    validate: Callable[[Instrument, Any], SymbolLoad],
    span: Callable[[Instrument], tuple[datetime | None, datetime | None]],
) -> Fetched:
    frames: list[pd.DataFrame] = []
    rejections: list[Rejection] = []
    spans: list[SymbolSpan] = []
    gaps: list[tuple[str, datetime]] = []
    for symbol, instrument in sorted(by_symbol.items()):
        start, end = span(instrument)
        if symbol in fetched.failures:
            error = fetched.failures[symbol]
            spans.append(SymbolSpan(symbol, start, end, 0, str(error), error.transient))
            continue
        load = validate(instrument, fetched.results[symbol])
        frames.append(load.accepted)
        rejections.extend(load.rejections)
        gaps.extend((symbol, missing) for missing in load.gaps)
        spans.append(SymbolSpan(symbol, start, end, load.rows_fetched))
    accepted = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else _empty(table)
    received = sorted((s, fetched.results[s]) for s in fetched.results)
    return Fetched(accepted, rejections, checksum_of(received), spans, gaps)


def _empty(table: RawTable) -> pd.DataFrame:
    return pd.DataFrame(columns=list(table.columns))


class SymbolsFailed(RuntimeError):
    """Some symbols could not be fetched (transiently) after the client's retries; the others are loaded."""


class SymbolsRefused(RuntimeError):
    """The exchange refused every symbol: retrying will not help."""


def report_failures(results: Sequence[BatchResult], attempted: int) -> list[SymbolSpan]:
    """The symbols that failed, of ``attempted``; raises when a retry may help or nothing at all arrived.

    A symbol the exchange refused (a bad id, a delisted contract) fails the same way every time:
    it is recorded and reported, not retried. Every symbol refused is no longer about symbols
    (an endpoint or a setting is wrong), and stops the step for good.
    """
    failed = [span for result in results for span in result.failed]
    retryable = [span for span in failed if span.retryable]
    if retryable:
        names = ", ".join(sorted({span.symbol for span in retryable}))
        raise SymbolsFailed(f"{len({s.symbol for s in retryable})} symbols failed and will be retried ({names}); first error: {retryable[0].error}")
    if failed and len({s.symbol for s in failed}) >= attempted:
        raise SymbolsRefused(f"the exchange refused every one of the {attempted} symbols; first error: {failed[0].error}")
    return failed


async def load_windows(
    url: str,
    exchange: KucoinFuturesResource,
    asset: str,
    table: RawTable,
    instruments: Sequence[Instrument],
    start: datetime,
    end: datetime,
    run_id: str,
    chunk_hours: int,
    fetch: Callable[[ExchangeClient, Instrument, datetime, datetime], Awaitable[Any]],
    validate: Callable[[Instrument, Any, datetime, datetime], SymbolLoad],
    whole_chunk: bool = False,
) -> list[BatchResult]:
    """A time-series load: [start, end) in chunks of whole hours, one batch per chunk over the
    symbols that traded in it and that no earlier attempt of this run loaded. Each symbol is asked
    for the part of the chunk it traded (``whole_chunk``: the whole chunk, e.g. a day of funding)."""
    results: list[BatchResult] = []
    # Chunks in flight, oldest first. A chunk is validated and checksummed in a worker thread as
    # soon as it has arrived, and written in another once the chunk before it is written, while
    # the event loop fetches the next: the exchange's answers, the validation and PostgreSQL's
    # COPY proceed at the same time. A chunk is fetched once the write two chunks back is done,
    # so at most three chunks are held.
    in_flight: deque[asyncio.Future[BatchResult]] = deque()
    with collector_paused():
        try:
            for chunk_start, chunk_end in hour_chunks(start, end, chunk_hours):
                done = loaded_in_run(url, asset, run_id, chunk_start, chunk_end)
                todo = [i for i in instruments if i.symbol not in done and listed_span(i, chunk_start, chunk_end) is not None]
                if not todo:
                    continue

                def span(i: Instrument, s: datetime = chunk_start, e: datetime = chunk_end) -> tuple[datetime, datetime]:
                    found = (s, e) if whole_chunk else listed_span(i, s, e)
                    assert found is not None  # todo holds only symbols that traded in the chunk
                    return found

                spec = BatchSpec(
                    asset=asset, source=exchange.source, run_id=run_id,
                    partition_key=f"{partition_key(chunk_start)}...{partition_key(chunk_end - HOUR)}",
                    window_start=chunk_start, window_end=chunk_end,
                )
                batch = await fetch_per_symbol(
                    url, spec, table, exchange, todo,
                    lambda client, i, span=span: fetch(client, i, *span(i)),
                    lambda i, payload, span=span: validate(i, payload, *span(i)),
                    span,
                )
                assembled = asyncio.ensure_future(asyncio.to_thread(batch.assembled))
                in_flight.append(asyncio.ensure_future(_written_after(in_flight[-1] if in_flight else None, batch, assembled)))
                if len(in_flight) == _CHUNKS_HELD:
                    results.append(await in_flight.popleft())
            while in_flight:
                results.append(await in_flight.popleft())
        finally:
            # on an error (a chunk's fetch, validation or write) the chunks in flight end before it
            # goes up: written when the chunks before them were, else recorded as failed
            await asyncio.gather(*in_flight, return_exceptions=True)
    return results


_CHUNKS_HELD = 3  # at once: one being written, one validated, one fetched


async def _written_after(earlier: asyncio.Future[BatchResult] | None, batch: ArrivedBatch, assembled: asyncio.Future[Fetched]) -> BatchResult:
    """Write ``batch`` once the chunk before it is written; when that failed, this one is not."""
    try:
        if earlier is not None:
            await earlier
    except BaseException as error:
        await asyncio.gather(assembled, return_exceptions=True)
        if not assembled.cancelled() and assembled.exception() is None:  # a failed assembly recorded itself
            await asyncio.to_thread(batch.abandon, f"not written: the load stopped at an earlier chunk ({type(error).__name__}: {error})")
        raise
    return await asyncio.to_thread(batch.write, await assembled)
