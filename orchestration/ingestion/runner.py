"""Run one load as one batch: open the batch, fetch, then write data and ledger in one transaction."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import psycopg

from models.rejections import Rejection, to_json
from models.tables import RawTable
from orchestration.ingestion.batches import BatchSpec, LoadCounts, complete_batch, fail_batch, open_batch
from orchestration.ingestion.loader import load_rows
from orchestration.resources.exchange import ExchangeClient, KucoinFuturesResource


@dataclass(frozen=True)
class SymbolSpan:
    symbol: str
    start: datetime
    end: datetime
    rows_fetched: int


@dataclass(frozen=True)
class Fetched:
    accepted: pd.DataFrame
    rejections: list[Rejection]
    checksum: str
    spans: list[SymbolSpan] = field(default_factory=list)  # per-symbol requests, for time-series loads


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    counts: LoadCounts
    request_count: int
    checksum: str


def checksum_of(records: object) -> str:
    """md5 of the canonical JSON of what was fetched: equal checksums mean identical source data."""
    return hashlib.md5(to_json(records).encode(), usedforsecurity=False).hexdigest()


async def run_batch(
    url: str,
    spec: BatchSpec,
    table: RawTable,
    exchange: KucoinFuturesResource,
    fetch: Callable[[ExchangeClient], Awaitable[Fetched]],
) -> BatchResult:
    batch_id = await asyncio.to_thread(open_batch, url, spec)
    async with exchange.client() as client:
        try:
            fetched = await fetch(client)
            counts = await asyncio.to_thread(_write, url, table, batch_id, fetched, client.request_count)
        except BaseException as error:
            await asyncio.to_thread(fail_batch, url, batch_id, f"{type(error).__name__}: {error}", client.request_count)
            raise
    return BatchResult(batch_id, counts, client.request_count, fetched.checksum)


def _write(url: str, table: RawTable, batch_id: int, fetched: Fetched, request_count: int) -> LoadCounts:
    with psycopg.connect(url, application_name="zmart-loader") as conn, conn.transaction():
        counts = load_rows(conn, table, batch_id, fetched.accepted, fetched.rejections)
        if fetched.spans:
            with conn.cursor().copy(
                "copy raw.load_batch_symbols (batch_id, symbol, span_start, span_end, rows_fetched) from stdin"
            ) as copy:
                for span in fetched.spans:
                    copy.write_row((batch_id, span.symbol, span.start, span.end, span.rows_fetched))
        complete_batch(conn, batch_id, counts, request_count, fetched.checksum)
    return counts
