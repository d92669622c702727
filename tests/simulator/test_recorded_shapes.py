"""The simulator's payloads have KuCoin's recorded shapes: the same keys, and per key a JSON type
KuCoin was recorded sending (recursively, through nested objects and arrays). Null passes only
where a recording holds null."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.simulator.support import HOUR, NOW, fetch

RECORDED = Path(__file__).parents[1] / "fixtures" / "kucoin"


def _load(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def _recorded() -> dict[str, list[Any]]:
    """Recorded response bodies by the path the simulator serves them on."""
    sdk, funding, net = _load("futures_market_examples.json"), _load("futures_fundingfees_examples.json"), _load("kucoin_net_futures_fixtures.json")
    ccxt = _load("response_kucoinfutures.json")["methods"]
    raw, roq = _load("kucoin_raw_messages.json"), _load("roq_kucoin_futures_messages.json")
    book = [sdk["test_get_full_order_book_resp_model"], net["Endpoints/Futures/ExchangeData/GetAggregatedFullOrderBook.txt"]["response"],
            roq["json_order_book_ack::simple"], *(raw[f"l2_snapshot::{kind}"] for kind in ("linear_swap", "inverse_swap", "inverse_future"))]
    partial = [sdk["test_get_part_order_book_resp_model"], net["Endpoints/Futures/ExchangeData/GetAggregatedPartialOrderBook.txt"]["response"]]
    return {
        "/api/v1/ticker?symbol=XBTUSDTM": [sdk["test_get_ticker_resp_model"], ccxt["fetchTicker"][0]["httpResponse"],
                                           net["Endpoints/Futures/ExchangeData/GetTicker.txt"]["response"]],
        "/api/v1/allTickers": [sdk["test_get_all_tickers_resp_model"], net["Endpoints/Futures/ExchangeData/GetTickers.txt"]["response"]],
        "/api/v1/level2/snapshot?symbol=XBTUSDTM": book,
        "/api/v1/level2/depth20?symbol=XBTUSDTM": partial,
        "/api/v1/level2/depth100?symbol=XBTUSDTM": partial,
        "/api/v1/trade/history?symbol=XBTUSDTM": [sdk["test_get_trade_history_resp_model"], ccxt["fetchTrades"][0]["httpResponse"],
                                                  net["Endpoints/Futures/ExchangeData/GetTradeHistory.txt"]["response"]],
        "/api/v1/funding-rate/XBTUSDTM/current": [funding["test_get_current_funding_rate_resp_model"], ccxt["fetchFundingRate"][0]["httpResponse"],
                                                  net["Endpoints/Futures/ExchangeData/GetCurrentFundingRate.txt"]["response"]],
        f"/api/v1/contract/funding-rates?symbol=XBTUSDTM&from={NOW - 72 * HOUR}&to={NOW}": [
            funding["test_get_public_funding_history_resp_model"], net["Endpoints/Futures/ExchangeData/GetFundingRateHistory.txt"]["response"]],
        "/api/v1/mark-price/XBTUSDTM/current": [sdk["test_get_mark_price_resp_model"], net["Endpoints/Futures/ExchangeData/GetCurrentMarkPrice.txt"]["response"]],
        f"/api/ua/v1/market/open-interest?symbol=XBTUSDTM&interval=30min&startAt={NOW - 6 * HOUR}&endAt={NOW}": [
            net["Endpoints/Unified/ExchangeData/GetFuturesOpenInterest.txt"]["response"]],
    }


RECORDED_BODIES = _recorded()


def json_type(value: object) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "null")


class Shape:
    """The union of what recordings show at one place of a payload."""

    def __init__(self) -> None:
        self.types: set[str] = set()
        self.keys: dict[str, Shape] = {}
        self.items: Shape | None = None  # every element of the arrays recorded here
        self.lengths: set[int] = set()
        self.positions: dict[int, Shape] = {}  # element by position, for tuples such as [price, size]

    def add(self, value: Any) -> None:
        self.types.add(json_type(value))
        if isinstance(value, dict):
            for key, item in value.items():
                self.keys.setdefault(key, Shape()).add(item)
        elif isinstance(value, list):
            self.items = self.items or Shape()
            self.lengths.add(len(value))
            for i, item in enumerate(value):
                self.items.add(item)
                self.positions.setdefault(i, Shape()).add(item)

    def _element(self, value: list[Any], i: int) -> Shape:
        tuple_like = len(self.lengths) == 1 and len(value) in self.lengths
        assert self.items is not None
        return self.positions[i] if tuple_like else self.items

    def mismatches(self, value: Any, where: str = "data") -> list[str]:
        kind = json_type(value)
        if kind not in self.types:
            return [f"{where}: {kind}, recorded {sorted(self.types)}"]
        found = []
        if isinstance(value, dict) and "object" in self.types:
            if set(value) != set(self.keys):
                found.append(f"{where}: keys {sorted(set(value) ^ set(self.keys))} differ from the recorded ones")
            found += [m for key, item in value.items() if key in self.keys for m in self.keys[key].mismatches(item, f"{where}.{key}")]
        elif isinstance(value, list) and self.items is not None:
            found += [m for i, item in enumerate(value) for m in self._element(value, i).mismatches(item, f"{where}[{i}]")]
        return found


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorConfig(n_contracts=60, now_ms=NOW)) as running:
        yield running


@pytest.mark.parametrize("path", sorted(RECORDED_BODIES))
def test_payload_has_the_recorded_shape(server: SimulatorServer, path: str) -> None:
    recorded = RECORDED_BODIES[path]
    shape = Shape()
    for body in recorded:
        assert body["code"] == "200000"
        shape.add(body["data"])
    reply = fetch(server.url, path)
    assert reply.status == 200
    body = reply.json()
    assert body["code"] == "200000" and set(body) == {"code", "data"}
    assert body["data"], "the simulator served nothing to compare"
    mismatches = shape.mismatches(body["data"])
    assert not mismatches, "\n".join(mismatches[:10])
