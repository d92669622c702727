"""The simulated market: fair prices by the hour, traded 1-minute candles, and what follows from them.

Hourly fair log returns follow a factor model:

    r(c, h) = sigma(c, h) * (b_m * M(h) + b_s * S(sector, h) + b_i * E(c, h)) + jumps

with a market factor M, one factor per sector S, the contract's own shocks E, a weekly
volatility regime (calm / normal / stressed / crisis, a Markov chain), intraday and weekend
seasonality, and rare idiosyncratic and market-wide jumps. Every shock is a counter-based draw
(simulator.rng), so r(c, h) is computable for any hour alone.

A contract's log price at each UTC midnight is the sum of its hourly returns since listing;
those day anchors are computed once per contract in blocks of a year and cached (a few KB per
contract). Inside a day, hour boundaries are the anchor plus the day's cumulative returns, and
minutes fill each hour with a Brownian bridge driven by minute-level market, sector and
idiosyncratic shocks, so hourly returns are correlated across the universe the way the factor
model says, and minute paths join exactly at every hour and day boundary.

Traded candles add what an exchange shows: an intra-minute range, volume in lots with intraday
seasonality and a link to absolute returns, flat candles where nothing traded, and prices on the
contract's tick. A traded minute carries at least as many lots as the trades its range needs
(open, close, and each extreme that differs from them), so a tape of whole-lot trades can show
exactly the candle (simulator.microstructure). Contracts with an ``underlying`` (inverse and USDC perpetuals, dated futures)
share its fair price (dated futures plus a basis that decays to zero at expiry) and trade around
it with their own minute noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from simulator.rng import normals, stream_key, uniforms
from simulator.universe import DAY_MS, EPOCH_MS, HOUR_MS, REFERENCE_MS, SECTORS, Contract

MINUTE_MS = 60_000
MINUTES_PER_HOUR = 60
HOURS_PER_DAY = 24
_HOURS_PER_YEAR = 24 * 365
_BLOCK_DAYS = 365

# Relative activity by UTC hour (Asia open, a lull, the US session peak); volatility scales with
# its square root, volume with it.
_ACTIVITY = np.array(
    [0.95, 0.90, 0.85, 0.78, 0.72, 0.70, 0.72, 0.80, 0.90, 0.95, 1.00, 1.00,
     1.05, 1.25, 1.42, 1.38, 1.22, 1.10, 1.05, 1.00, 1.00, 0.97, 0.96, 0.95]
)
_ACTIVITY = _ACTIVITY / _ACTIVITY.mean()
_WEEKEND_VOL = 0.80
_WEEKEND_VOLUME = 0.65
_REGIME_LEVELS = np.array([0.70, 1.00, 1.55, 2.40])  # volatility multipliers: calm, normal, stressed, crisis
_REGIME_STAY = 0.86  # weekly probability of staying in the current regime
_IDIO_JUMPS_PER_YEAR = 5.0
_MARKET_JUMPS_PER_YEAR = 3.0
_DATED_ANNUAL_BASIS = 0.06  # contango of the quarterlies over the perpetual, decaying to expiry


@dataclass(frozen=True)
class Bars:
    """Candles in time order: open times in ms, OHLC on the tick, volume in lots."""

    open_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.open_ms)

    def select(self, mask: np.ndarray | slice) -> Bars:
        return Bars(self.open_ms[mask], self.open[mask], self.high[mask], self.low[mask], self.close[mask], self.volume[mask])

    @staticmethod
    def concat(parts: Sequence[Bars]) -> Bars:
        if not parts:
            return _EMPTY
        return Bars(*(np.concatenate([getattr(p, f) for p in parts]) for f in _BAR_FIELDS))

    def aggregate(self, bucket_ms: int, align_ms: int = 0) -> Bars:
        """Candles of ``bucket_ms`` from these (consecutive) ones; buckets start at align_ms + k * bucket_ms."""
        if len(self) == 0:
            return self
        buckets = (self.open_ms - align_ms) // bucket_ms
        starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
        ends = np.r_[starts[1:], len(self)] - 1
        return Bars(
            buckets[starts] * bucket_ms + align_ms,
            self.open[starts],
            np.maximum.reduceat(self.high, starts),
            np.minimum.reduceat(self.low, starts),
            self.close[ends],
            np.add.reduceat(self.volume, starts),
        )


_BAR_FIELDS = ("open_ms", "open", "high", "low", "close", "volume")
_EMPTY = Bars(np.empty(0, np.int64), *(np.empty(0) for _ in range(5)))


def trades_needed(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Fewest trades that show a candle: one if it is flat, else the open, the close, and each
    extreme that is neither (a trade is at least one lot, so this is also its least volume)."""
    inner_high = (high != open_) & (high != close)
    inner_low = (low != open_) & (low != close) & (low != high)
    flat = (open_ == close) & ~inner_high & ~inner_low
    return np.where(flat, 1, 2 + inner_high.astype(np.int64) + inner_low.astype(np.int64))


class CandleSource(Protocol):
    """Recorded 1-minute candles that replace the simulated ones of some symbols (replay mode)."""

    def __contains__(self, symbol: object) -> bool: ...

    def day_bars(self, symbol: str, day: int) -> Bars: ...

    def price_at(self, symbol: str, ms: int) -> float: ...


def hour_index(ms: int) -> int:
    return (ms - EPOCH_MS) // HOUR_MS


def day_index(ms: int) -> int:
    return (ms - EPOCH_MS) // DAY_MS


class Market:
    """Prices and candles of a universe under one seed. Thread-compatible: caches only grow.

    With a ``replay`` source, the symbols it holds trade its candles instead of simulated ones, and
    their fair price is their last close.
    """

    def __init__(self, seed: int, contracts: Sequence[Contract], replay: CandleSource | None = None) -> None:
        self.seed = seed
        self.contracts = {c.symbol: c for c in contracts}
        self.replay = replay
        self._regimes = np.empty(0)
        self._factor_series: dict[int, np.ndarray] = {}  # hourly shocks of the market and sector factors
        self._anchors: dict[str, np.ndarray] = {}  # log price at each UTC midnight from the listing day on
        self._market_key = stream_key(seed, "market")
        self._sector_keys = {s: stream_key(seed, "sector", s) for s in SECTORS}
        self.minute_bars = lru_cache(maxsize=8192)(self._minute_bars)
        self._minute_factors = lru_cache(maxsize=64)(self._compute_minute_factors)

    # -- fair prices ---------------------------------------------------------------------------

    def regime(self, hours: np.ndarray) -> np.ndarray:
        """Volatility multiplier of the weekly regime each hour falls in."""
        weeks = hours // (7 * HOURS_PER_DAY)
        needed = int(weeks.max()) + 1 if len(weeks) else 0
        if needed > len(self._regimes):
            self._extend_regimes(needed)
        return self._regimes[weeks]

    def _extend_regimes(self, weeks: int) -> None:
        # A Markov chain is sequential, but its length is tiny (52 a year): extend it to the
        # week needed; the draws are counter-based, so the chain is the same however it grows.
        states = np.empty(weeks, dtype=np.int64)
        state = 1
        draws = uniforms(stream_key(self.seed, "regime"), np.arange(2 * weeks)).reshape(weeks, 2)
        for week in range(weeks):
            if draws[week, 0] > _REGIME_STAY:
                state = int(np.clip(state + (1 if draws[week, 1] < 0.5 else -1), 0, len(_REGIME_LEVELS) - 1))
            states[week] = state
        self._regimes = _REGIME_LEVELS[states]

    def _factor(self, key: int, hours: np.ndarray) -> np.ndarray:
        """Hourly shocks of a shared factor: computed once per hour for the whole universe."""
        series = self._factor_series.get(key, np.empty(0))
        needed = int(hours.max()) + 1
        if needed > len(series):
            grown = max(needed, len(series) + _BLOCK_DAYS * HOURS_PER_DAY)
            series = np.concatenate([series, normals(key, np.arange(len(series), grown))])
            self._factor_series[key] = series
        return series[hours]

    def _hour_sigma(self, c: Contract, hours: np.ndarray) -> np.ndarray:
        hour_of_day = hours % HOURS_PER_DAY
        weekday = (hours // HOURS_PER_DAY + 2) % 7  # 2020-01-01 was a Wednesday; 5, 6 = Sat, Sun
        weekend = np.where(weekday >= 5, _WEEKEND_VOL, 1.0)
        return c.annual_vol / math.sqrt(_HOURS_PER_YEAR) * self.regime(hours) * np.sqrt(_ACTIVITY[hour_of_day]) * weekend

    def hourly_returns(self, c: Contract, hours: np.ndarray) -> np.ndarray:
        """Fair log return of each given hour for a contract with its own path (zero before listing)."""
        sigma = self._hour_sigma(c, hours)
        shocks = (
            c.market_loading * self._factor(self._market_key, hours)
            + c.sector_loading * self._factor(self._sector_keys[c.sector], hours)
            + c.idio_loading * normals(stream_key(self.seed, c.symbol, "hour"), hours)
        )
        # No convexity drift: the median price stays level over the years instead of decaying,
        # which keeps simulated prices in a plausible range for a decade.
        returns = sigma * shocks
        jumps = uniforms(stream_key(self.seed, c.symbol, "jump"), hours) < _IDIO_JUMPS_PER_YEAR / _HOURS_PER_YEAR
        if jumps.any():
            returns[jumps] += 0.06 * normals(stream_key(self.seed, c.symbol, "jump-size"), hours[jumps])
        crashes = uniforms(stream_key(self.seed, "market-jump"), hours) < _MARKET_JUMPS_PER_YEAR / _HOURS_PER_YEAR
        if crashes.any():
            size = -0.015 + 0.05 * normals(stream_key(self.seed, "market-jump-size"), hours[crashes])
            returns[crashes] += size * c.market_loading
        returns[hours < hour_index(c.listed_ms)] = 0.0
        return returns

    def _day_anchors(self, c: Contract, day: int) -> tuple[np.ndarray, float]:
        """The walk at midnight of each day from the listing day up to at least ``day``, and its shift.

        The walk starts at 0 at listing; adding the shift puts it on the contract's reference
        price at REFERENCE_MS (or at listing, when later). Boundaries are (walk + partial sums)
        + shift, evaluated in that order everywhere, so a day's last boundary equals the next
        day's first to the bit.
        """
        anchors = self._walk(c, self._anchors.get(c.symbol, np.zeros(1)), max(day, day_index(REFERENCE_MS)))
        self._anchors[c.symbol] = anchors
        reference_day = max(day_index(REFERENCE_MS), day_index(c.listed_ms))
        return anchors, math.log(c.reference_price) - float(anchors[reference_day - day_index(c.listed_ms)])

    def _walk(self, c: Contract, anchors: np.ndarray, day: int) -> np.ndarray:
        """``anchors`` (midnights from the listing day on) extended past ``day``, a year at a time.

        Day totals are summed hour by hour exactly as hour_boundaries() sums them, so a day's
        last boundary equals the next day's anchor to the bit.
        """
        first_day = day_index(c.listed_ms)
        while first_day + len(anchors) - 1 <= day:
            start_day = first_day + len(anchors) - 1
            hours = (start_day * HOURS_PER_DAY + np.arange(_BLOCK_DAYS * HOURS_PER_DAY)).reshape(_BLOCK_DAYS, HOURS_PER_DAY)
            day_totals = np.cumsum(self.hourly_returns(c, hours.ravel()).reshape(hours.shape), axis=1)[:, -1]
            anchors = np.concatenate([anchors, np.cumsum(np.r_[anchors[-1], day_totals])[1:]])
        return anchors

    def hour_boundaries(self, c: Contract, day: int) -> np.ndarray:
        """Fair log price at the 25 hour boundaries of ``day`` (00:00 .. 24:00 UTC)."""
        if c.underlying is not None:
            under = self.contracts.get(c.underlying)
            if under is None:
                raise KeyError(f"{c.symbol} follows {c.underlying}, which is not in the universe")
            boundaries = self.hour_boundaries(under, day)
            if c.delisted_ms is not None and c.contract_type == "FFICSX":
                hours = day * HOURS_PER_DAY + np.arange(HOURS_PER_DAY + 1)
                years_left = np.maximum(0.0, (c.delisted_ms - EPOCH_MS - hours * HOUR_MS) / (DAY_MS * 365.0))
                boundaries = boundaries + np.log1p(_DATED_ANNUAL_BASIS * years_left)
            return boundaries
        first_day = day_index(c.listed_ms)
        anchors, shift = self._day_anchors(c, max(day, first_day))
        if day < first_day:
            return np.full(HOURS_PER_DAY + 1, anchors[0] + shift)
        anchor = anchors[day - first_day]
        hours = day * HOURS_PER_DAY + np.arange(HOURS_PER_DAY)
        return np.r_[anchor, anchor + np.cumsum(self.hourly_returns(c, hours))] + shift

    def fair_price(self, c: Contract, ms: int) -> float:
        """Fair price at an instant, interpolated log-linearly inside the hour."""
        return float(self.fair_prices(c, np.array([ms]))[0])

    # -- traded candles ------------------------------------------------------------------------

    def _compute_minute_factors(self, day: int) -> dict[str, np.ndarray]:
        minutes = day * HOURS_PER_DAY * MINUTES_PER_HOUR + np.arange(HOURS_PER_DAY * MINUTES_PER_HOUR)
        factors = {"market": normals(stream_key(self.seed, "market-minute"), minutes)}
        for sector, key in self._sector_keys.items():
            factors[sector] = normals(stream_key(key, "minute"), minutes)
        return factors

    def _minute_bars(self, symbol: str, day: int) -> Bars:
        """The contract's traded 1-minute candles of one UTC day (only the minutes it trades)."""
        if self.replay is not None and symbol in self.replay:
            return self.replay.day_bars(symbol, day)
        c = self.contracts[symbol]
        day_start = EPOCH_MS + day * DAY_MS
        if not (c.listed_ms < day_start + DAY_MS and (c.delisted_ms is None or c.delisted_ms > day_start)):
            return _EMPTY
        n = HOURS_PER_DAY * MINUTES_PER_HOUR
        minutes = day * n + np.arange(n)
        hours = day * HOURS_PER_DAY + np.arange(HOURS_PER_DAY)
        boundaries = self.hour_boundaries(c, day)
        factors = self._minute_factors(day)
        own = stream_key(self.seed, c.symbol, "minute")
        shocks = (
            c.market_loading * factors["market"]
            + c.sector_loading * factors[c.sector]
            + c.idio_loading * normals(own, minutes)
        )
        # a per-minute volatility mixing gives minute returns their fat tails
        mixing = np.exp(0.45 * normals(stream_key(own, "mix"), minutes) - 0.10)
        sigma_minute = np.repeat(self._hour_sigma(c, hours), MINUTES_PER_HOUR) / math.sqrt(MINUTES_PER_HOUR) * mixing
        walk = np.cumsum((sigma_minute * shocks).reshape(HOURS_PER_DAY, MINUTES_PER_HOUR), axis=1)
        fraction = np.arange(1, MINUTES_PER_HOUR + 1) / MINUTES_PER_HOUR
        hour_returns = np.diff(boundaries)
        bridge = walk - fraction * (walk[:, -1:] - hour_returns[:, None])
        log_close = boundaries[:-1, None] + bridge
        log_close[:, -1] = boundaries[1:]  # exactly on the hour boundary: minutes join the fair path
        close = np.exp(log_close.ravel())

        lot_usd = 1.0 if c.is_inverse else close * c.multiplier
        weekday = (day + 2) % 7
        activity = np.repeat(_ACTIVITY, MINUTES_PER_HOUR) * (_WEEKEND_VOLUME if weekday >= 5 else 1.0)
        intensity = (0.35 + 0.65 * np.abs(shocks) * mixing) * np.exp(0.35 * normals(stream_key(own, "volume"), minutes) - 0.06)
        regime = np.repeat(self.regime(hours), MINUTES_PER_HOUR) ** 0.7
        expected_lots = c.daily_turnover_usd / n / lot_usd * activity * regime * intensity
        volume = np.floor(expected_lots + uniforms(stream_key(own, "lots"), minutes))
        # Each hour's last minute trades: candles rejoin the fair path on every hour, and the next
        # day opens exactly on this day's close.
        last_of_hour = slice(MINUTES_PER_HOUR - 1, None, MINUTES_PER_HOUR)
        volume[last_of_hour] = np.maximum(volume[last_of_hour], 1.0)

        # Where nothing traded the candle is flat at the last traded price.
        traded = volume > 0
        last_trade = np.maximum.accumulate(np.where(traded, np.arange(n), -1))
        open_price = math.exp(boundaries[0])
        close = np.where(last_trade >= 0, close[np.maximum(last_trade, 0)], open_price)
        open_ = np.r_[open_price, close[:-1]]
        excursion = sigma_minute * 0.6
        up = excursion * -np.log(uniforms(stream_key(own, "high"), minutes))
        down = excursion * -np.log(uniforms(stream_key(own, "low"), minutes))
        high = np.where(traded, np.maximum(open_, close) * np.exp(up), open_)
        low = np.where(traded, np.minimum(open_, close) * np.exp(-down), open_)

        open_, high, low, close = (self._on_tick(c, p) for p in (open_, high, low, close))
        volume = np.where(traded, np.maximum(volume, trades_needed(open_, high, low, close)), 0.0)
        bars = Bars(EPOCH_MS + minutes * MINUTE_MS, open_, high, low, close, volume)
        open_ms = bars.open_ms
        trading = (open_ms >= c.listed_ms) & ((open_ms < c.delisted_ms) if c.delisted_ms is not None else True)
        return bars if trading.all() else bars.select(trading)

    @staticmethod
    def _on_tick(c: Contract, prices: np.ndarray) -> np.ndarray:
        ticks = np.maximum(np.round(prices / c.tick_size), 1.0)
        return np.round(ticks * c.tick_size, c.price_decimals)

    def candles(self, c: Contract, start_ms: int, end_ms: int) -> Bars:
        """1-minute candles with open time in [start_ms, end_ms)."""
        if end_ms <= start_ms:
            return _EMPTY
        days = range(day_index(start_ms), day_index(end_ms - 1) + 1)
        bars = Bars.concat([self.minute_bars(c.symbol, d) for d in days])
        return bars.select((bars.open_ms >= start_ms) & (bars.open_ms < end_ms))

    # -- exchange statistics -------------------------------------------------------------------

    def funding_rate(self, c: Contract, settlement_ms: int) -> float:
        """Funding rate settled at ``settlement_ms``: a premium that leans with the period's return."""
        return float(self.funding_rates(c, np.array([settlement_ms]))[0])

    def funding_rates(self, c: Contract, settlements_ms: np.ndarray) -> np.ndarray:
        """Funding rates of many settlements in one pass (the same numbers as funding_rate, bit for bit)."""
        assert c.funding_granularity_ms is not None
        period_hours = c.funding_granularity_ms // HOUR_MS
        end_hours = (np.asarray(settlements_ms, dtype=np.int64) - EPOCH_MS) // HOUR_MS
        if c.underlying is None:
            hours = (end_hours[:, None] - period_hours + np.arange(period_hours)).ravel()
            drift = self.hourly_returns(c, hours).reshape(len(end_hours), period_hours).sum(axis=1)
        else:
            drift = np.zeros(len(end_hours))
        noise = normals(stream_key(self.seed, c.symbol, "funding"), end_hours)
        cap = 0.003 if c.tier <= 2 else 0.02
        rate = 0.0001 * period_hours / 8 + 0.00015 * noise + 0.005 * drift
        return np.round(np.clip(rate, -cap, cap), 6)

    def fair_prices(self, c: Contract, ms: np.ndarray) -> np.ndarray:
        """Fair prices at many instants (one hour-boundary computation per day touched); a
        replayed symbol's is its last close."""
        ms = np.asarray(ms, dtype=np.int64)
        if self.replay is not None and c.symbol in self.replay:
            return np.array([self.replay.price_at(c.symbol, int(t)) for t in ms])
        days = (ms - EPOCH_MS) // DAY_MS
        offsets = (ms - EPOCH_MS - days * DAY_MS) / HOUR_MS
        hours = np.minimum(offsets.astype(np.int64), HOURS_PER_DAY - 1)
        log_price = np.empty(len(ms))
        for day in np.unique(days):
            at = days == day
            b = self.hour_boundaries(c, int(day))
            h = hours[at]
            log_price[at] = b[h] + (offsets[at] - h) * (b[h + 1] - b[h])
        return np.exp(log_price)

    def open_interest_lots(self, c: Contract, ms: int, price: float) -> int:
        """Open interest in lots: about a third of a day's turnover, swinging slowly."""
        return int(self.open_interest_series(c, np.array([ms]), np.array([price]))[0])

    def open_interest_series(self, c: Contract, ms: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """Open interest in lots at many instants: a 23-day swing, a daily drift between random
        knots joined smoothly (cosine), and an intraday wave, so consecutive 5-minute points differ
        by a fraction of a percent while days differ by several."""
        days = (np.asarray(ms, dtype=np.int64) - EPOCH_MS) / DAY_MS
        whole = np.floor(days).astype(np.int64)
        frac = days - whole
        key = stream_key(self.seed, c.symbol, "oi")
        phase = 2 * math.pi * float(uniforms(stream_key(self.seed, c.symbol, "oi-phase"), 0)[0])
        blend = (1 - np.cos(math.pi * frac)) / 2
        drift = normals(key, whole) * (1 - blend) + normals(key, whole + 1) * blend
        swing = 0.35 * np.sin(2 * math.pi * days / 23.0 + phase) + 0.12 * drift + 0.04 * np.sin(2 * math.pi * frac + phase)
        usd = c.daily_turnover_usd * 0.35 * np.exp(swing)
        lot_usd = 1.0 if c.is_inverse else np.asarray(prices, dtype=float) * c.multiplier
        return np.maximum(1, (usd / lot_usd).astype(np.int64))
