"""KuCoin futures through ccxt: the simulator on loopback by default, the real exchange on request.

The same client code serves both; only the URLs differ. In ``sim`` mode every API host ccxt
knows is pinned (the simulator for the public, futures-public and unified hosts, a dead loopback
port for the rest) so no request can leave the machine.

Requests are paced by ccxt's token bucket, sized from the exchange's request-weight budget
(KuCoin's public pool: 2000 weight per 30 s per IP), and retried with exponential backoff on
transient errors; a 429 waits for the pool's reset time the exchange announces. A 2xx body
that is not KuCoin's JSON envelope is an error here, not the empty result ccxt would return.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import ccxt
import ccxt.async_support as ccxt_async
import dagster as dg

from models.records import SYMBOL_PATTERN
from orchestration.settings import KUCOIN_PUBLIC_WEIGHT_BUDGET

T = TypeVar("T")

LIVE_FUTURES_URL = "https://api-futures.kucoin.com"
_DEAD_LOOPBACK = "http://127.0.0.1:9"  # discard port: nothing listens, a stray call fails fast
_SIMULATED_HOSTS = ("public", "futuresPublic", "uta")
_OPEN_INTEREST_PAGE = 100  # points per request, well inside the unified endpoint's page limit
# ccxt charges KuCoin futures endpoints twice their weight (its kline cost is 6 for weight 3).
_CCXT_COST_PER_WEIGHT = 2
_KLINE_WEIGHT = 3  # KuCoin's weight of /api/v1/kline/query, the costliest request the client repeats
# Worth retrying: the exchange, the network or the rate limit hiccupped. ccxt's NetworkError
# covers RateLimitExceeded, ExchangeNotAvailable, RequestTimeout and DDoSProtection. Anything
# else (bad symbol, bad parameters) would fail the same way again.
_TRANSIENT = (ccxt.NetworkError, ccxt.BadResponse)
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, ArithmeticError)


class ExchangeRequestError(RuntimeError):
    """A request failed for good; the message names the request and the cause.

    ``transient`` says whether trying again later may succeed (the exchange was unavailable or
    rate-limited throughout) or not (the exchange refused the request itself).
    """

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class _RateLimited(ccxt.RateLimitExceeded):
    """A 429, with the milliseconds until the exchange's pool resets (gw-ratelimit-reset)."""

    def __init__(self, message: str, reset_ms: float | None) -> None:
        super().__init__(message)
        self.reset_ms = reset_ms


class _StrictKucoinFutures(ccxt_async.kucoinfutures):
    """kucoinfutures that reads KuCoin's rate-limit headers and refuses a 2xx body that is not
    KuCoin's JSON envelope."""

    def handle_errors(self, code, reason, url, method, headers, body, response, requestHeaders, requestBody):  # type: ignore[no-untyped-def]
        if code == 429:
            raise _RateLimited(f"{self.id} {method} {url}: HTTP 429 {(body or '')[:120]}", _header_ms(headers, "gw-ratelimit-reset"))
        super().handle_errors(code, reason, url, method, headers, body, response, requestHeaders, requestBody)
        if code is not None and 200 <= code < 300 and (not isinstance(response, dict) or "data" not in response):
            snippet = (body or "")[:120]
            raise ccxt.BadResponse(f"{self.id} {method} {url}: body is not a KuCoin JSON envelope: {snippet!r}")


def _header_ms(headers: Mapping[str, Any] | None, name: str) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


@dataclass(frozen=True)
class ClientSettings:
    mode: str
    sim_url: str
    timeout_ms: int
    max_concurrency: int
    max_attempts: int
    backoff_seconds: float
    weight_budget: int  # request weight per 30 s the client may spend

    @property
    def base_url(self) -> str:
        return self.sim_url if self.mode == "sim" else LIVE_FUTURES_URL

    @property
    def burst_weight(self) -> float:
        """Weight the client may spend at once: a kline request for each concurrent slot, at most
        half the budget. KuCoin's pool may be spent at will within its 30 s; ccxt's leaky bucket
        holds one request's cost by default, so every request after the first waited for a
        refill tick (an asyncio sleep of 1 ms at least), which at a large budget paced the
        client at 2.2 ms a request whatever the budget allowed."""
        return min(_KLINE_WEIGHT * self.max_concurrency, self.weight_budget / 2)

    @property
    def rate_limit_ms(self) -> float:
        """ccxt's pacing per unit of its cost: the budget less the burst is refilled over 30 s,
        so that no 30 s spends more than the budget, burst included."""
        return 30_000 / (_CCXT_COST_PER_WEIGHT * (self.weight_budget - self.burst_weight))


class ExchangeClient:
    """An open ccxt session; use as ``async with ExchangeClient(settings) as client``."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.request_count = 0
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        # ccxt sizes its token bucket from rateLimit when the exchange object is built: it
        # must be given here, not assigned afterwards.
        config: dict[str, Any] = {
            "timeout": settings.timeout_ms,
            "enableRateLimit": True,
            "rateLimit": settings.rate_limit_ms,
            # ccxt lets a request through while the bucket is not negative: it holds the burst less one request
            "tokenBucket": {"capacity": _CCXT_COST_PER_WEIGHT * max(settings.burst_weight - _KLINE_WEIGHT, 0)},
        }
        if not settings.base_url.startswith("https://"):
            # ccxt's close() waits 250 ms for TLS connections to shut down; plain HTTP has none
            config["timeout_on_exit"] = 0
        self._exchange = _StrictKucoinFutures(config)
        if settings.mode == "sim":
            for host in list(self._exchange.urls["api"]):
                self._exchange.urls["api"][host] = settings.sim_url if host in _SIMULATED_HOSTS else _DEAD_LOOPBACK

    async def __aenter__(self) -> ExchangeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._exchange.close()

    # -- requests ----------------------------------------------------------------------------

    async def load_markets(self) -> list[dict[str, Any]]:
        """Every futures market ccxt knows, each with the raw contract object in ``info``."""
        markets = await self._call(
            "load_markets (GET /api/v1/contracts/active, /api/v3/currencies)", lambda: self._exchange.load_markets(reload=True)
        )
        if not markets:
            raise ExchangeRequestError(f"{self.settings.base_url}: /api/v1/contracts/active returned no contracts", transient=True)
        return list(markets.values())

    async def fetch_candles_1m(self, symbol: str, start_ms: int, end_ms: int, page: int) -> list[Any]:
        """1m kline rows with open time in [start_ms, end_ms) as served, in pages of at most ``page``
        minutes (raw, as the other per-symbol endpoints: ccxt's unified parser would drop rows
        before ``since`` and past ``limit`` unseen, truncate a fractional open time, and cost
        more CPU than the rest of the ingest; the rows are validated by models.candles)."""
        _check_contract_id(symbol)
        rows: list[Any] = []
        since = start_ms
        while since < end_ms:
            until = min(since + page * 60_000, end_ms)
            what = f"GET /api/v1/kline/query {symbol} from {since} to {until}"
            # `to` is inclusive at KuCoin: asking up to the millisecond before the next page's
            # first minute serves this page's minutes exactly, whichever way `to` is read
            params = {"symbol": symbol, "granularity": 1, "from": since, "to": until - 1}
            response = await self._call(what, lambda p=params: self._exchange.futuresPublicGetKlineQuery(p))
            rows.extend(_data_list(response, what))
            since = until
        return rows

    async def fetch_all_tickers(self) -> list[Any]:
        """Every contract's ticker as served (one request; the raw objects, hostile ones included)."""
        response = await self._call("GET /api/v1/allTickers", lambda: self._exchange.futuresPublicGetAllTickers())
        return _data_list(response, "GET /api/v1/allTickers")

    async def fetch_order_book(self, symbol: str, depth: int) -> Any:
        """The order book as served (``data`` of /api/v1/level2/depth20 or depth100)."""
        _check_contract_id(symbol)
        what = f"GET /api/v1/level2/depth{depth} {symbol}"
        endpoint = self._exchange.futuresPublicGetLevel2Depth20 if depth == 20 else self._exchange.futuresPublicGetLevel2Depth100
        response = await self._call(what, lambda: endpoint({"symbol": symbol}))
        return _data(response, what)

    async def fetch_trades(self, symbol: str) -> list[Any]:
        """The last 100 public trades as served (raw: ccxt's parser would stop at a corrupt record)."""
        _check_contract_id(symbol)
        what = f"GET /api/v1/trade/history {symbol}"
        response = await self._call(what, lambda: self._exchange.futuresPublicGetTradeHistory({"symbol": symbol}))
        return _data_list(response, what)

    async def fetch_funding_history(self, symbol: str, start_ms: int, end_ms: int) -> list[Any]:
        """Funding rates settled in [start_ms, end_ms), as served."""
        _check_contract_id(symbol)
        what = f"GET /api/v1/contract/funding-rates {symbol} from {start_ms} to {end_ms}"
        params = {"symbol": symbol, "from": start_ms, "to": end_ms - 1}
        response = await self._call(what, lambda: self._exchange.futuresPublicGetContractFundingRates(params))
        return _data_list(response, what)

    async def fetch_open_interest(self, symbol: str, start_ms: int, end_ms: int, interval_ms: int, interval: str) -> list[Any]:
        """Open-interest points in [start_ms, end_ms) of the unified API (ccxt's implicit method),
        in pages of at most _OPEN_INTEREST_PAGE points (the endpoint caps a page)."""
        _check_contract_id(symbol)
        points: list[Any] = []
        for page_start in range(start_ms, end_ms, interval_ms * _OPEN_INTEREST_PAGE):
            page_end = min(end_ms, page_start + interval_ms * _OPEN_INTEREST_PAGE)
            what = f"GET /api/ua/v1/market/open-interest {symbol} {interval} from {page_start} to {page_end}"
            params = {"symbol": symbol, "interval": interval, "startAt": page_start, "endAt": page_end - 1, "pageSize": _OPEN_INTEREST_PAGE}
            response = await self._call(what, lambda p=params: self._exchange.utaGetMarketOpenInterest(p))
            points.extend(_data_list(response, what))
        return points

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
                            f"{type(error).__name__}: {_first_line(error)}",
                            transient=True,
                        ) from error
                    wait = _wait_seconds(error, attempt, self.settings.backoff_seconds)
                except ccxt.BaseError as error:
                    raise ExchangeRequestError(
                        f"{what} at {self.settings.base_url} was refused: {type(error).__name__}: {_first_line(error)}",
                        transient=False,
                    ) from error
                except _PARSE_ERRORS as error:  # ccxt's parser met a value it cannot read (e.g. "NaN")
                    raise ExchangeRequestError(
                        f"{what} at {self.settings.base_url}: the response could not be parsed: {type(error).__name__}: {_first_line(error)}",
                        transient=False,
                    ) from error
            await asyncio.sleep(wait)


def _check_contract_id(symbol: str) -> None:
    """Refuse, before any request, an id that is not a contract id: ccxt writes the query string
    of an implicit call unencoded, so such an id would reach the URL as it is (a '&' adds a
    parameter, '%27' is decoded by the server, a non-ASCII one is a malformed request)."""
    if re.fullmatch(SYMBOL_PATTERN, symbol) is None:
        raise ExchangeRequestError(f"{symbol!r:.80} is not a KuCoin contract id (pattern {SYMBOL_PATTERN}): not sent", transient=False)


def _wait_seconds(error: Exception, attempt: int, backoff: float) -> float:
    """Until the rate-limit pool resets when the exchange says so; else exponential backoff with
    full jitter, which keeps many concurrent retries from hitting the exchange in lockstep."""
    reset_ms = getattr(error, "reset_ms", None)
    if reset_ms is not None:
        return reset_ms / 1000 + random.uniform(0, backoff)
    return random.uniform(0, backoff * 2 ** (attempt - 1))


def _data(response: Any, what: str) -> Any:
    """The ``data`` of KuCoin's envelope (the client has already refused a body without one)."""
    return response.get("data") if isinstance(response, dict) else None


def _data_list(response: Any, what: str) -> list[Any]:
    data = _data(response, what)
    if not isinstance(data, list):
        raise ExchangeRequestError(f"{what}: expected a list in the response's data, got {type(data).__name__}", transient=False)
    return data


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
    """Where market data comes from: ``mode`` is ``sim`` (the loopback simulator) or ``live`` (KuCoin).

    ``weight_budget`` is the request weight per 30 s the client may spend: KuCoin's public pool
    by default; a simulator started with a larger pool (benchmarks) is matched by raising it.
    """

    mode: str = "sim"
    sim_url: str = "http://127.0.0.1:8765"
    weight_budget: int = KUCOIN_PUBLIC_WEIGHT_BUDGET
    timeout_ms: int = 10_000
    max_concurrency: int = 8
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    kline_page_size: int = 200  # ccxt's maximum per kline request for KuCoin futures

    def client(self) -> ExchangeClient:
        if self.mode not in ("sim", "live"):
            raise ValueError(f"exchange mode {self.mode!r} (ZMART_EXCHANGE): must be 'sim' or 'live'")
        if self.weight_budget < 1:
            raise ValueError(f"weight budget {self.weight_budget} (ZMART_EXCHANGE_WEIGHT_BUDGET): must be at least 1")
        return ExchangeClient(
            ClientSettings(
                self.mode, self.sim_url.rstrip("/"), self.timeout_ms, self.max_concurrency, self.max_attempts,
                self.backoff_seconds, self.weight_budget,
            )
        )

    @property
    def source(self) -> str:
        return f"kucoinfutures@{self.sim_url if self.mode == 'sim' else LIVE_FUTURES_URL}"
