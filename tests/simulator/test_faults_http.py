"""Each fault's effect over HTTP, and that the same profile corrupts the same requests and records every time."""

import asyncio
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import ccxt
import pytest

import simulator.faults as faults_module
from simulator.config import SimulatorConfig
from simulator.faults import FaultProfile, FaultSpecError, parse_faults
from simulator.hostile import HOSTILE_SYMBOLS
from simulator.server import SimulatorServer
from tests.simulator.support import HOUR, MINUTE, NOW, data, fetch, kucoinfutures

RECORD_FAULTS = ",".join(
    f"{record}_{kind}=0.08"
    for record, kinds in {
        "kline": ("gap", "duplicate", "out_of_order", "nan", "negative"),
        "trade": ("gap", "duplicate", "out_of_order", "nan", "negative"),
        "funding": ("gap", "duplicate", "out_of_order", "nan"),
        "oi": ("gap", "duplicate", "out_of_order", "nan", "negative"),
        "book": ("nan", "negative"),
        "ticker": ("nan", "negative"),
    }.items()
    for kind in kinds
) + ",book_crossed=1,hostile_symbols=12"
KLINES = f"/api/v1/kline/query?symbol=XBTUSDTM&granularity=1&from={NOW - 200 * MINUTE}&to={NOW}"
TRADES = "/api/v1/trade/history?symbol=XBTUSDTM"
FUNDING = f"/api/v1/contract/funding-rates?symbol=XBTUSDTM&from=0&to={NOW}"
OPEN_INTEREST = f"/api/ua/v1/market/open-interest?symbol=XBTUSDTM&interval=5min&endAt={NOW}&pageSize=200"


def serve(faults: str) -> SimulatorServer:
    return SimulatorServer(SimulatorConfig(n_contracts=30, now_ms=NOW, faults=parse_faults(faults), rate_limit_unified=10_000))


@pytest.fixture(scope="module")
def corrupt() -> Iterator[SimulatorServer]:
    with serve(RECORD_FAULTS) as running:
        yield running


def is_nan(value: Any) -> bool:
    return value is None or value == "NaN"


def test_record_faults_are_the_same_on_every_request(corrupt: SimulatorServer) -> None:
    for path in (KLINES, TRADES, FUNDING, OPEN_INTEREST, "/api/v1/allTickers", "/api/v1/level2/snapshot?symbol=XBTUSDTM"):
        assert fetch(corrupt.url, path).text == fetch(corrupt.url, path).text, path
    with serve(RECORD_FAULTS) as again:  # another process of the same profile and seed
        assert fetch(again.url, KLINES).text == fetch(corrupt.url, KLINES).text


def test_kline_faults(corrupt: SimulatorServer) -> None:
    rows = data(corrupt.url, KLINES)
    times = [r[0] for r in rows]
    assert set(range(NOW - 200 * MINUTE, NOW, MINUTE)) - set(times)  # gaps
    assert any(a == b for a, b in zip(rows, rows[1:], strict=False))  # a duplicated row
    assert any(b < a for a, b in zip(times, times[1:], strict=False))  # out of order
    assert any(is_nan(v) for r in rows for v in r[1:])
    assert any(isinstance(v, (int, float)) and v < 0 for r in rows for v in r[1:])


def test_trade_faults(corrupt: SimulatorServer) -> None:
    trades = data(corrupt.url, TRADES)
    ids = [int(t["tradeId"]) for t in trades]
    assert len(ids) != len(set(ids))  # duplicates
    assert any(b > a for a, b in zip(ids, ids[1:], strict=False))  # newest first, except where swapped
    unique = sorted(set(ids))
    assert any(b - a > 1 and a // 10_000 == b // 10_000 for a, b in zip(unique, unique[1:], strict=False))  # a trade missing in a minute
    assert any(is_nan(t["price"]) or t["size"] is None for t in trades)
    assert any((isinstance(t["size"], int) and t["size"] < 0) or str(t["price"]).startswith("-") for t in trades)


def test_ticker_book_funding_and_open_interest_faults(corrupt: SimulatorServer) -> None:
    tickers = data(corrupt.url, "/api/v1/allTickers")
    assert any(is_nan(t["price"]) or t["bestBidSize"] is None for t in tickers)
    assert any(str(t["price"]).startswith("-") or (isinstance(t["size"], int) and t["size"] < 0) for t in tickers)
    book = data(corrupt.url, "/api/v1/level2/snapshot?symbol=XBTUSDTM")
    assert book["bids"][0][0] >= book["asks"][0][0]  # crossed
    assert any(is_nan(p) for p, _ in book["bids"] + book["asks"]) and any(s < 0 for _, s in book["bids"] + book["asks"])
    funding = data(corrupt.url, FUNDING)
    stamps = [f["timepoint"] for f in funding]
    assert len(stamps) != len(set(stamps)) and any(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert any(is_nan(f["fundingRate"]) for f in funding) and any(a - b > 8 * HOUR for a, b in zip(stamps, stamps[1:], strict=False))
    points = data(corrupt.url, OPEN_INTEREST)
    values = [p["openInterest"] for p in points]
    assert any(is_nan(v) for v in values) and any(str(v).startswith("-") for v in values)
    assert len({p["ts"] for p in points}) < len(points) < 200 + 30


def test_hostile_symbols_are_listed_and_refused_elsewhere(corrupt: SimulatorServer) -> None:
    symbols = [c["symbol"] for c in data(corrupt.url, "/api/v1/contracts/active")]
    assert set(HOSTILE_SYMBOLS) <= set(symbols)
    for symbol in HOSTILE_SYMBOLS:
        quoted = urllib.parse.quote(symbol, safe="")
        detail = fetch(corrupt.url, f"/api/v1/contracts/{quoted}")
        if detail.status == 200:  # ids with a slash never reach the route: 404 like any unknown path
            assert detail.json()["data"]["symbol"] == symbol
        for path in (f"/api/v1/ticker?symbol={quoted}", f"/api/v1/kline/query?symbol={quoted}&granularity=1",
                     f"/api/v1/trade/history?symbol={quoted}"):
            reply = fetch(corrupt.url, path)
            assert (reply.status, reply.json()["code"]) == (400, "400100"), symbol
    assert fetch(corrupt.url, "/api/v1/contracts/" + urllib.parse.quote(HOSTILE_SYMBOLS[0], safe="")).status == 200
    assert fetch(corrupt.url, "/_sim/status").status == 200  # the simulator survived all of them


def valid_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def statuses(faults: str, count: int = 40, path: str = "/api/v1/timestamp") -> list[tuple[int, str]]:
    with serve(faults) as server:
        replies = [fetch(server.url, path) for _ in range(count)]
        injected = fetch(server.url, "/_sim/status").json()["transport_faults"]
    assert sum(injected.values()) == sum(r.status != 200 or not valid_json(r.text) for r in replies)
    return [(r.status, r.text) for r in replies]


def test_rate_limit_bursts() -> None:
    first = statuses("burst_429=0.08,burst_429_length=3")
    assert first == statuses("burst_429=0.08,burst_429_length=3")  # the same requests fail in every run
    codes = "".join("x" if s == 429 else "." for s, _ in first)
    runs = [len(run) for run in codes.split(".") if run]
    assert runs and all(n >= 3 for n in runs[:-1])  # runs of consecutive 429s (the last may be cut by the end)
    assert all(json.loads(text) == {"code": "429000", "msg": json.loads(text)["msg"]} for s, text in first if s == 429)


def test_server_errors() -> None:
    first = statuses("http_5xx=0.4")
    assert first == statuses("http_5xx=0.4")
    failed = {s for s, _ in first if s != 200}
    assert failed == {500, 502, 503}
    assert all(json.loads(t)["code"] == "500000" for s, t in first if s == 500)
    assert all("<html>" in t and str(s) in t for s, t in first if s in (502, 503))


def test_truncated_and_malformed_bodies() -> None:
    for fault in ("truncated=1", "malformed=1"):
        [(status, text)] = statuses(fault, 1, "/api/v1/contracts/XBTUSDTM")
        assert status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        if fault == "truncated=1":
            assert text.startswith('{"code":"200000","data":{"symbol":"XBTUSDTM"')


def test_slow_responses_time_out_a_short_client() -> None:
    with serve("slow=1,slow_ms=1200") as server:

        async def scenario() -> None:
            async with kucoinfutures(server.url, timeout=300) as exchange:
                await exchange.fetch_time()

        with pytest.raises(ccxt.RequestTimeout):
            asyncio.run(scenario())
        assert fetch(server.url, "/api/v1/timestamp", timeout=5).status == 200  # a patient client gets its answer


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("burst_429_length=0", "burst_429_length='0'.*a whole number between 1 and 1000"),
        ("slow_ms=700000", "slow_ms='700000'.*between 1 and 600000"),
        ("hostile_symbols=13", "hostile_symbols='13'.*between 0 and 12"),
        ("trade_nan=nan", "trade_nan='nan'.*a share between 0 and 1"),
    ],
)
def test_new_fault_rules_are_named_when_broken(text: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_faults(text)


def test_every_fault_round_trips_and_is_documented() -> None:
    transport = "burst_429=0.1,burst_429_length=7,http_5xx=0.01,slow=0.02,slow_ms=900,truncated=0.03,malformed=0.04"
    profile = parse_faults(f"{RECORD_FAULTS},{transport},crash_after_klines=9,ohlc_inverted=0.1")
    assert parse_faults(profile.describe()) == profile
    for field in FaultProfile.__dataclass_fields__:
        assert f"| `{field}` |" in (faults_module.__doc__ or ""), field
