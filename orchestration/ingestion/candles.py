"""1-minute candles for every instrument in the universe, one batch per chunk of whole hours.

A chunk is fetched completely before anything is written, and written in one transaction:
a failure (the exchange unreachable mid-chunk, a crash) leaves no partial hour behind, and
re-running the same hours loads nothing new.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg

from models.candles import COLUMNS, validate_candles
from models.rejections import Rejection
from models.tables import CANDLES_1M
from orchestration.ingestion.batches import BatchSpec
from orchestration.ingestion.runner import BatchResult, Fetched, SymbolSpan, checksum_of, run_batch
from orchestration.resources.exchange import ExchangeClient, ExchangeRequestError, KucoinFuturesResource

ASSET = "kucoin_candles_1m"
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Instrument:
    symbol: str  # exchange id, e.g. XBTUSDTM
    unified_symbol: str  # ccxt symbol, e.g. BTC/USDT:USDT
    listed_from: datetime | None
    listed_until: datetime | None


def select_universe(url: str, window_start: datetime, window_end: datetime, max_symbols: int) -> list[Instrument]:
    """Contracts of the latest snapshot that trade during the window, most traded first."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            select symbol, unified_symbol, first_open_time, expire_time
            from raw.contracts
            where snapshot_time = (select max(snapshot_time) from raw.contracts)
              and status = 'Open'
              and (first_open_time is null or first_open_time < %(end)s)
              and (expire_time is null or expire_time > %(start)s)
            order by turnover_24h desc nulls last, symbol
            limit %(limit)s
            """,
            {"start": window_start, "end": window_end, "limit": max_symbols or None},
        ).fetchall()
    return [Instrument(*row) for row in rows]


def hour_chunks(start: datetime, end: datetime, chunk_hours: int) -> Iterator[tuple[datetime, datetime]]:
    step = HOUR * chunk_hours
    while start < end:
        yield start, min(start + step, end)
        start += step


async def ingest_candles(
    url: str,
    exchange: KucoinFuturesResource,
    instruments: list[Instrument],
    start: datetime,
    end: datetime,
    run_id: str | None,
    chunk_hours: int = 24,
) -> list[BatchResult]:
    results = []
    for chunk_start, chunk_end in hour_chunks(start, end, chunk_hours):
        spec = BatchSpec(
            asset=ASSET,
            source=exchange.source,
            run_id=run_id,
            partition_key=f"{_partition_key(chunk_start)}...{_partition_key(chunk_end - HOUR)}",
            window_start=chunk_start,
            window_end=chunk_end,
        )

        async def fetch(client: ExchangeClient, s: datetime = chunk_start, e: datetime = chunk_end) -> Fetched:
            return await _fetch_window(client, instruments, s, e, exchange.kline_page_size)

        results.append(await run_batch(url, spec, CANDLES_1M, exchange, fetch))
    return results


async def _fetch_window(client: ExchangeClient, instruments: list[Instrument], start: datetime, end: datetime, page: int) -> Fetched:
    await client.load_markets()  # ccxt resolves symbols from its market table
    start_ms, end_ms = _ms(start), _ms(end)
    unified = {i.symbol: i.unified_symbol for i in instruments}
    spans = {i.symbol: span for i in instruments if (span := _listed_span(i, start_ms, end_ms)) is not None}
    try:
        async with asyncio.TaskGroup() as group:  # one failure cancels the rest: the chunk fails as a whole
            tasks = {
                symbol: group.create_task(client.fetch_candles_1m(unified[symbol], symbol, s, e, page))
                for symbol, (s, e) in spans.items()
            }
    except* ExchangeRequestError as failed:
        errors = [str(e) for e in failed.exceptions]
        more = f" (and {len(errors) - 1} more symbols)" if len(errors) > 1 else ""
        raise ExchangeRequestError(errors[0] + more) from failed
    fetched = {symbol: task.result() for symbol, task in sorted(tasks.items())}
    frames: list[pd.DataFrame] = []
    rejections: list[Rejection] = []
    requested: list[SymbolSpan] = []
    for symbol, rows in fetched.items():
        validation = validate_candles(symbol, rows, start_ms, end_ms)
        frames.append(validation.accepted)
        rejections.extend(validation.rejections)
        span_start, span_end = spans[symbol]
        requested.append(SymbolSpan(symbol, _datetime(span_start), _datetime(span_end), len(rows)))
    accepted = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    return Fetched(accepted, rejections, checksum_of(list(fetched.items())), requested)


def _listed_span(instrument: Instrument, start_ms: int, end_ms: int) -> tuple[int, int] | None:
    """The part of [start_ms, end_ms) during which the contract traded, on whole minutes."""
    if instrument.listed_from is not None:
        start_ms = max(start_ms, -(-_ms(instrument.listed_from) // 60_000) * 60_000)
    if instrument.listed_until is not None:
        end_ms = min(end_ms, _ms(instrument.listed_until) // 60_000 * 60_000)
    return (start_ms, end_ms) if start_ms < end_ms else None


def _datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _partition_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d-%H:%M")
