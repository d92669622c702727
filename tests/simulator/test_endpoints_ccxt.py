"""Every market-data endpoint as ccxt's kucoinfutures calls and parses it, over real HTTP."""

import asyncio
from collections.abc import Iterator
from typing import Any

import ccxt
import pytest

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.simulator.support import HOUR, MINUTE, NOW, data, fetch, kucoinfutures

BTC = "BTC/USDT:USDT"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorConfig(n_contracts=300, now_ms=NOW)) as running:
        yield running


def call(server: SimulatorServer, method: str, *args: Any, **kwargs: Any) -> Any:
    async def scenario() -> Any:
        async with kucoinfutures(server.url) as exchange:
            await exchange.load_markets()
            return await getattr(exchange, method)(*args, **kwargs)

    return asyncio.run(scenario())


def test_fetch_ticker_reads_the_last_trade_and_the_touch(server: SimulatorServer) -> None:
    ticker = call(server, "fetch_ticker", BTC)
    info = ticker["info"]
    assert ticker["timestamp"] == NOW and info["ts"] == NOW * 1_000_000  # ns on the wire
    assert ticker["last"] == float(info["price"]) and isinstance(info["price"], str)
    assert ticker["bid"] < ticker["ask"] and ticker["bid"] <= ticker["last"] <= ticker["ask"]
    assert isinstance(info["size"], int) and info["size"] >= 1 and info["side"] in ("buy", "sell")
    assert info["tradeId"] == str(info["sequence"])


def test_fetch_tickers_through_all_tickers(server: SimulatorServer) -> None:
    tickers = call(server, "fetch_tickers", params={"method": "futuresPublicGetAllTickers"})
    listed = data(server.url, "/api/v1/contracts/active")
    assert len(tickers) == len(listed) > 200
    assert tickers[BTC]["last"] == call(server, "fetch_ticker", BTC)["last"]
    assert all(t["bid"] < t["ask"] for t in tickers.values())


@pytest.mark.parametrize(("limit", "levels"), [(20, 20), (100, 100), (None, 500)])
def test_fetch_order_book_at_each_depth(server: SimulatorServer, limit: int | None, levels: int) -> None:
    book = call(server, "fetch_order_book", BTC, limit)
    bids, asks = book["bids"], book["asks"]
    assert len(bids) == len(asks) == levels  # tier 1: a 500-level snapshot
    assert [b[0] for b in bids] == sorted((b[0] for b in bids), reverse=True) and [a[0] for a in asks] == sorted(a[0] for a in asks)
    assert bids[0][0] < asks[0][0] and book["timestamp"] == NOW
    assert all(size >= 1 and size == int(size) for _, size in bids + asks)


def test_fetch_trades_gives_the_last_hundred(server: SimulatorServer) -> None:
    trades = call(server, "fetch_trades", BTC)
    assert len(trades) == 100
    assert [t["timestamp"] for t in trades] == sorted(t["timestamp"] for t in trades) and trades[-1]["timestamp"] < NOW
    assert len({t["id"] for t in trades}) == 100
    assert trades[-1]["price"] == call(server, "fetch_ticker", BTC)["last"]
    assert all(t["amount"] >= 1 and t["cost"] == pytest.approx(t["price"] * t["amount"] * 0.001) for t in trades)


def test_fetch_funding_rate_matches_contracts_active(server: SimulatorServer) -> None:
    rate = call(server, "fetch_funding_rate", BTC)
    contract = data(server.url, "/api/v1/contracts/XBTUSDTM")
    assert rate["fundingRate"] == contract["fundingFeeRate"] and rate["interval"] == "8h"
    assert rate["fundingTimestamp"] == contract["nextFundingRateDateTime"] == NOW + 8 * HOUR  # 12:00 -> 20:00
    assert rate["previousFundingTimestamp"] == NOW and rate["info"]["predictedValue"] == contract["predictedFundingFeeRate"]


def test_fetch_funding_rate_history_newest_settlements(server: SimulatorServer) -> None:
    history = call(server, "fetch_funding_rate_history", BTC)
    times = [h["timestamp"] for h in history]
    assert len(history) == 100 and times == sorted(times) and times[-1] == NOW  # ccxt sorts oldest first
    assert all((t // HOUR) % 24 in (4, 12, 20) and t % HOUR == 0 for t in times)
    assert all(abs(h["fundingRate"]) <= 0.003 for h in history)


def test_fetch_mark_price(server: SimulatorServer) -> None:
    mark = call(server, "fetch_mark_price", BTC)
    contract = data(server.url, "/api/v1/contracts/XBTUSDTM")
    assert (mark["markPrice"], mark["indexPrice"]) == (contract["markPrice"], contract["indexPrice"])
    assert mark["info"]["timePoint"] == NOW and mark["info"]["granularity"] == 1000


def test_open_interest_history_on_the_unified_path(server: SimulatorServer) -> None:
    raw = call(server, "utaGetMarketOpenInterest", {"symbol": "XBTUSDTM", "interval": "5min", "startAt": NOW - HOUR, "endAt": NOW, "pageSize": 200})
    points = raw["data"]
    assert [p["ts"] for p in points] == [NOW - k * 5 * MINUTE for k in range(13)]  # newest first, both ends included
    assert all(isinstance(p["openInterest"], str) and int(p["openInterest"]) > 0 for p in points)
    assert points[0]["openInterest"] == data(server.url, "/api/v1/contracts/XBTUSDTM")["openInterest"]  # "now" agrees
    history = call(server, "fetch_open_interest_history", BTC, "1h", None, 3)
    assert [h["timestamp"] for h in history] == [NOW - 2 * HOUR, NOW - HOUR, NOW]


def test_open_interest_varies_smoothly_within_the_day(server: SimulatorServer) -> None:
    points = data(server.url, f"/api/ua/v1/market/open-interest?symbol=ETHUSDTM&interval=5min&startAt={NOW - 16 * HOUR}&endAt={NOW}&pageSize=200")
    values = [int(p["openInterest"]) for p in points]
    steps = [abs(a / b - 1) for a, b in zip(values, values[1:], strict=False)]
    assert max(steps) < 0.01 and max(values) / min(values) > 1.005  # moves, in small steps


def test_current_open_interest_of_several_symbols(server: SimulatorServer) -> None:
    rows = data(server.url, "/api/ua/v1/market/open-interest?symbol=XBTUSDTM,ETHUSDTM")
    active = {c["symbol"]: c["openInterest"] for c in data(server.url, "/api/v1/contracts/active")}
    assert [(r["symbol"], r["openInterest"], r["ts"]) for r in rows] == [(s, active[s], NOW) for s in ("XBTUSDTM", "ETHUSDTM")]


def test_dated_futures_have_no_funding_and_unknown_symbols_are_refused(server: SimulatorServer) -> None:
    assert data(server.url, "/api/v1/contract/funding-rates?symbol=XBTMZ26&from=0&to=" + str(NOW)) == []
    reply = fetch(server.url, "/api/v1/funding-rate/XBTMZ26/current")
    assert reply.status == 400 and reply.json()["code"] == "400100"
    for path in ("/api/v1/ticker?symbol=NOPEUSDTM", "/api/v1/level2/depth20?symbol=NOPEUSDTM", "/api/v1/trade/history",
                 "/api/ua/v1/market/open-interest?symbol=XBTUSDTM&interval=2min"):
        reply = fetch(server.url, path)
        assert (reply.status, reply.json()["code"]) == (400, "400100"), path
    with pytest.raises(ccxt.BadRequest):
        call(server, "fetch_open_interest_history", BTC, "1h", None, 500)  # pageSize beyond 200
