"""Settled funding rates of KuCoin's /api/v1/contract/funding-rates (ccxt history ``info``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from models.records import Finite, Symbol, from_ms, symbol_field, validate_records
from models.rejections import Rejection

COLUMNS = ("symbol", "funding_time", "funding_rate")
# KuCoin caps funding at a few percent per period; beyond 10 % a value is corrupt, not extreme.
MAX_ABS_RATE = 0.1


class KucoinFundingRate(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    symbol: Symbol
    fundingRate: Annotated[Finite, Field(ge=-MAX_ABS_RATE, le=MAX_ABS_RATE)]
    timepoint: Annotated[int, Field(gt=0)]


@dataclass(frozen=True)
class FundingValidation:
    accepted: pd.DataFrame  # columns COLUMNS
    rejections: list[Rejection]


def validate_funding_rates(symbol: str, infos: Iterable[Mapping[str, Any]], start: datetime, end: datetime) -> FundingValidation:
    """Settlements of ``symbol`` at times in [start, end)."""

    def check(rate: KucoinFundingRate) -> tuple[str, str] | None:
        if rate.symbol != symbol:
            return "symbol_mismatch", f"a funding rate of {rate.symbol} in the response for {symbol}"
        if not start <= from_ms(rate.timepoint) < end:
            return "timestamp_outside_window", f"settled at {from_ms(rate.timepoint):%Y-%m-%dT%H:%MZ}, outside [{start:%Y-%m-%dT%H:%MZ}, {end:%Y-%m-%dT%H:%MZ})"
        return None

    accepted, rejections = validate_records(
        KucoinFundingRate, infos, key=lambda r: r.timepoint, symbol=symbol_field(),
        key_time=lambda r: from_ms(r.timepoint), check=check,
    )
    rows = [{"symbol": r.symbol, "funding_time": from_ms(r.timepoint), "funding_rate": r.fundingRate} for r in accepted]
    return FundingValidation(pd.DataFrame(rows, columns=list(COLUMNS)).sort_values("funding_time", ignore_index=True), rejections)
