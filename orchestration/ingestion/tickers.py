"""Ticker snapshot of every listed contract (one request), into raw.tickers."""

from __future__ import annotations

from models.tables import TICKERS
from models.tickers import validate_tickers
from orchestration.ingestion.batches import BatchSpec
from orchestration.ingestion.runner import BatchResult, Fetched, checksum_of, run_batch
from orchestration.resources.exchange import ExchangeClient, KucoinFuturesResource

ASSET = "kucoin_tickers"


async def ingest_tickers(url: str, exchange: KucoinFuturesResource, run_id: str) -> BatchResult:
    async def fetch(client: ExchangeClient) -> Fetched:
        infos = await client.fetch_all_tickers()
        validation = validate_tickers(infos)
        return Fetched(validation.accepted, validation.rejections, checksum_of(infos))

    return await run_batch(url, BatchSpec(asset=ASSET, source=exchange.source, run_id=run_id), TICKERS, exchange, fetch)
