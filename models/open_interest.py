"""Open-interest points of KuCoin's unified /api/ua/v1/market/open-interest (5-minute interval)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from models.records import NonNegativeFinite, from_ms, validate_records
from models.rejections import Rejection

COLUMNS = ("symbol", "observed_at", "open_interest_lots")
INTERVAL = "5min"
INTERVAL_MS = 300_000


class KucoinOpenInterest(BaseModel):
    """``openInterest`` is a string of lots; ``ts`` in milliseconds, on the interval's grid."""

    model_config = ConfigDict(extra="allow", frozen=True)

    openInterest: NonNegativeFinite
    ts: Annotated[int, Field(gt=0)]


@dataclass(frozen=True)
class OpenInterestValidation:
    accepted: pd.DataFrame  # columns COLUMNS
    rejections: list[Rejection]


def validate_open_interest(symbol: str, points: Iterable[Mapping[str, Any]], start: datetime, end: datetime) -> OpenInterestValidation:
    def check(point: KucoinOpenInterest) -> tuple[str, str] | None:
        if point.ts % INTERVAL_MS:
            return "timestamp_not_aligned", f"ts {point.ts} is not on the {INTERVAL} grid"
        if not start <= from_ms(point.ts) < end:
            return "timestamp_outside_window", f"{from_ms(point.ts):%Y-%m-%dT%H:%MZ} is outside [{start:%Y-%m-%dT%H:%MZ}, {end:%Y-%m-%dT%H:%MZ})"
        return None

    accepted, rejections = validate_records(
        KucoinOpenInterest, points, key=lambda p: p.ts, symbol=lambda _: symbol, key_time=lambda p: from_ms(p.ts), check=check,
    )
    rows = [{"symbol": symbol, "observed_at": from_ms(p.ts), "open_interest_lots": p.openInterest} for p in accepted]
    return OpenInterestValidation(pd.DataFrame(rows, columns=list(COLUMNS)).sort_values("observed_at", ignore_index=True), rejections)
