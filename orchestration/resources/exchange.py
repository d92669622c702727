"""KuCoin futures through ccxt: the simulator on loopback by default, the real exchange on request.

The same client code serves both; only the URLs differ. In ``sim`` mode every API host ccxt
knows is pinned (the simulator for the public hosts, a dead loopback port for the rest) so no
request can leave the machine. Requests are retried with exponential backoff on transient
errors, and a malformed body is an error here rather than the empty result ccxt returns.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import ccxt
import ccxt.async_support as ccxt_async
import dagster as dg

T = TypeVar("T")

LIVE_FUTURES_URL = "https://api-futures.kucoin.com"
_DEAD_LOOPBACK = "http://127.0.0.1:9"  # discard port: nothing listens, a stray call fails fast
_SIMULATED_HOSTS = ("public", "futuresPublic")
# Worth retrying: the exchange or the network hiccupped. Anything else (bad symbol, bad
# parameters) would fail the same way again.
_TRANSIENT = (ccxt.NetworkError, ccxt.BadResponse)


class ExchangeRequestError(RuntimeError):
    """A request to the exchange failed for good; the message names the request and the cause."""


class _StrictKucoinFutures(ccxt_async.kucoinfutures):
    """kucoinfutures that refuses a 2xx body which is not KuCoin's JSON envelope."""

    def handle_errors(self, code, reason, url, method, headers, body, response, requestHeaders, requestBody):  # type: ignore[no-untyped-def]
        super().handle_errors(code, reason, url, method, headers, body, response, requestHeaders, requestBody)
        if code is not None and 200 <= code < 300 and (not isinstance(response, dict) or "data" not in response):
            snippet = (body or "")[:120]
            raise ccxt.BadResponse(f"{self.id} {method} {url}: body is not a KuCoin JSON envelope: {snippet!r}")


@dataclass(frozen=True)
class ClientSettings:
    mode: str
    sim_url: str
    timeout_ms: int
    max_concurrency: int
    max_attempts: int
    backoff_seconds: float
    rate_limit_ms: float | None  # ccxt's pacing per unit of request weight; None: KuCoin's published limits

    @property
    def base_url(self) -> str:
        return self.sim_url if self.mode == "sim" else LIVE_FUTURES_URL


class ExchangeClient:
    """An open ccxt session; use as ``async with ExchangeClient(settings) as client``."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.request_count = 0
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        options: dict[str, Any] = {"timeout": settings.timeout_ms, "enableRateLimit": True}
        if settings.rate_limit_ms is not None:
            # ccxt sizes its token bucket from rateLimit when the exchange object is built:
            # it must be given here, not assigned afterwards.
            options["rateLimit"] = settings.rate_limit_ms
        self._exchange = _StrictKucoinFutures(options)
        if settings.mode == "sim":
            for host in list(self._exchange.urls["api"]):
                self._exchange.urls["api"][host] = settings.sim_url if host in _SIMULATED_HOSTS else _DEAD_LOOPBACK

    async def __aenter__(self) -> ExchangeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._exchange.close()

    async def load_markets(self) -> list[dict[str, Any]]:
        """Every futures market ccxt knows, each with the raw contract object in ``info``."""
        markets = await self._call(
            "load_markets (GET /api/v1/contracts/active, /api/v3/currencies)", lambda: self._exchange.load_markets(reload=True)
        )
        if not markets:
            raise ExchangeRequestError(f"{self.settings.base_url}: /api/v1/contracts/active returned no contracts")
        return list(markets.values())

    async def fetch_candles_1m(self, unified_symbol: str, symbol: str, start_ms: int, end_ms: int, page: int) -> list[list[Any]]:
        """1m candles with open time in [start_ms, end_ms), fetched in pages of at most ``page`` minutes."""
        rows: list[list[Any]] = []
        since = start_ms
        while since < end_ms:
            limit = min(page, (end_ms - since) // 60_000)
            what = f"GET /api/v1/kline/query {symbol} from {since} limit {limit}"
            rows.extend(
                await self._call(what, lambda s=since, n=limit: self._exchange.fetch_ohlcv(unified_symbol, "1m", since=s, limit=n))
            )
            since += limit * 60_000
        return rows

    async def _call(self, what: str, request: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            attempt += 1
            async with self._semaphore:
                self.request_count += 1
                try:
                    return await request()
                except _TRANSIENT as error:
                    if attempt >= self.settings.max_attempts:
                        raise ExchangeRequestError(
                            f"{what} at {self.settings.base_url} failed after {attempt} attempts: "
                            f"{type(error).__name__}: {_first_line(error)}"
                        ) from error
                except ccxt.BaseError as error:
                    raise ExchangeRequestError(
                        f"{what} at {self.settings.base_url} was refused: {type(error).__name__}: {_first_line(error)}"
                    ) from error
            # Full jitter keeps many concurrent retries from hitting the exchange in lockstep.
            await asyncio.sleep(random.uniform(0, self.settings.backoff_seconds * 2 ** (attempt - 1)))


def _first_line(error: BaseException) -> str:
    """The error's first line, and its root cause's when there is one (ccxt wraps aiohttp's)."""
    text = (str(error).strip() or repr(error)).splitlines()[0][:300]
    root = error
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    if root is not error:
        detail = (str(root).strip() or type(root).__name__).splitlines()[0][:200]
        text += f" ({type(root).__name__}: {detail})"
    return text


class KucoinFuturesResource(dg.ConfigurableResource):
    """Where market data comes from: ``mode`` is ``sim`` (the loopback simulator) or ``live`` (KuCoin)."""

    mode: str = "sim"
    sim_url: str = "http://127.0.0.1:8765"
    timeout_ms: int = 10_000
    max_concurrency: int = 8
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    kline_page_size: int = 200  # ccxt's maximum per kline request for KuCoin futures
    # The simulator enforces no request-weight pool unless a fault profile asks for one, so in
    # sim mode ccxt only spaces requests by this; live mode keeps ccxt's KuCoin limits.
    sim_rate_limit_ms: float = 0.5

    def client(self) -> ExchangeClient:
        if self.mode not in ("sim", "live"):
            raise ValueError(f"exchange mode {self.mode!r} (ZMART_EXCHANGE): must be 'sim' or 'live'")
        return ExchangeClient(
            ClientSettings(
                self.mode, self.sim_url.rstrip("/"), self.timeout_ms, self.max_concurrency, self.max_attempts,
                self.backoff_seconds, self.sim_rate_limit_ms if self.mode == "sim" else None,
            )
        )

    @property
    def source(self) -> str:
        return f"kucoinfutures@{self.sim_url if self.mode == 'sim' else LIVE_FUTURES_URL}"
