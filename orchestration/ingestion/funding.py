"""Settled funding rates of the followed perpetuals, one batch per day of the partition window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.funding import validate_funding_rates
from models.tables import FUNDING_RATES
from orchestration.ingestion.per_symbol import SymbolLoad, load_windows
from orchestration.ingestion.runner import BatchResult
from orchestration.ingestion.universe import Instrument
from orchestration.ingestion.windows import to_ms
from orchestration.resources.exchange import ExchangeClient, KucoinFuturesResource

ASSET = "kucoin_funding_rates"


async def ingest_funding_rates(
    url: str, exchange: KucoinFuturesResource, instruments: list[Instrument], start: datetime, end: datetime, run_id: str
) -> list[BatchResult]:
    perpetuals = [i for i in instruments if i.funding_interval_ms]  # dated futures pay no funding

    async def fetch(client: ExchangeClient, i: Instrument, s: datetime, e: datetime) -> list[Any]:
        return await client.fetch_funding_history(i.symbol, to_ms(s), to_ms(e))

    def validate(i: Instrument, infos: list[Any], s: datetime, e: datetime) -> SymbolLoad:
        validation = validate_funding_rates(i.symbol, infos, s, e)
        return SymbolLoad(validation.accepted, validation.rejections, len(infos))

    # a day holds one to 24 settlements; the history is asked for whole days, whatever the listing
    return await load_windows(
        url, exchange, ASSET, FUNDING_RATES, perpetuals, start, end, run_id, 24, fetch, validate, whole_chunk=True
    )
