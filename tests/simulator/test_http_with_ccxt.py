"""The simulator over HTTP, as ccxt's kucoinfutures sees it, and its payloads against recorded ones."""

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from orchestration.resources.exchange import KucoinFuturesResource
from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer

RECORDED = Path(__file__).parents[1] / "fixtures" / "kucoin"
NOW = int(datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp() * 1000)
HOUR = 3_600_000


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    # 300 contracts: past the 254 real linear ones, so inverse and dated contracts are served too
    with SimulatorServer(SimulatorConfig(n_contracts=300, now_ms=NOW)) as running:
        yield running


def get(server: SimulatorServer, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(server.url + path, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def json_type(value: object) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "null")


def allowed_types(examples: list[dict[str, Any]]) -> dict[str, set[str]]:
    allowed: dict[str, set[str]] = {}
    for example in examples:
        for key, value in example.items():
            allowed.setdefault(key, set()).add(json_type(value))
    return allowed


def recorded_contracts() -> list[dict[str, Any]]:
    subset = json.loads((RECORDED / "contracts_active_subset.json").read_text())["data"]
    sdk = json.loads((RECORDED / "futures_market_examples.json").read_text())
    return [*subset, *sdk["test_get_all_symbols_resp_model"]["data"], sdk["test_get_symbol_resp_model"]["data"]]


def test_contract_objects_have_the_recorded_keys_and_types(server: SimulatorServer) -> None:
    status, body = get(server, "/api/v1/contracts/active")
    assert status == 200 and body["code"] == "200000"
    allowed = allowed_types(recorded_contracts())
    perpetuals = [c for c in body["data"] if c["type"] == "FFWCSX"]
    assert len(perpetuals) > 100
    for contract in perpetuals:
        assert set(contract) == set(allowed), contract["symbol"]
        wrong = {k: json_type(v) for k, v in contract.items() if json_type(v) not in allowed[k]}
        assert not wrong, f"{contract['symbol']}: {wrong} (recorded: { {k: allowed[k] for k in wrong} })"


def test_klines_timestamp_and_status_have_the_recorded_shapes(server: SimulatorServer) -> None:
    sdk = json.loads((RECORDED / "futures_market_examples.json").read_text())
    _, klines = get(server, f"/api/v1/kline/query?symbol=XBTUSDTM&granularity=1&from={NOW - HOUR}&to={NOW}")
    recorded_row = sdk["test_get_klines_resp_model"]["data"][0]
    assert all(len(row) == len(recorded_row) for row in klines["data"])
    assert {json_type(v) for row in klines["data"] for v in row} == {json_type(v) for v in recorded_row} == {"number"}
    assert isinstance(klines["data"][0][0], int) and isinstance(klines["data"][0][5], int)  # ms and lots are integers
    for path, example in (("/api/v1/timestamp", "test_get_server_time_resp_model"), ("/api/v1/status", "test_get_service_status_resp_model")):
        _, body = get(server, path)
        recorded = sdk[example]
        assert json_type(body["data"]) == json_type(recorded["data"])
        if isinstance(recorded["data"], dict):
            assert set(body["data"]) == set(recorded["data"])


def test_errors_use_kucoins_envelope(server: SimulatorServer) -> None:
    status, body = get(server, "/api/v1/kline/query?symbol=XBTUSDTM&granularity=abc")
    assert status == 400 and body == {"code": "400100", "msg": "parameter granularity='abc' is not an integer"}
    status, body = get(server, "/api/v1/no/such/endpoint")
    assert status == 404 and body["code"] == "404"


def test_ccxt_loads_markets_and_pages_candles_from_the_simulator(server: SimulatorServer) -> None:
    async def scenario() -> tuple[dict[str, Any], list[list[float]], dict[str, Any]]:
        exchange = ccxt_async.kucoinfutures({"rateLimit": 1})
        try:
            for host in exchange.urls["api"]:
                exchange.urls["api"][host] = server.url if host in ("public", "futuresPublic") else "http://127.0.0.1:9"
            markets = await exchange.load_markets()
            candles = await exchange.fetch_ohlcv("BTC/USDT:USDT", "1m", since=NOW - 2 * HOUR, limit=120)
            return markets, candles, exchange.currencies
        finally:
            await exchange.close()

    markets, candles, currencies = asyncio.run(scenario())
    btc = markets["BTC/USDT:USDT"]
    assert (btc["id"], btc["contractSize"], btc["linear"], btc["precision"]["price"]) == ("XBTUSDTM", 0.001, True, 0.1)
    assert markets["BTC/USD:BTC"]["inverse"] and any(m["type"] == "future" for m in markets.values())
    assert "BTC" in currencies and "USDT" in currencies  # from the spot host's /api/v3/currencies
    assert [c[0] for c in candles] == [NOW - 2 * HOUR + m * 60_000 for m in range(120)]


def test_the_clients_kline_pages_serve_each_minute_of_the_window_once_as_served(server: SimulatorServer) -> None:
    start = NOW - 7 * HOUR  # 420 minutes: pages of 200, 200 and 20

    async def scenario() -> tuple[list[Any], int]:
        async with KucoinFuturesResource(sim_url=server.url).client() as client:
            return await client.fetch_candles_1m("XBTUSDTM", start, NOW, 200), client.request_count

    rows, requests = asyncio.run(scenario())
    assert [row[0] for row in rows] == [start + m * 60_000 for m in range(420)] and requests == 3
    # `to` is inclusive at KuCoin: the endpoint asked for the page's last minute serves the same rows
    _, first_page = get(server, f"/api/v1/kline/query?symbol=XBTUSDTM&granularity=1&from={start}&to={start + 199 * 60_000}")
    assert rows[:200] == first_page["data"]


def test_status_reports_what_was_asked(server: SimulatorServer) -> None:
    _, status = get(server, "/_sim/status")
    assert status["seed"] == 42 and status["listed"] >= 100 and status["faults"] == "none"
    assert status["requests"]["/api/v1/contracts/active"] >= 1
