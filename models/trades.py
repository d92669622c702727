"""Trades of KuCoin's /api/v1/trade/history (ccxt trade ``info``), typed and validated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from models.records import PositiveFinite, from_ns, validate_records
from models.rejections import Rejection

COLUMNS = (
    "symbol", "trade_id", "traded_at", "ts_ns", "sequence", "price", "size_lots", "taker_side",
    "maker_order_id", "taker_order_id",
)
# Clocks differ a little; a trade stamped further ahead of the fetch than this is corrupt.
_FUTURE_TOLERANCE = timedelta(minutes=1)


class KucoinTrade(BaseModel):
    """The payload has no symbol (it is the request's); ``ts`` in nanoseconds, ``size`` in lots."""

    model_config = ConfigDict(extra="allow", frozen=True)

    sequence: Annotated[int, Field(ge=0)]
    tradeId: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
    ts: Annotated[int, Field(gt=0)]
    size: PositiveFinite
    price: PositiveFinite
    side: Literal["buy", "sell"]
    makerOrderId: Annotated[str, Field(max_length=64, pattern=r"^[0-9A-Za-z_-]*$")] | None = None
    takerOrderId: Annotated[str, Field(max_length=64, pattern=r"^[0-9A-Za-z_-]*$")] | None = None


@dataclass(frozen=True)
class TradeValidation:
    accepted: pd.DataFrame  # columns COLUMNS
    rejections: list[Rejection]


def validate_trades(symbol: str, infos: Iterable[Mapping[str, Any]], fetched_at: datetime) -> TradeValidation:
    """One symbol's trades; a trade id twice in one response is refused, order does not matter."""
    accepted, rejections = validate_records(
        KucoinTrade,
        infos,
        key=lambda t: t.tradeId,
        symbol=lambda _: symbol,
        key_time=lambda t: from_ns(t.ts),
        check=lambda t: (
            ("timestamp_in_future", f"traded at {from_ns(t.ts):%Y-%m-%dT%H:%M:%S.%fZ}, after the fetch at {fetched_at:%H:%M:%S}")
            if from_ns(t.ts) > fetched_at + _FUTURE_TOLERANCE else None
        ),
    )
    rows = [
        {
            "symbol": symbol, "trade_id": t.tradeId, "traded_at": from_ns(t.ts), "ts_ns": t.ts, "sequence": t.sequence,
            "price": t.price, "size_lots": t.size, "taker_side": t.side,
            "maker_order_id": t.makerOrderId, "taker_order_id": t.takerOrderId,
        }
        for t in accepted
    ]
    frame = pd.DataFrame(rows, columns=list(COLUMNS)).sort_values("traded_at", ignore_index=True)
    return TradeValidation(frame, rejections)
