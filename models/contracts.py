"""Contract objects of KuCoin's /api/v1/contracts/active (ccxt market ``info``), typed and validated."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from models.records import SYMBOL_PATTERN
from models.rejections import Rejection

CURRENCY_PATTERN = r"^[A-Z0-9]{1,20}$"

COLUMNS = (
    "snapshot_time", "symbol", "unified_symbol", "contract_type", "status", "base_currency",
    "quote_currency", "settle_currency", "is_inverse", "multiplier", "lot_size", "tick_size",
    "max_leverage", "first_open_time", "expire_time", "funding_granularity_ms", "funding_fee_rate",
    "mark_price", "index_price", "last_trade_price", "open_interest_lots", "volume_24h",
    "turnover_24h", "payload",
)


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Finite = Annotated[float, AfterValidator(_finite)]
OptionalFinite = Annotated[float | None, AfterValidator(_finite)]
Currency = Annotated[str, Field(pattern=CURRENCY_PATTERN)]


class KucoinContract(BaseModel):
    """The fields the platform relies on; every other key is kept in the stored payload."""

    model_config = ConfigDict(extra="allow", frozen=True)

    symbol: Annotated[str, Field(pattern=SYMBOL_PATTERN)]
    type: Literal["FFWCSX", "FFICSX"]
    status: Annotated[str, Field(pattern=r"^[A-Za-z]{1,40}$")]
    baseCurrency: Currency
    quoteCurrency: Currency
    settleCurrency: Currency
    isInverse: bool
    multiplier: Finite
    lotSize: Annotated[Finite, Field(gt=0)]
    tickSize: Annotated[Finite, Field(gt=0)]
    maxLeverage: OptionalFinite = None
    firstOpenDate: Annotated[int, Field(ge=0)] | None = None
    expireDate: Annotated[int, Field(ge=0)] | None = None
    fundingRateGranularity: Annotated[int, Field(gt=0)] | None = None
    fundingFeeRate: OptionalFinite = None
    markPrice: OptionalFinite = None
    indexPrice: OptionalFinite = None
    lastTradePrice: OptionalFinite = None
    openInterest: Annotated[str, Field(pattern=r"^\d+(\.\d+)?$")] | None = None
    volumeOf24h: OptionalFinite = None
    turnoverOf24h: OptionalFinite = None


@dataclass(frozen=True)
class ContractValidation:
    accepted: pd.DataFrame  # columns COLUMNS
    rejections: list[Rejection]


def validate_contracts(markets: Iterable[Mapping[str, Any]], snapshot_time: datetime) -> ContractValidation:
    """Validate ccxt markets (each with the raw exchange object in ``info``) into contract rows."""
    rows: list[dict[str, Any]] = []
    rejections: list[Rejection] = []
    seen: set[str] = set()
    for market in markets:
        info = market.get("info")
        symbol_hint = info.get("symbol") if isinstance(info, Mapping) else None
        try:
            contract = KucoinContract.model_validate(info)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "object"
            rejections.append(
                Rejection(
                    rule=f"{field}:{first['type']}",
                    detail=f"{field}: {first['msg']} (input {first.get('input')!r:.60})",
                    record=info,
                    symbol=str(symbol_hint)[:80] if symbol_hint is not None else None,
                )
            )
            continue
        if contract.symbol in seen:
            rejections.append(Rejection("duplicate_key", f"{contract.symbol} listed twice in one response", info, contract.symbol))
            continue
        seen.add(contract.symbol)
        rows.append(_row(contract, str(market.get("symbol") or contract.symbol), dict(info), snapshot_time))
    accepted = pd.DataFrame(rows, columns=list(COLUMNS)).astype({"funding_granularity_ms": "Int64"})
    return ContractValidation(accepted, rejections)


def _row(c: KucoinContract, unified_symbol: str, payload: dict[str, Any], snapshot_time: datetime) -> dict[str, Any]:
    return {
        "snapshot_time": snapshot_time,
        "symbol": c.symbol,
        "unified_symbol": unified_symbol,
        "contract_type": c.type,
        "status": c.status,
        "base_currency": c.baseCurrency,
        "quote_currency": c.quoteCurrency,
        "settle_currency": c.settleCurrency,
        "is_inverse": c.isInverse,
        "multiplier": c.multiplier,
        "lot_size": c.lotSize,
        "tick_size": c.tickSize,
        "max_leverage": c.maxLeverage,
        "first_open_time": _ms_to_datetime(c.firstOpenDate),
        "expire_time": _ms_to_datetime(c.expireDate),
        "funding_granularity_ms": c.fundingRateGranularity,
        "funding_fee_rate": c.fundingFeeRate,
        "mark_price": c.markPrice,
        "index_price": c.indexPrice,
        "last_trade_price": c.lastTradePrice,
        "open_interest_lots": float(c.openInterest) if c.openInterest is not None else None,
        "volume_24h": c.volumeOf24h,
        "turnover_24h": c.turnoverOf24h,
        "payload": payload,
    }


def _ms_to_datetime(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None
