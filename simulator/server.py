"""The simulator's HTTP face: KuCoin's public REST paths on a loopback port (aiohttp).

Three ways to run it:
- ``SimulatorServer``: in a background thread of the calling process (unit tests);
- ``SimulatorProcess``: a child process (the demo and pipeline tests: the exchange gets its own
  core, and a crash fault can kill it for real);
- ``serve_forever``: in the foreground (``zmart sim serve``).

Besides KuCoin's paths it answers ``GET /_sim/status`` (seed, universe, faults, request counts),
which tests use to see what the client asked for.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from simulator import payloads
from simulator.config import SimulatorConfig
from simulator.exchange import Exchange, KlineQuery, RequestRejected

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


def build_app(config: SimulatorConfig, exit_on_crash: bool = False) -> web.Application:
    state = _State(config, exit_on_crash)
    app = web.Application(middlewares=[_kucoin_errors(state)])
    app[_STATE] = state
    app.router.add_get("/api/v1/contracts/active", _json(lambda r: state.exchange.contracts_active()))
    app.router.add_get("/api/v1/contracts/{symbol}", _json(lambda r: state.exchange.contract_detail(r.match_info["symbol"])))
    app.router.add_get("/api/v1/kline/query", _json(lambda r: state.exchange.klines(_kline_query(r))))
    app.router.add_get("/api/v1/timestamp", _json(lambda r: state.exchange.now()))
    app.router.add_get("/api/v1/status", _json(lambda r: {"msg": "", "status": "open"}))
    app.router.add_get("/api/v3/currencies", _json(lambda r: state.exchange.currencies()))
    app.router.add_get("/_sim/status", _status)
    return app


def _json(produce: Callable[[web.Request], Any]) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return _response(200, payloads.envelope(produce(request)))

    return handler


def _response(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")), content_type="application/json")


def _kucoin_errors(state: _State) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else request.path
        state.requests[route] += 1
        crash_after = state.exchange.config.faults.crash_after_klines
        if state.crashed or (crash_after is not None and route == "/api/v1/kline/query" and state.requests[route] > crash_after):
            _crash(state, request)
        try:
            return await handler(request)
        except RequestRejected as rejected:
            return _response(rejected.status, payloads.error(rejected.code, rejected.message))
        except web.HTTPNotFound:
            return _response(404, payloads.error("404", f"{request.path} is not an endpoint of this exchange"))

    return middleware


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
