"""1-minute candles of the followed contracts, one batch per chunk of whole hours.

Each symbol's window is fetched completely before anything is written, and a chunk is written
in one transaction: a symbol is loaded whole or not at all. A symbol that failed is recorded
with its error and fetched again by the next attempt of the run (or by a re-run); re-running
the same hours loads nothing new. Minutes the exchange did not serve are recorded as gaps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from models.candles import CandleValidation, validate_candles
from models.tables import CANDLES_1M
from orchestration.ingestion.per_symbol import SymbolLoad, load_windows
from orchestration.ingestion.runner import BatchResult
from orchestration.ingestion.universe import Instrument
from orchestration.ingestion.windows import to_ms
from orchestration.resources.exchange import ExchangeClient, KucoinFuturesResource

ASSET = "kucoin_candles_1m"


async def ingest_candles(
    url: str, exchange: KucoinFuturesResource, instruments: list[Instrument], start: datetime, end: datetime,
    run_id: str, chunk_hours: int = 24,
) -> list[BatchResult]:
    async def fetch(client: ExchangeClient, i: Instrument, s: datetime, e: datetime) -> list[Any]:
        return await client.fetch_candles_1m(i.symbol, to_ms(s), to_ms(e), exchange.kline_page_size)

    def validate(i: Instrument, rows: list[Any], s: datetime, e: datetime) -> SymbolLoad:
        validation = validate_candles(i.symbol, rows, to_ms(s), to_ms(e))
        return SymbolLoad(validation.accepted, validation.rejections, len(rows), unserved_minutes(s, e, validation))

    return await load_windows(url, exchange, ASSET, CANDLES_1M, instruments, start, end, run_id, chunk_hours, fetch, validate)


def unserved_minutes(start: datetime, end: datetime, validation: CandleValidation) -> list[datetime]:
    """Minutes of [start, end) with neither an accepted candle nor a refused one: the exchange's gaps."""
    minutes = pd.date_range(start, end, freq="1min", inclusive="left")
    refused = pd.DatetimeIndex([r.key_time for r in validation.rejections if r.key_time is not None], tz=UTC)
    # one vectorised membership test over the window (datetime64 values compare exactly, to the nanosecond)
    served = pd.DatetimeIndex(validation.accepted["open_time"]).append(refused)
    return list(minutes[~minutes.isin(served)].to_pydatetime())
