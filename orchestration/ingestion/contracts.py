"""Snapshot of every futures contract the exchange lists, into raw.contracts."""

from __future__ import annotations

from datetime import UTC, datetime

from models.contracts import validate_contracts
from models.tables import CONTRACTS
from orchestration.ingestion.batches import BatchSpec
from orchestration.ingestion.runner import BatchResult, Fetched, checksum_of, run_batch
from orchestration.resources.exchange import ExchangeClient, KucoinFuturesResource

ASSET = "kucoin_contracts"


async def ingest_contracts(url: str, exchange: KucoinFuturesResource, run_id: str | None) -> BatchResult:
    snapshot_time = datetime.now(UTC).replace(microsecond=0)

    async def fetch(client: ExchangeClient) -> Fetched:
        markets = await client.load_markets()
        validation = validate_contracts(markets, snapshot_time)
        infos = sorted((m.get("info") for m in markets), key=lambda info: str(info.get("symbol")) if isinstance(info, dict) else "")
        return Fetched(validation.accepted, validation.rejections, checksum_of(infos))

    spec = BatchSpec(asset=ASSET, source=exchange.source, run_id=run_id, window_start=snapshot_time)
    return await run_batch(url, spec, CONTRACTS, exchange, fetch)
