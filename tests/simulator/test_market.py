"""The simulated market: deterministic, random-access, internally consistent, realistic in cross-section."""

from datetime import UTC, datetime

import numpy as np
import pytest

from simulator.market import Market
from simulator.universe import DAY_MS, HOUR_MS, REFERENCE_MS, build_universe

NOW = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(42, build_universe(42, 700))


def test_a_window_is_the_same_whatever_was_computed_before(market: Market) -> None:
    c = market.contracts["ETHUSDTM"]
    later = market.candles(c, NOW - 3 * HOUR_MS, NOW)
    fresh = Market(42, build_universe(42, 700))  # nothing cached: this window is computed first
    again = fresh.candles(fresh.contracts["ETHUSDTM"], NOW - 3 * HOUR_MS, NOW)
    for field in ("open_ms", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(again, field), getattr(later, field))


def test_another_seed_gives_another_market() -> None:
    a, b = Market(1, build_universe(1, 60)), Market(2, build_universe(2, 60))
    bars_a = a.candles(a.contracts["XBTUSDTM"], NOW - HOUR_MS, NOW)
    bars_b = b.candles(b.contracts["XBTUSDTM"], NOW - HOUR_MS, NOW)
    assert not np.array_equal(bars_a.close, bars_b.close)


def test_a_smaller_universe_is_a_prefix_with_the_same_prices() -> None:
    small, large = build_universe(42, 300), build_universe(42, 700)
    assert large[:300] == small
    a, b = Market(42, small), Market(42, large)
    symbol = small[-1].symbol
    np.testing.assert_array_equal(
        a.candles(a.contracts[symbol], NOW - HOUR_MS, NOW).close, b.candles(b.contracts[symbol], NOW - HOUR_MS, NOW).close
    )


def test_candles_are_consistent_and_join_exactly(market: Market) -> None:
    for c in build_universe(42, 700)[:80]:
        bars = market.candles(c, NOW - 3 * DAY_MS, NOW)
        if len(bars) == 0:
            continue
        assert np.all(np.diff(bars.open_ms) == MINUTE), c.symbol  # every minute while listed, in order
        np.testing.assert_array_equal(bars.open[1:], bars.close[:-1])  # opens on the previous close, across days
        assert np.all(bars.high >= np.maximum(bars.open, bars.close)) and np.all(bars.low <= np.minimum(bars.open, bars.close))
        assert np.all(bars.low > 0) and np.all(bars.volume >= 0) and np.all(bars.volume == np.floor(bars.volume))
        ticks = bars.close / c.tick_size
        np.testing.assert_allclose(ticks, np.round(ticks), atol=1e-6)  # on the tick


def test_flat_candles_where_nothing_traded(market: Market) -> None:
    illiquid = next(c for c in build_universe(42, 700) if c.tier == 5 and c.trades_at(NOW - DAY_MS))
    bars = market.candles(illiquid, NOW - DAY_MS, NOW)
    idle = bars.volume == 0
    assert idle.any()
    assert np.all(bars.open[idle] == bars.close[idle]) and np.all(bars.high[idle] == bars.low[idle])


def test_prices_sit_on_their_reference_level(market: Market) -> None:
    btc = market.contracts["XBTUSDTM"]
    bars = market.candles(btc, REFERENCE_MS - MINUTE, REFERENCE_MS + MINUTE)
    assert bars.close[0] == btc.reference_price  # the walk passes through the reference price at midnight


def test_hourly_returns_are_correlated_more_within_a_sector(market: Market) -> None:
    start = NOW - 30 * DAY_MS
    listed = [c for c in build_universe(42, 700) if c.underlying is None and c.trades_at(start) and c.tier <= 4]
    returns = {
        c.symbol: np.diff(np.log(market.candles(c, start, NOW).aggregate(HOUR_MS).close)) for c in listed[:120]
    }
    sectors = {c.symbol: c.sector for c in listed[:120]}
    symbols = sorted(returns)
    corr = np.corrcoef(np.array([returns[s] for s in symbols]))
    same, other = [], []
    for i in range(len(symbols)):
        for j in range(i + 1, len(symbols)):
            (same if sectors[symbols[i]] == sectors[symbols[j]] else other).append(corr[i, j])
    assert 0.2 < np.mean(other) < np.mean(same) < 0.9  # a market factor for all, a sector factor on top


def test_inverse_and_dated_contracts_follow_the_perpetual(market: Market) -> None:
    perp, inverse, dated = (market.contracts[s] for s in ("XBTUSDTM", "XBTUSDM", "XBTMZ26"))
    t = NOW - HOUR_MS
    p, i, d = (market.candles(c, t, t + MINUTE).close[0] for c in (perp, inverse, dated))
    assert abs(i / p - 1) < 0.01  # same fair price, own minute noise
    assert 0 < d / p - 1 < 0.02  # contango of a quarterly a few weeks before expiry


def test_the_universe_lists_and_delists_over_time() -> None:
    universe = build_universe(42, 700)
    listed_now = {c.symbol for c in universe if c.is_listed(NOW)}
    listed_later = {c.symbol for c in universe if c.is_listed(NOW + 180 * DAY_MS)}
    assert len(listed_now) >= 500
    assert listed_later - listed_now and listed_now - listed_later  # new listings and delistings
    assert len({c.symbol for c in universe}) == len(universe)
