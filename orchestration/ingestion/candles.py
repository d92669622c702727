"""1-minute candles of the followed contracts, one batch per chunk of whole hours.

Each symbol's window is fetched completely before anything is written, and a chunk is written
in one transaction: a symbol is loaded whole or not at all. A symbol that failed is recorded
with its error and fetched again by the next attempt of the run (or by a re-run); re-running
the same hours loads nothing new. Minutes the exchange did not serve are recorded as gaps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

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
    # in whole microseconds (a datetime's precision) from start: a time serves the minute it
    # equals exactly; a refused candle a fraction of a millisecond off its minute serves none
    origin = _microseconds(start)
    count = -(-(_microseconds(end) - origin) // _MINUTE_US)
    accepted = validation.accepted["open_time"].array.as_unit("us").asi8 - origin
    refused = [_microseconds(r.key_time) - origin for r in validation.rejections if r.key_time is not None]
    offsets = np.concatenate([accepted, np.asarray(refused, dtype=np.int64)])
    on_minute = offsets[(offsets >= 0) & (offsets < count * _MINUTE_US) & (offsets % _MINUTE_US == 0)]
    unserved = np.ones(count, dtype=bool)
    unserved[on_minute // _MINUTE_US] = False
    return [start + timedelta(minutes=int(m)) for m in np.flatnonzero(unserved)]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE_US = 60_000_000


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)
