"""Ticker objects of KuCoin's /api/v1/allTickers (ccxt ticker ``info``), typed and validated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from models.records import NonNegativeFinite, PositiveFinite, Symbol, from_ns, symbol_field, validate_records
from models.rejections import Rejection

COLUMNS = (
    "symbol", "observed_at", "ts_ns", "sequence", "last_price", "last_size_lots", "last_side", "last_trade_id",
    "best_bid", "best_bid_size_lots", "best_ask", "best_ask_size_lots",
)


class KucoinTicker(BaseModel):
    """Prices arrive as strings, sizes in lots, ``ts`` in nanoseconds."""

    model_config = ConfigDict(extra="allow", frozen=True)

    symbol: Symbol
    sequence: Annotated[int, Field(ge=0)]
    side: Literal["buy", "sell"]
    size: NonNegativeFinite
    tradeId: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
    price: PositiveFinite
    bestBidPrice: PositiveFinite
    bestBidSize: NonNegativeFinite
    bestAskPrice: PositiveFinite
    bestAskSize: NonNegativeFinite
    ts: Annotated[int, Field(gt=0)]


@dataclass(frozen=True)
class TickerValidation:
    accepted: pd.DataFrame  # columns COLUMNS
    rejections: list[Rejection]


def validate_tickers(infos: Iterable[Mapping[str, Any]]) -> TickerValidation:
    """One row per contract; a crossed best bid/ask is refused (the exchange never serves one)."""
    accepted, rejections = validate_records(
        KucoinTicker,
        infos,
        key=lambda t: t.symbol,
        symbol=symbol_field(),
        key_time=lambda t: from_ns(t.ts),
        check=lambda t: (
            ("crossed_book", f"best bid {t.bestBidPrice} >= best ask {t.bestAskPrice}")
            if t.bestBidPrice >= t.bestAskPrice else None
        ),
    )
    rows = [
        {
            "symbol": t.symbol, "observed_at": from_ns(t.ts), "ts_ns": t.ts, "sequence": t.sequence,
            "last_price": t.price, "last_size_lots": t.size, "last_side": t.side, "last_trade_id": t.tradeId,
            "best_bid": t.bestBidPrice, "best_bid_size_lots": t.bestBidSize,
            "best_ask": t.bestAskPrice, "best_ask_size_lots": t.bestAskSize,
        }
        for t in accepted
    ]
    return TickerValidation(pd.DataFrame(rows, columns=list(COLUMNS)), rejections)
