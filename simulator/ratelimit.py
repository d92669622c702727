"""KuCoin's rate limiting: weighted resource pools over fixed windows (``../shared/kucoin/API.md``).

Each request spends its endpoint's weight from a pool. A pool's window opens at the first
request after the previous window ended and lasts ``window_ms``; a request whose weight does not
fit in what is left is refused (HTTP 429, code 429000) and spends nothing. Every answer carries
``gw-ratelimit-limit``, ``gw-ratelimit-remaining`` and ``gw-ratelimit-reset`` (ms until the window
ends). Windows run on the wall clock (a monotonic one), whatever the exchange's clock says:
a client's pace is real time even when the market is frozen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

PUBLIC = "public"
UNIFIED = "unified"

# Route -> (pool, weight), from API.md's endpoint table ([U], depth100 from [K]/[C]).
WEIGHTS: dict[str, tuple[str, int]] = {
    "/api/v1/contracts/active": (PUBLIC, 3),
    "/api/v1/contracts/{symbol}": (PUBLIC, 3),
    "/api/v1/kline/query": (PUBLIC, 3),
    "/api/v1/ticker": (PUBLIC, 2),
    "/api/v1/allTickers": (PUBLIC, 5),
    "/api/v1/level2/snapshot": (PUBLIC, 3),
    "/api/v1/level2/depth20": (PUBLIC, 5),
    "/api/v1/level2/depth100": (PUBLIC, 10),
    "/api/v1/trade/history": (PUBLIC, 5),
    "/api/v1/funding-rate/{symbol}/current": (PUBLIC, 2),
    "/api/v1/contract/funding-rates": (PUBLIC, 5),
    "/api/v1/mark-price/{symbol}/current": (PUBLIC, 3),
    "/api/v1/timestamp": (PUBLIC, 2),
    "/api/v1/status": (PUBLIC, 4),
    "/api/v3/currencies": (PUBLIC, 3),  # the spot host's currency list, which ccxt's load_markets reads
    "/api/ua/v1/market/open-interest": (UNIFIED, 10),
}


@dataclass(frozen=True)
class Verdict:
    """The outcome of charging one request, and the headers that report the pool's state."""

    allowed: bool
    limit: int
    remaining: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        return {
            "gw-ratelimit-limit": str(self.limit),
            "gw-ratelimit-remaining": str(self.remaining),
            "gw-ratelimit-reset": str(self.reset_ms),
        }


class Pool:
    """One resource pool: ``limit`` weight per ``window_ms``."""

    def __init__(self, limit: int, window_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_ms = window_ms
        self.refused = 0
        self._clock = clock
        self._used = 0
        self._window_end: float | None = None
        self._lock = threading.Lock()

    def _now_ms(self) -> float:
        return self._clock() * 1000.0

    def _roll(self, now: float) -> None:
        if self._window_end is not None and now >= self._window_end:
            self._window_end, self._used = None, 0

    def charge(self, weight: int) -> Verdict:
        with self._lock:
            now = self._now_ms()
            self._roll(now)
            if self._window_end is None:
                self._window_end = now + self.window_ms
            allowed = self._used + weight <= self.limit
            if allowed:
                self._used += weight
            else:
                self.refused += 1
            return Verdict(allowed, self.limit, self.limit - self._used, max(0, int(self._window_end - now)))

    def peek(self, exhausted: bool = False) -> Verdict:
        """The pool's state without charging (``exhausted``: report nothing left)."""
        with self._lock:
            now = self._now_ms()
            self._roll(now)
            reset = int(self._window_end - now) if self._window_end is not None else self.window_ms
            return Verdict(not exhausted, self.limit, 0 if exhausted else self.limit - self._used, max(0, reset))

    def status(self) -> dict[str, int]:
        state = self.peek()
        return {
            "limit": self.limit, "window_ms": self.window_ms, "used": self.limit - state.remaining,
            "remaining": state.remaining, "reset_ms": state.reset_ms, "refused": self.refused,
        }


class RateLimiter:
    """The PUBLIC and Unified pools of one simulator."""

    def __init__(self, public: tuple[int, int], unified: tuple[int, int]) -> None:
        self.pools = {PUBLIC: Pool(*public), UNIFIED: Pool(*unified)}

    def pool_of(self, route: str) -> tuple[Pool, int] | None:
        """The pool and weight a route spends from (None: not a KuCoin path)."""
        entry = WEIGHTS.get(route)
        return None if entry is None else (self.pools[entry[0]], entry[1])

    def status(self) -> dict[str, dict[str, int]]:
        return {name: pool.status() for name, pool in self.pools.items()}
