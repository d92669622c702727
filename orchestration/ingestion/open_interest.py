"""Open interest of the followed contracts (5-minute points), one batch per chunk of hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from models.open_interest import INTERVAL, INTERVAL_MS, OpenInterestValidation, validate_open_interest
from models.tables import OPEN_INTEREST
from orchestration.ingestion.per_symbol import SymbolLoad, load_windows
from orchestration.ingestion.runner import BatchResult
from orchestration.ingestion.universe import Instrument
from orchestration.ingestion.windows import to_ms
from orchestration.resources.exchange import ExchangeClient, KucoinFuturesResource

ASSET = "kucoin_open_interest"


async def ingest_open_interest(
    url: str, exchange: KucoinFuturesResource, instruments: list[Instrument], start: datetime, end: datetime,
    run_id: str, chunk_hours: int = 24,
) -> list[BatchResult]:
    async def fetch(client: ExchangeClient, i: Instrument, s: datetime, e: datetime) -> list[Any]:
        return await client.fetch_open_interest(i.symbol, to_ms(s), to_ms(e), INTERVAL_MS, INTERVAL)

    def validate(i: Instrument, points: list[Any], s: datetime, e: datetime) -> SymbolLoad:
        validation = validate_open_interest(i.symbol, points, s, e)
        return SymbolLoad(validation.accepted, validation.rejections, len(points), unserved_points(s, e, validation))

    return await load_windows(url, exchange, ASSET, OPEN_INTEREST, instruments, start, end, run_id, chunk_hours, fetch, validate)


def unserved_points(start: datetime, end: datetime, validation: OpenInterestValidation) -> list[datetime]:
    """Points of the 5-minute grid in [start, end) with neither an accepted value nor a refused one."""
    step = pd.Timedelta(milliseconds=INTERVAL_MS)
    grid = pd.date_range(pd.Timestamp(start).ceil(step), end, freq=step, inclusive="left")
    served = set(validation.accepted["observed_at"]) | {r.key_time for r in validation.rejections if r.key_time is not None}
    return [p.to_pydatetime() for p in grid if p not in served]
