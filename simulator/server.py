"""The simulator's HTTP face: KuCoin's public REST paths on a loopback port (aiohttp).

Three ways to run it:
- ``SimulatorServer``: in a background thread of the calling process (unit tests);
- ``SimulatorProcess``: a child process (the demo and pipeline tests: the exchange gets its own
  core, and a crash fault can kill it for real);
- ``serve_forever``: in the foreground (``zmart sim serve``).

Besides KuCoin's paths it answers ``GET /_sim/status`` (seed, universe, faults, request counts,
rate-limit pools and refusals, injected transport faults), which tests use to see what the client
asked for. Every KuCoin path spends its weight from a rate-limit pool (simulator.ratelimit) and
may meet a transport fault (simulator.transport); ``/_sim/*`` paths do neither.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from simulator import payloads, transport
from simulator.config import SimulatorConfig
from simulator.exchange import Exchange, KlineQuery, OpenInterestQuery, RequestRejected
from simulator.ratelimit import RateLimiter
from simulator.transport import TransportFaults

READY_PREFIX = "zmart-sim listening on "
_STATE = web.AppKey("state", "_State")
_CRASH_EXIT_CODE = 70
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _State:
    def __init__(self, config: SimulatorConfig, exit_on_crash: bool) -> None:
        self.exchange = Exchange(config)
        self.requests: Counter[str] = Counter()
        self.exit_on_crash = exit_on_crash
        self.crashed = False
        self.limiter = RateLimiter(
            (config.rate_limit_public, config.rate_limit_public_window_ms),
            (config.rate_limit_unified, config.rate_limit_unified_window_ms),
        )
        self.transport = TransportFaults(config.faults, config.seed)
        self.kucoin_requests = 0  # the arrival number of the next KuCoin request
        self.injected: Counter[str] = Counter()  # transport faults served


def build_app(config: SimulatorConfig, exit_on_crash: bool = False) -> web.Application:
    state = _State(config, exit_on_crash)
    app = web.Application(middlewares=[_kucoin_errors(state)])
    app[_STATE] = state
    app.router.add_get("/api/v1/contracts/active", _json(lambda r: state.exchange.contracts_active()))
    app.router.add_get("/api/v1/contracts/{symbol}", _json(lambda r: state.exchange.contract_detail(r.match_info["symbol"])))
    app.router.add_get("/api/v1/kline/query", _json(lambda r: state.exchange.klines(_kline_query(r))))
    app.router.add_get("/api/v1/ticker", _json(lambda r: state.exchange.ticker(_required(r.query, "symbol"))))
    app.router.add_get("/api/v1/allTickers", _json(lambda r: state.exchange.all_tickers()))
    app.router.add_get("/api/v1/level2/snapshot", _json(lambda r: state.exchange.order_book(_required(r.query, "symbol"), None)))
    app.router.add_get("/api/v1/level2/depth20", _json(lambda r: state.exchange.order_book(_required(r.query, "symbol"), 20)))
    app.router.add_get("/api/v1/level2/depth100", _json(lambda r: state.exchange.order_book(_required(r.query, "symbol"), 100)))
    app.router.add_get("/api/v1/trade/history", _json(lambda r: state.exchange.trade_history(_required(r.query, "symbol"))))
    app.router.add_get("/api/v1/funding-rate/{symbol}/current", _json(lambda r: state.exchange.funding_current(r.match_info["symbol"])))
    app.router.add_get(
        "/api/v1/contract/funding-rates",
        _json(lambda r: state.exchange.funding_history(_required(r.query, "symbol"), _integer(r.query, "from"), _integer(r.query, "to"))),
    )
    app.router.add_get("/api/v1/mark-price/{symbol}/current", _json(lambda r: state.exchange.mark_price(r.match_info["symbol"])))
    app.router.add_get("/api/ua/v1/market/open-interest", _json(lambda r: state.exchange.open_interest(_open_interest_query(r))))
    app.router.add_get("/api/v1/timestamp", _json(lambda r: state.exchange.now()))
    app.router.add_get("/api/v1/status", _json(lambda r: {"msg": "", "status": "open"}))
    app.router.add_get("/api/v3/currencies", _json(lambda r: state.exchange.currencies()))
    app.router.add_get("/_sim/status", _status)
    return app


def _json(produce: Callable[[web.Request], Any]) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return _response(200, payloads.envelope(produce(request)))

    return handler


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    # orjson: compact like KuCoin's answers, small prices in decimal notation (0.00001234, not
    # 1.234e-05), and an eighth of the stdlib encoder's CPU on a kline page (the simulator shares
    # the machine's two cores with the client it serves)
    return web.Response(
        status=status, body=orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), content_type="application/json", charset="utf-8",
        headers=headers,
    )


_TOO_MANY = "Too many requests. The rate limit of this resource pool is exhausted until gw-ratelimit-reset ms have passed."


def _kucoin_errors(state: _State) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else request.path
        state.requests[route] += 1
        crash_after = state.exchange.config.faults.crash_after_klines
        if state.crashed or (crash_after is not None and route == "/api/v1/kline/query" and state.requests[route] > crash_after):
            _crash(state, request)
        charge = state.limiter.pool_of(route)
        if charge is None:  # /_sim/* and unknown paths: not KuCoin's, neither limited nor faulted
            return await _answer(request, handler, {})
        pool, weight = charge
        fate = state.transport.fate(state.kucoin_requests)
        state.kucoin_requests += 1
        if fate.kind != "none":
            state.injected[fate.kind] += 1
        if fate.kind == "burst_429":
            return _response(429, payloads.error("429000", _TOO_MANY), pool.peek(exhausted=True).headers())
        if fate.kind == "http_5xx":
            if fate.status == 500:
                return web.Response(status=500, text=transport.server_error_body(), content_type="application/json", headers=pool.peek().headers())
            return web.Response(status=fate.status, text=transport.gateway_page(fate.status), content_type="text/html")
        verdict = pool.charge(weight)
        if not verdict.allowed:
            return _response(429, payloads.error("429000", _TOO_MANY), verdict.headers())
        if fate.kind == "slow":
            await asyncio.sleep(fate.delay_ms / 1000)
        response = await _answer(request, handler, verdict.headers())
        if fate.kind in ("truncated", "malformed") and isinstance(response, web.Response) and response.text is not None:
            text = transport.truncate(response.text) if fate.kind == "truncated" else transport.MALFORMED_BODY
            return web.Response(status=200, text=text, content_type="application/json", headers=verdict.headers())
        return response

    return middleware


async def _answer(request: web.Request, handler: Handler, headers: dict[str, str]) -> web.StreamResponse:
    """The handler's answer, or KuCoin's error envelope, with the rate-limit headers."""
    try:
        response = await handler(request)
    except RequestRejected as rejected:
        return _response(rejected.status, payloads.error(rejected.code, rejected.message), headers)
    except web.HTTPNotFound:
        return _response(404, payloads.error("404", f"{request.path} is not an endpoint of this exchange"))
    response.headers.update(headers)
    return response


def _crash(state: _State, request: web.Request) -> None:
    """Die like a crashed server: the request gets no response, its connection is reset."""
    state.crashed = True
    if state.exit_on_crash:
        os._exit(_CRASH_EXIT_CODE)
    if request.transport is not None:
        request.transport.abort()
    raise ConnectionResetError("simulated exchange crash")


def _kline_query(request: web.Request) -> KlineQuery:
    params = request.query
    return KlineQuery(
        symbol=_required(params, "symbol"),
        granularity=_integer(params, "granularity", required=True),  # type: ignore[arg-type]
        start_ms=_integer(params, "from"),
        end_ms=_integer(params, "to"),
    )


def _open_interest_query(request: web.Request) -> OpenInterestQuery:
    params = request.query
    symbols = tuple(s for s in params.get("symbol", "").split(",") if s)
    interval = params.get("interval") or None
    if interval is not None and not symbols:
        raise RequestRejected(400, "400100", "parameter symbol is required with interval")
    return OpenInterestQuery(symbols, interval, _integer(params, "startAt"), _integer(params, "endAt"), _integer(params, "pageSize"))


def _required(params: Any, name: str) -> str:
    value = params.get(name)
    if not value:
        raise RequestRejected(400, "400100", f"parameter {name} is required")
    return str(value)


def _integer(params: Any, name: str, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise RequestRejected(400, "400100", f"parameter {name} is required")
        return None
    try:
        return int(value)
    except ValueError:
        raise RequestRejected(400, "400100", f"parameter {name}={value!r} is not an integer") from None


async def _status(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    config = state.exchange.config
    return _response(
        200,
        {
            "seed": config.seed,
            "contracts": config.n_contracts,
            "listed": len(state.exchange.listed(state.exchange.now())),
            "now": state.exchange.now(),
            "faults": config.faults.describe(),
            "requests": dict(state.requests),
            "rate_limits": state.limiter.status(),
            "refused": sum(pool.refused for pool in state.limiter.pools.values()),
            "transport_faults": dict(state.injected),
            "replay": [str(f) for f in state.exchange.replay.files] if state.exchange.replay is not None else [],
        },
    )


async def _start(config: SimulatorConfig, exit_on_crash: bool) -> tuple[web.AppRunner, str]:
    app = build_app(config, exit_on_crash)
    app[_STATE].exchange.warm_up()
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


class SimulatorServer:
    """The simulator in a background thread: ``with SimulatorServer(config) as server: server.url``."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="zmart-simulator", daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> SimulatorServer:
        self._thread.start()
        self._runner, self.url = asyncio.run_coroutine_threadsafe(_start(self.config, False), self._loop).result(timeout=30)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()


def serve_forever(config: SimulatorConfig, announce: Callable[[str], None]) -> None:
    """Serve in the foreground until SIGINT or SIGTERM; ``announce`` gets the ready line."""

    async def main() -> None:
        runner, url = await _start(config, exit_on_crash=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        announce(READY_PREFIX + url)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())


class SimulatorProcess:
    """The simulator as a child process: ``with SimulatorProcess(config) as sim: sim.url``."""

    def __init__(self, config: SimulatorConfig, startup_timeout: float = 60.0) -> None:
        self.config = config
        self.startup_timeout = startup_timeout
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def command(self) -> list[str]:
        argv = [
            sys.executable, "-m", "simulator", "serve", "--seed", str(self.config.seed),
            "--contracts", str(self.config.n_contracts), "--host", self.config.host, "--port", str(self.config.port),
            "--faults", self.config.faults.describe() if self.config.faults.active else "",
        ]
        if self.config.now_ms is not None:
            argv += ["--now-ms", str(self.config.now_ms)]
        argv += [
            "--rate-limit-public", str(self.config.rate_limit_public),
            "--rate-limit-public-window-ms", str(self.config.rate_limit_public_window_ms),
            "--rate-limit-unified", str(self.config.rate_limit_unified),
            "--rate-limit-unified-window-ms", str(self.config.rate_limit_unified_window_ms),
        ]
        if self.config.replay is not None:
            argv += ["--replay", str(self.config.replay)]
        return argv

    def __enter__(self) -> SimulatorProcess:
        self._process = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = _read_line(self._process, self.startup_timeout)
        if not line.startswith(READY_PREFIX):
            self.__exit__()
            raise RuntimeError(f"the simulator did not start: {line.strip() or 'no output'}")
        self.url = line[len(READY_PREFIX):].strip()
        return self

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def __exit__(self, *exc_info: object) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The child's first stdout line, or its stderr if it exits or stays silent past ``timeout``."""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline() if process.stdout else ""), daemon=True)
    reader.start()
    reader.join(timeout)
    if result and result[0]:
        return result[0]
    if process.poll() is None:
        process.kill()
    process.wait()
    return process.stderr.read() if process.stderr else ""
