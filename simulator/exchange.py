"""The simulated exchange's behaviour, independent of HTTP: what it lists, and what each endpoint returns.

Requests are answered the way KuCoin answers them (see ``../shared/kucoin/API.md``): klines are
the closed candles whose open time lies in [from, to], oldest first, at most one page of them;
an unaligned ``from`` starts at the next bucket; a bad parameter is a 400100 error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator import payloads
from simulator.config import SimulatorConfig
from simulator.market import MINUTE_MS, Bars, Market
from simulator.payloads import DayStats
from simulator.rng import stream_key, uniforms
from simulator.universe import DAY_MS, EPOCH_MS, HOUR_MS, Contract, build_universe

KLINE_GRANULARITIES = (1, 5, 15, 30, 60, 120, 240, 480, 720, 1440, 10080)  # minutes
_MONDAY_MS = 4 * DAY_MS  # 1970-01-05, a Monday: weekly klines start on Mondays


class RequestRejected(Exception):
    """The exchange refuses a request: KuCoin's error code and message, and the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class KlineQuery:
    symbol: str
    granularity: int
    start_ms: int | None
    end_ms: int | None


class Exchange:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.universe = build_universe(config.seed, config.n_contracts)
        self.market = Market(config.seed, self.universe)
        self._contracts = {c.symbol: c for c in self.universe}
        self._active_cache: tuple[int, list[dict[str, Any]]] | None = None

    def now(self) -> int:
        return self.config.now()

    def warm_up(self) -> None:
        """Compute what the first /contracts/active needs (every listed contract's last day) now,
        so that request is answered well inside a client's timeout."""
        self.contracts_active()

    def listed(self, now_ms: int) -> list[Contract]:
        return [c for c in self.universe if c.is_listed(now_ms)]

    def contract(self, symbol: str) -> Contract:
        c = self._contracts.get(symbol)
        if c is None:
            raise RequestRejected(400, "400100", f"contract {symbol!r} does not exist")
        return c

    # -- endpoints -------------------------------------------------------------------------------

    def contracts_active(self) -> list[dict[str, Any]]:
        now = self.now()
        minute = now // MINUTE_MS
        if self._active_cache is None or self._active_cache[0] != minute:
            self._active_cache = (minute, [self._contract_object(c, now) for c in self.listed(now)])
        return self._active_cache[1]

    def contract_detail(self, symbol: str) -> dict[str, Any]:
        c = self.contract(symbol)
        now = self.now()
        if not c.is_listed(now):
            raise RequestRejected(400, "400100", f"contract {symbol!r} is not listed")
        return self._contract_object(c, now)

    def currencies(self) -> list[dict[str, Any]]:
        codes = sorted({code for c in self.listed(self.now()) for code in (c.base, c.quote, c.settle)})
        return [payloads.currency_object(code) for code in codes]

    def klines(self, query: KlineQuery) -> list[list[float | int]]:
        c = self.contract(query.symbol)
        if query.granularity not in KLINE_GRANULARITIES:
            raise RequestRejected(
                400, "400100", f"granularity {query.granularity} is invalid: one of {', '.join(map(str, KLINE_GRANULARITIES))}"
            )
        bucket_ms = query.granularity * MINUTE_MS
        align = _MONDAY_MS if query.granularity == 10080 else 0
        now = self.now()
        end = now if query.end_ms is None else query.end_ms
        start = end - self.config.kline_max_points * bucket_ms if query.start_ms is None else query.start_ms
        if start > end:
            raise RequestRejected(400, "400100", f"from={start} is after to={end}")
        first_bucket = -((align - start) // bucket_ms) * bucket_ms + align  # first bucket start >= start
        if query.start_ms is None:  # only `to`: the points closest to it
            first_bucket = max(first_bucket, end - (self.config.kline_max_points - 1) * bucket_ms)
        last_closed = (now - align) // bucket_ms * bucket_ms + align - bucket_ms
        last_bucket = min((end - align) // bucket_ms * bucket_ms + align, last_closed)
        last_bucket = min(last_bucket, first_bucket + (self.config.kline_max_points - 1) * bucket_ms)
        if last_bucket < first_bucket:
            return []
        minutes = self._faulty(c, self.market.candles(c, max(first_bucket, EPOCH_MS), last_bucket + bucket_ms))
        bars = minutes if query.granularity == 1 else minutes.aggregate(bucket_ms, align)
        return payloads.kline_rows(bars)

    # -- internals -------------------------------------------------------------------------------

    def _contract_object(self, c: Contract, now: int) -> dict[str, Any]:
        closed_until = now // MINUTE_MS * MINUTE_MS
        bars = self.market.candles(c, closed_until - DAY_MS, closed_until)
        fair = self.market.fair_price(c, now)
        next_funding = _next_funding(c, now)
        stats = DayStats.from_bars(
            c, bars, fair,
            open_interest_lots=self.market.open_interest_lots(c, now, fair),
            funding_rate=self.market.funding_rate(c, next_funding) if next_funding else None,
            predicted_funding_rate=(
                self.market.funding_rate(c, next_funding + c.funding_granularity_ms)
                if next_funding and c.funding_granularity_ms else None
            ),
            next_funding_ms=next_funding,
        )
        return payloads.contract_object(c, stats, now)

    def _faulty(self, c: Contract, bars: Bars) -> Bars:
        """Candles as served under the fault profile (identical on every request)."""
        rate = self.config.faults.ohlc_inverted
        if rate <= 0 or len(bars) == 0:
            return bars
        minutes = (bars.open_ms - EPOCH_MS) // MINUTE_MS
        inverted = uniforms(stream_key(self.config.seed, "fault", "ohlc_inverted", c.symbol), minutes) < rate
        if not inverted.any():
            return bars
        return Bars(bars.open_ms, bars.open, np.where(inverted, bars.low, bars.high), np.where(inverted, bars.high, bars.low), bars.close, bars.volume)


def _next_funding(c: Contract, now: int) -> int | None:
    """The next settlement: 8-hourly at 04:00, 12:00 and 20:00 UTC as KuCoin's majors; shorter periods on the hour."""
    period = c.funding_granularity_ms
    if period is None:
        return None
    offset = 4 * HOUR_MS if period == 8 * HOUR_MS else 0
    return ((now - offset) // period + 1) * period + offset
