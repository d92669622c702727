"""When contracts settle funding: the settlement grid behind contracts/active, funding-rate/current
and the public funding history, kept in one place so the three always agree.

8-hourly contracts settle at 04:00, 12:00 and 20:00 UTC, as KuCoin's majors do in every recorded
sample; 4-hourly and hourly ones settle on their own grid from midnight (which contains those
hours). Dated futures have no funding.
"""

from __future__ import annotations

import numpy as np

from simulator.universe import HOUR_MS, Contract


def _offset(period_ms: int) -> int:
    return 4 * HOUR_MS if period_ms == 8 * HOUR_MS else 0


def next_settlement(c: Contract, now_ms: int) -> int | None:
    """The first settlement strictly after ``now_ms`` (None: the contract has no funding)."""
    period = c.funding_granularity_ms
    if period is None:
        return None
    offset = _offset(period)
    return ((now_ms - offset) // period + 1) * period + offset


def settlements_between(c: Contract, start_ms: int, end_ms: int) -> np.ndarray:
    """Settlement times in [start_ms, end_ms], oldest first (empty without funding)."""
    period = c.funding_granularity_ms
    if period is None or end_ms < start_ms:
        return np.empty(0, dtype=np.int64)
    offset = _offset(period)
    first = -((offset - start_ms) // period)  # ceil((start - offset) / period)
    last = (end_ms - offset) // period
    return np.arange(first, last + 1, dtype=np.int64) * period + offset
