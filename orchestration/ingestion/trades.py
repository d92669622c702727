"""The last public trades of the followed contracts (one request each), into raw.trades.

KuCoin serves the last 100 trades; consecutive snapshots overlap, and the overlap is counted
as unchanged (the trade id is the key), so frequent snapshots lose nothing and store nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from models.tables import TRADES
from models.trades import validate_trades
from orchestration.ingestion.batches import BatchSpec
from orchestration.ingestion.per_symbol import SymbolLoad, load_per_symbol, loaded_in_run
from orchestration.ingestion.runner import BatchResult
from orchestration.ingestion.universe import Instrument
from orchestration.resources.exchange import ExchangeClient, KucoinFuturesResource

ASSET = "kucoin_trades"


async def ingest_trades(url: str, exchange: KucoinFuturesResource, instruments: list[Instrument], run_id: str) -> BatchResult | None:
    done = loaded_in_run(url, ASSET, run_id)
    todo = [i for i in instruments if i.symbol not in done]
    if not todo:
        return None

    async def fetch(client: ExchangeClient, i: Instrument) -> tuple[datetime, list[Any]]:
        return datetime.now(UTC), await client.fetch_trades(i.symbol)

    def validate(i: Instrument, fetched: tuple[datetime, list[Any]]) -> SymbolLoad:
        fetched_at, infos = fetched
        validation = validate_trades(i.symbol, infos, fetched_at)
        return SymbolLoad(validation.accepted, validation.rejections, len(infos))

    spec = BatchSpec(asset=ASSET, source=exchange.source, run_id=run_id)
    return await load_per_symbol(url, spec, TRADES, exchange, todo, fetch, validate)
