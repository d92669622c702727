"""The contracts the pipeline follows: those of the latest snapshot, most traded first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class Instrument:
    symbol: str  # exchange id, e.g. XBTUSDTM
    listed_from: datetime | None
    listed_until: datetime | None
    funding_interval_ms: int | None = None  # None for dated futures, which pay no funding


def select_universe(url: str, window_start: datetime, window_end: datetime, max_symbols: int) -> list[Instrument]:
    """Open contracts of the latest snapshot that trade during the window, most traded first
    (``max_symbols`` of them; 0 means all)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            select symbol, first_open_time, expire_time, funding_granularity_ms
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
