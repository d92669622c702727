"""KuCoin's weighted resource pools over HTTP: headers, 429000 when a pool is spent, a fresh window after the reset."""

import asyncio
import time

import ccxt
import pytest

from simulator.config import ConfigError, SimulatorConfig
from simulator.faults import parse_faults
from simulator.server import SimulatorProcess, SimulatorServer
from tests.simulator.support import NOW, fetch, kucoinfutures

WINDOW_MS = 2_000  # short for a fast test, long enough for a slow machine to spend the pool inside it


def test_a_spent_public_pool_answers_429_until_its_window_resets() -> None:
    config = SimulatorConfig(n_contracts=20, now_ms=NOW, rate_limit_public=20, rate_limit_public_window_ms=WINDOW_MS)
    with SimulatorServer(config) as server:
        replies = [fetch(server.url, "/api/v1/timestamp") for _ in range(11)]  # weight 2 each: ten fit in 20
        assert [r.status for r in replies] == [200] * 10 + [429]
        assert [int(r.headers["gw-ratelimit-remaining"]) for r in replies[:10]] == list(range(18, -1, -2))
        assert all(r.headers["gw-ratelimit-limit"] == "20" for r in replies)
        assert 0 < int(replies[-1].headers["gw-ratelimit-reset"]) <= WINDOW_MS
        assert replies[-1].json()["code"] == "429000" and replies[-1].json()["msg"].startswith("Too many requests.")
        assert fetch(server.url, "/_sim/status").status == 200  # /_sim is not counted

        async def through_ccxt() -> None:
            async with kucoinfutures(server.url) as exchange:
                await exchange.fetch_time()

        with pytest.raises(ccxt.RateLimitExceeded):
            asyncio.run(through_ccxt())
        time.sleep(int(replies[-1].headers["gw-ratelimit-reset"]) / 1000 + 0.05)
        again = fetch(server.url, "/api/v1/ticker?symbol=XBTUSDTM")
        assert again.status == 200 and again.headers["gw-ratelimit-remaining"] == "18"  # a new window from this request
        asyncio.run(through_ccxt())
        status = fetch(server.url, "/_sim/status").json()
        assert status["rate_limits"]["public"] | {"reset_ms": 0} == {
            "limit": 20, "window_ms": WINDOW_MS, "used": 4, "remaining": 16, "reset_ms": 0, "refused": 2,
        }
        assert status["refused"] == 2


def test_weights_follow_kucoins_table_and_open_interest_uses_the_unified_pool() -> None:
    config = SimulatorConfig(n_contracts=20, now_ms=NOW, rate_limit_unified=25)
    with SimulatorServer(config) as server:
        spent = {}
        for path in ("/api/v1/contracts/active", "/api/v1/kline/query?symbol=XBTUSDTM&granularity=1", "/api/v1/ticker?symbol=XBTUSDTM",
                     "/api/v1/allTickers", "/api/v1/level2/depth20?symbol=XBTUSDTM", "/api/v1/level2/depth100?symbol=XBTUSDTM",
                     "/api/v1/level2/snapshot?symbol=XBTUSDTM", "/api/v1/trade/history?symbol=XBTUSDTM",
                     "/api/v1/funding-rate/XBTUSDTM/current", "/api/v1/contract/funding-rates?symbol=XBTUSDTM",
                     "/api/v1/mark-price/XBTUSDTM/current", "/api/v1/status", "/api/v1/contracts/XBTUSDTM"):
            before = fetch(server.url, "/api/v1/timestamp")
            reply = fetch(server.url, path)
            spent[path.split("?")[0]] = int(before.headers["gw-ratelimit-remaining"]) - int(reply.headers["gw-ratelimit-remaining"])
        assert spent == {
            "/api/v1/contracts/active": 3, "/api/v1/kline/query": 3, "/api/v1/ticker": 2, "/api/v1/allTickers": 5,
            "/api/v1/level2/depth20": 5, "/api/v1/level2/depth100": 10, "/api/v1/level2/snapshot": 3, "/api/v1/trade/history": 5,
            "/api/v1/funding-rate/XBTUSDTM/current": 2, "/api/v1/contract/funding-rates": 5, "/api/v1/mark-price/XBTUSDTM/current": 3,
            "/api/v1/status": 4, "/api/v1/contracts/XBTUSDTM": 3,
        }
        oi = "/api/ua/v1/market/open-interest?symbol=XBTUSDTM"
        first, second, third = (fetch(server.url, oi) for _ in range(3))
        assert (first.status, second.status, third.status) == (200, 200, 429)  # 10 each from 25
        assert first.headers["gw-ratelimit-limit"] == "25" and second.headers["gw-ratelimit-remaining"] == "5"
        assert fetch(server.url, "/api/v1/timestamp").status == 200  # the public pool is another pool
        assert fetch(server.url, "/_sim/status").json()["rate_limits"]["unified"]["refused"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_limit_public": 5}, "rate_limit_public=5: must be a weight between 10"),
        ({"rate_limit_unified_window_ms": 50}, "rate_limit_unified_window_ms=50: must be between 100"),
    ],
)
def test_pool_settings_are_validated(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimulatorConfig(**kwargs)  # type: ignore[arg-type]


def test_a_child_process_gets_every_setting() -> None:
    config = SimulatorConfig(
        n_contracts=10, now_ms=NOW, rate_limit_public=40, rate_limit_public_window_ms=5_000, rate_limit_unified=30,
        rate_limit_unified_window_ms=700, faults=parse_faults("hostile_symbols=2,slow_ms=50"),
    )
    with SimulatorProcess(config) as process:
        status = fetch(process.url, "/_sim/status").json()
        assert status["faults"] == "slow_ms=50,hostile_symbols=2"
        assert {name: (pool["limit"], pool["window_ms"]) for name, pool in status["rate_limits"].items()} == {
            "public": (40, 5_000), "unified": (30, 700),
        }
