"""Order-book snapshots of the followed contracts (one request each), into raw.order_book_levels."""

from __future__ import annotations

from typing import Any

from models.order_books import validate_book
from models.tables import ORDER_BOOK_LEVELS
from orchestration.ingestion.batches import BatchSpec
from orchestration.ingestion.per_symbol import SymbolLoad, load_per_symbol, loaded_in_run
from orchestration.ingestion.runner import BatchResult
from orchestration.ingestion.universe import Instrument
from orchestration.resources.exchange import ExchangeClient, KucoinFuturesResource

ASSET = "kucoin_order_books"
DEPTHS = (20, 100)  # KuCoin's partial books: /api/v1/level2/depth20 and depth100


async def ingest_order_books(
    url: str, exchange: KucoinFuturesResource, instruments: list[Instrument], depth: int, run_id: str
) -> BatchResult | None:
    if depth not in DEPTHS:
        raise ValueError(f"order-book depth {depth}: KuCoin serves partial books of {DEPTHS[0]} or {DEPTHS[1]} levels")
    done = loaded_in_run(url, ASSET, run_id)
    todo = [i for i in instruments if i.symbol not in done]
    if not todo:
        return None

    async def fetch(client: ExchangeClient, i: Instrument) -> Any:
        return await client.fetch_order_book(i.symbol, depth)

    def validate(i: Instrument, book: Any) -> SymbolLoad:
        validation = validate_book(i.symbol, book, depth)
        return SymbolLoad(validation.accepted, validation.rejections, len(validation.accepted) + len(validation.rejections))

    spec = BatchSpec(asset=ASSET, source=exchange.source, run_id=run_id)
    return await load_per_symbol(url, spec, ORDER_BOOK_LEVELS, exchange, todo, fetch, validate)
