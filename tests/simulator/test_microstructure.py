"""The tape and the book agree with the candles exactly: what the platform reconciles."""


import numpy as np
import pytest

from simulator.config import SimulatorConfig
from simulator.exchange import Exchange, KlineQuery
from simulator.market import MINUTE_MS
from simulator.microstructure import Microstructure
from simulator.server import SimulatorServer
from simulator.universe import Contract
from tests.simulator.support import HOUR, MINUTE, NOW, data

NS = 1_000_000


@pytest.fixture(scope="module")
def exchange() -> Exchange:
    return Exchange(SimulatorConfig(n_contracts=700, now_ms=NOW))


def by_tier(exchange: Exchange) -> list[Contract]:
    """A listed contract of each tier, plus an inverse and a dated one."""
    listed = [c for c in exchange.universe if c.is_listed(NOW)]
    picks = [next(c for c in listed if c.tier == tier) for tier in range(1, 6)]
    return picks + [exchange.market.contracts["XBTUSDM"], exchange.market.contracts["XBTMZ26"]]


def test_each_closed_minute_trades_exactly_its_candle(exchange: Exchange) -> None:
    for c in by_tier(exchange):
        bars = exchange.market.candles(c, NOW - 2 * HOUR, NOW)
        tape = exchange.micro.minute_tape(c, bars)
        np.testing.assert_array_equal(np.bincount(tape.row, weights=tape.size, minlength=len(bars)), bars.volume, err_msg=c.symbol)
        assert np.all(tape.size >= 1) and np.all(np.diff(tape.trade_id) > 0) and np.all(np.diff(tape.ts_ns) > 0)
        for i in np.unique(tape.row):
            prices = tape.price[tape.row == i]
            assert (prices[0], prices[-1]) == (bars.open[i], bars.close[i]), c.symbol  # first at the open, last at the close
            assert (prices.max(), prices.min()) == (bars.high[i], bars.low[i]), c.symbol  # both extremes traded
            ticks = prices / c.tick_size
            np.testing.assert_allclose(ticks, np.round(ticks), atol=1e-6)
        minute_of = tape.ts_ns // (MINUTE_MS * NS) * MINUTE_MS
        np.testing.assert_array_equal(minute_of, bars.open_ms[tape.row])  # every trade inside its minute


def test_trade_counts_grow_with_liquidity(exchange: Exchange) -> None:
    counts = {}
    for c in by_tier(exchange)[:5]:
        bars = exchange.market.candles(c, NOW - HOUR, NOW)
        counts[c.tier] = len(exchange.micro.minute_tape(c, bars)) / len(bars)
    assert counts[1] > 100 and counts[5] < 10 and counts[1] > counts[3] > counts[5]


def test_a_minute_is_the_same_alone_in_a_window_or_in_another_process(exchange: Exchange) -> None:
    c = exchange.market.contracts["ETHUSDTM"]
    window = exchange.market.candles(c, NOW - 10 * MINUTE, NOW)
    fresh = Microstructure(Exchange(SimulatorConfig(n_contracts=60, now_ms=NOW)).market)
    alone = fresh.minute_tape(c, window.select(slice(4, 5)))
    whole = exchange.micro.minute_tape(c, window)
    inside = whole.select(whole.row == 4)
    for field in ("ts_ns", "price", "size", "buy", "trade_id", "taker_order", "maker_order"):
        np.testing.assert_array_equal(getattr(alone, field), getattr(inside, field))


def test_the_forming_minute_shows_its_trades_so_far(exchange: Exchange) -> None:
    c = exchange.market.contracts["XBTUSDTM"]
    later = Exchange(SimulatorConfig(n_contracts=60, now_ms=NOW + 25_000))
    during = later.micro.recent_trades(c, NOW + 25_000, 100)
    assert np.all(during.ts_ns <= (NOW + 25_000) * NS) and during.ts_ns[-1] > NOW * NS  # some of 12:00's trades
    full = later.micro.minute_tape(c, later.market.candles(c, NOW, NOW + MINUTE))
    np.testing.assert_array_equal(during.trade_id[during.ts_ns > NOW * NS], full.trade_id[full.ts_ns <= (NOW + 25_000) * NS])
    ticker = later.ticker("XBTUSDTM")
    assert float(ticker["price"]) == during.price[-1] and ticker["tradeId"] == str(during.trade_id[-1])


def test_ticker_and_books_sit_on_the_last_trade(exchange: Exchange) -> None:
    for c in by_tier(exchange):
        ticker = exchange.ticker(c.symbol)
        [last_minute] = exchange.klines(KlineQuery(c.symbol, 1, NOW - MINUTE, NOW))
        last_trade = exchange.trade_history(c.symbol)[0]
        assert ticker["price"] == last_trade["price"] and ticker["tradeId"] == last_trade["tradeId"]
        if last_minute[5] > 0:  # the clock is on a minute: the last trade is the last close
            assert float(ticker["price"]) == last_minute[4]
        bid, ask = float(ticker["bestBidPrice"]), float(ticker["bestAskPrice"])
        assert bid < ask and bid <= float(ticker["price"]) <= ask, c.symbol
        book = exchange.order_book(c.symbol, None)
        bids, asks = np.array(book["bids"]), np.array(book["asks"])
        assert bids[0, 0] < asks[0, 0] and (bids[0, 0], asks[0, 0]) == (bid, ask)
        assert np.all(np.diff(bids[:, 0]) < 0) and np.all(np.diff(asks[:, 0]) > 0) and np.all(bids[:, 0] > 0)
        assert bids[0, 1] == ticker["bestBidSize"] and asks[0, 1] == ticker["bestAskSize"]


def test_spreads_and_depth_follow_the_tier(exchange: Exchange) -> None:
    spreads = {}
    for c in by_tier(exchange)[:5]:
        book = exchange.order_book(c.symbol, 100)
        spreads[c.tier] = (book["asks"][0][0] - book["bids"][0][0]) / book["asks"][0][0]
        if c.tier == 1:
            assert round((book["asks"][0][0] - book["bids"][0][0]) / c.tick_size) <= 2  # a tick or two
    assert spreads[1] < spreads[3] < spreads[5] and spreads[5] > 5e-4


def test_all_tickers_agree_with_single_tickers(exchange: Exchange) -> None:
    tickers = exchange.all_tickers()
    assert len(tickers) == len(exchange.listed(NOW))
    for ticker in tickers[::25]:
        assert ticker == exchange.ticker(ticker["symbol"])


def test_funding_history_agrees_with_contracts_active(exchange: Exchange) -> None:
    for symbol in ("XBTUSDTM", next(c.symbol for c in exchange.universe if c.funding_granularity_ms == 4 * HOUR and c.is_listed(NOW))):
        contract = exchange.contract_detail(symbol)
        settles = contract["nextFundingRateDateTime"]
        after = Exchange(SimulatorConfig(n_contracts=700, now_ms=settles + MINUTE))
        [settled, *older] = after.funding_history(symbol, settles - 24 * HOUR, settles + MINUTE)
        assert (settled["timepoint"], settled["fundingRate"]) == (settles, contract["fundingFeeRate"])  # the rate it announced
        granularity = contract["fundingRateGranularity"]
        assert [h["timepoint"] for h in older] == [settles - k * granularity for k in range(1, len(older) + 1)]
        assert after.funding_current(symbol)["value"] == contract["predictedFundingFeeRate"]


def test_trades_of_an_illiquid_contract_over_http_sum_to_its_candles() -> None:
    with SimulatorServer(SimulatorConfig(n_contracts=300, now_ms=NOW)) as server:
        active = data(server.url, "/api/v1/contracts/active")
        symbol = next(c["symbol"] for c in active if c["maxLeverage"] == 20)  # a tier-4 contract: 100 trades span minutes
        trades = data(server.url, f"/api/v1/trade/history?symbol={symbol}")
        minutes: dict[int, int] = {}
        for trade in trades:
            minutes[trade["ts"] // (MINUTE * NS) * MINUTE] = minutes.get(trade["ts"] // (MINUTE * NS) * MINUTE, 0) + trade["size"]
        whole = sorted(minutes)[1:]  # the oldest minute may be cut by the 100-trade window
        assert len(whole) >= 3
        klines = {row[0]: row for row in data(server.url, f"/api/v1/kline/query?symbol={symbol}&granularity=1&from={whole[0]}&to={whole[-1]}")}
        for minute in whole:
            assert minutes[minute] == klines[minute][5]
            prices = [float(t["price"]) for t in trades if t["ts"] // (MINUTE * NS) * MINUTE == minute]
            assert klines[minute][3] <= min(prices) <= max(prices) <= klines[minute][2]
        ticker = data(server.url, f"/api/v1/ticker?symbol={symbol}")
        assert ticker["price"] == trades[0]["price"]
