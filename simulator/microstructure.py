"""The tape and the book beneath the candles: the trades each minute consists of, and the order book.

The platform reconciles trade volume with candle volume and the ticker's last price with the
candle close, so the tape is built from the candle, not the other way round. A minute's trades
are a function of its candle and counter-based draws keyed by (contract, minute) only, so any
minute's tape can be produced alone, in any order, by any process:

- sizes are whole lots that sum exactly to the candle's volume (each trade at least one lot);
- the first trade is at the open and the last at the close; the high and the low are each
  traded; the trades between follow a bridge through those anchors, clipped to the range and
  put on the tick;
- the count grows with volume (about volume**0.58: hundreds a minute on XBTUSDTM, one or two on
  an illiquid contract, none in a flat minute) and is never below what the range needs
  (market.trades_needed);
- a trade id is (minute since 1970) * 10 000 + its place in the minute: unique per contract and
  increasing in time, as KuCoin's sequence numbers are. It doubles as the trade's sequence;
- the taker side follows the tick: an uptick is a buy, a downtick a sell, an unchanged price a
  coin flip;
- times are uniform order statistics inside the minute, in nanoseconds, strictly increasing, and
  never on the minute's first nanosecond (a trade at t belongs to the minute that contains t).

The book at t is drawn around the last trade at or before t: that trade sits on the touch (the
ask after a buy, the bid after a sell); the spread and the spacing of levels widen with the
liquidity tier (a tick or two on tier 1, tenths of a percent on tier 5), and sizes decay away
from the touch with lognormal noise. It is redrawn every 100 ms of exchange time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from simulator.market import MINUTE_MS, Bars, Market, day_index, trades_needed
from simulator.rng import normals, stream_key, uniforms
from simulator.universe import Contract

MAX_TRADES_PER_MINUTE = 2_000  # per candle; ids leave room for duplicated replay rows of a minute
ID_STRIDE = 10_000
_MINUTE_SLOT = ID_STRIDE - 1  # per-minute draws use this id, which no trade reaches
_NORMAL_SALT = np.uint64(0x6A09E667F3BCC909)  # normals and uniforms of one key use different streams
_NS_PER_MS = 1_000_000
_MINUTE_NS = MINUTE_MS * _NS_PER_MS
LOOKBACK_DAYS = 7  # how far back the last trades are looked for

BOOK_STEP_MS = 100
_REL_SPREAD = {1: 1.0e-6, 2: 2.0e-5, 3: 1.2e-4, 4: 6.0e-4, 5: 2.5e-3}  # median spread / price
_MEAN_GAP_TICKS = {1: 1.15, 2: 1.6, 3: 3.0, 4: 6.0, 5: 14.0}  # mean distance between levels
BOOK_LEVELS = {1: 500, 2: 400, 3: 250, 4: 150, 5: 100}  # levels per side of the full snapshot


@dataclass(frozen=True)
class Tape:
    """Trades in time order; ``row`` is the index of the candle each belongs to."""

    ts_ns: np.ndarray
    price: np.ndarray
    size: np.ndarray
    buy: np.ndarray  # the taker bought
    trade_id: np.ndarray
    taker_order: np.ndarray
    maker_order: np.ndarray
    row: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ns)

    def select(self, mask: np.ndarray | slice) -> Tape:
        return Tape(*(getattr(self, f.name)[mask] for f in fields(self)))

    @staticmethod
    def concat(parts: list[Tape]) -> Tape:
        return Tape(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Tape))) if parts else _EMPTY_TAPE


_EMPTY_TAPE = Tape(*(np.empty(0, dtype=np.int64) for _ in range(8)))


@dataclass(frozen=True)
class Book:
    """One side per array pair: bids high to low, asks low to high; sizes in lots."""

    bid_price: np.ndarray
    bid_size: np.ndarray
    ask_price: np.ndarray
    ask_size: np.ndarray
    ts_ns: int
    sequence: int


def _ids(ids: np.ndarray, kind: int) -> np.ndarray:
    return (ids << 3) | kind


def _uniform(keys: np.ndarray, ids: np.ndarray, kind: int) -> np.ndarray:
    return uniforms(keys, _ids(ids, kind))


def _normal(keys: np.ndarray, ids: np.ndarray, kind: int) -> np.ndarray:
    return normals(keys ^ _NORMAL_SALT, _ids(ids, kind))


def _segment_cumsum(values: np.ndarray, scale: float, first: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each row's first element (rows are contiguous), on values
    quantised to 1/scale: integer sums are exact, so a minute's tape does not depend on which
    other minutes were drawn with it."""
    quanta = np.floor(values * scale).astype(np.int64) + 1
    total = np.cumsum(quanta)
    return total - (total[first] - quanta[first])


def trade_counts(bars: Bars, keys: np.ndarray) -> np.ndarray:
    """How many trades each candle consists of (zero where nothing traded)."""
    lots = np.floor(np.maximum(bars.volume, 0)).astype(np.int64)
    slot = (bars.open_ms // MINUTE_MS) * ID_STRIDE + _MINUTE_SLOT
    raw = np.floor(lots**0.58 * np.exp(0.35 * _normal(keys, slot, 0)) + _uniform(keys, slot, 1)).astype(np.int64)
    needed = trades_needed(bars.open, bars.high, bars.low, bars.close)
    return np.where(lots > 0, np.minimum(np.maximum(raw, needed), np.minimum(lots, MAX_TRADES_PER_MINUTE)), 0)


def tape(bars: Bars, tick: np.ndarray | float, decimals: np.ndarray | int, keys: np.ndarray | int) -> Tape:
    """The trades of the given candles (of one contract, or one candle per contract with per-row
    ``tick``, ``decimals`` and ``keys``). Candles must be in time order."""
    m = len(bars)
    keys = np.broadcast_to(np.asarray(keys, dtype=np.uint64), (m,))
    tick = np.broadcast_to(np.asarray(tick, dtype=float), (m,))
    scale = np.broadcast_to(10.0 ** np.asarray(decimals, dtype=float), (m,))
    n = trade_counts(bars, keys)
    total = int(n.sum())
    if total == 0:
        return _EMPTY_TAPE
    rows = np.flatnonzero(n)  # candles with trades
    n_r = n[rows]
    row = np.repeat(rows, n_r)
    first_r = np.cumsum(n_r) - n_r
    first = np.repeat(first_r, n_r)
    j = np.arange(total) - first
    last = first + n[row] - 1

    minute = bars.open_ms // MINUTE_MS
    # Duplicated candles of one minute (replay) continue the minute's numbering; a batch of
    # several contracts restarts it at each contract.
    new_minute = np.r_[True, (minute[rows][1:] != minute[rows][:-1]) | (keys[rows][1:] != keys[rows][:-1])]
    group_first = np.maximum.accumulate(np.where(new_minute, first_r, 0))
    ids = minute[row] * ID_STRIDE + np.repeat(first_r - group_first, n_r) + j
    k = keys[row]
    slot = minute * ID_STRIDE + _MINUTE_SLOT

    # sizes: one lot each plus the rest split by lognormal weights, exactly to the volume
    extra = (np.floor(np.maximum(bars.volume, 0)).astype(np.int64) - n)[row]
    weight = np.exp(1.1 * _normal(k, ids, 0))
    share = _segment_cumsum(weight, 2.0**24, first)
    cum = np.minimum(np.floor(share / share[last] * extra).astype(np.int64), extra)
    cum[j == n[row] - 1] = extra[j == n[row] - 1]
    previous = np.where(j == 0, 0, np.r_[0, cum[:-1]])
    size = 1 + cum - previous

    # times: uniform order statistics from exponential gaps, plus a tail gap to the minute's end
    gaps = -np.log(_uniform(k, ids, 1))
    elapsed = _segment_cumsum(gaps, 2.0**32, first)
    tail = np.floor(-np.log(_uniform(keys, slot, 5)) * 2.0**32).astype(np.int64)[row] + 1
    fraction = elapsed / (elapsed[last] + tail)
    span = _MINUTE_NS - n[row] - 1
    ts = bars.open_ms[row] * _NS_PER_MS + 1 + np.floor(fraction * span).astype(np.int64) + j

    price = _prices(bars, n, row, j, ids, k, keys, slot, tick, scale)
    prev = np.where(j == 0, np.nan, np.r_[np.nan, price[:-1]])
    buy = np.where(price > prev, True, np.where(price < prev, False, _uniform(k, ids, 3) < 0.5))
    taker = 10**17 + np.floor(_uniform(k, ids, 4) * 9e17).astype(np.int64)
    maker = 10**17 + np.floor(_uniform(k, ids, 5) * 9e17).astype(np.int64)
    return Tape(ts, price, size, buy, ids, taker, maker, row)


def _prices(
    bars: Bars, n: np.ndarray, row: np.ndarray, j: np.ndarray, ids: np.ndarray, k: np.ndarray,
    keys: np.ndarray, slot: np.ndarray, tick: np.ndarray, scale: np.ndarray,
) -> np.ndarray:
    """Trade prices: anchors at the open, the extremes and the close, a bridge between them."""
    o, h, lo_, c = bars.open, bars.high, bars.low, bars.close
    low = np.minimum.reduce([o, h, lo_, c])  # the range, even for a corrupt replayed candle
    high = np.maximum.reduce([o, h, lo_, c])
    inner_high = (h != o) & (h != c)
    inner_low = (lo_ != o) & (lo_ != c) & (lo_ != h)
    inner = np.minimum(inner_high.astype(np.int64) + inner_low, np.maximum(n - 2, 0))
    high_first = np.where(inner_high & inner_low, _uniform(keys, slot, 2) < 0.5, inner_high)
    e1 = np.where(inner == 0, o, np.where(high_first, h, lo_))
    e2 = np.where(inner == 2, np.where(high_first, lo_, h), e1)
    room = np.maximum(n - 2 - np.maximum(inner - 1, 0), 1)
    p1 = np.where(inner > 0, 1 + np.floor(_uniform(keys, slot, 3) * room).astype(np.int64), 0)
    p2 = np.where(inner == 2, p1 + 1 + np.floor(_uniform(keys, slot, 4) * np.maximum(n - 2 - p1, 1)).astype(np.int64), p1)
    e0 = np.where(n == 1, c, o)

    in0, in1 = j <= p1[row], (j > p1[row]) & (j <= p2[row])
    a_idx = np.where(in0, 0, np.where(in1, p1[row], p2[row]))
    b_idx = np.where(in0, p1[row], np.where(in1, p2[row], n[row] - 1))
    a_price = np.where(in0, e0[row], np.where(in1, e1[row], e2[row]))
    b_price = np.where(in0, e1[row], np.where(in1, e2[row], c[row]))
    f = (j - a_idx) / np.maximum(b_idx - a_idx, 1)
    bridge = np.sqrt(np.clip(f * (1 - f), 0, None)) * 0.35 * (high - low)[row] * _normal(k, ids, 2)
    raw = np.clip(a_price + f * (b_price - a_price) + bridge, low[row], high[row])
    on_tick = np.rint(np.rint(raw / tick[row]) * tick[row] * scale[row]) / scale[row]
    price = np.clip(on_tick, low[row], high[row])
    at_p1 = (j == p1[row]) & (inner[row] >= 1)
    price[at_p1] = e1[row][at_p1]
    at_p2 = (j == p2[row]) & (inner[row] == 2)
    price[at_p2] = e2[row][at_p2]
    price[j == 0] = e0[row][j == 0]
    closing = j == n[row] - 1
    price[closing] = c[row][closing]
    return price


class Microstructure:
    """Trades and books of a market's contracts at any exchange time."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self._keys: dict[str, tuple[int, int]] = {}

    def _key(self, c: Contract) -> tuple[int, int]:
        keys = self._keys.get(c.symbol)
        if keys is None:
            keys = (stream_key(self.market.seed, c.symbol, "trades"), stream_key(self.market.seed, c.symbol, "book"))
            self._keys[c.symbol] = keys
        return keys

    def trade_key(self, c: Contract) -> int:
        """The stream key of the contract's trades (for drawing many contracts' tapes at once)."""
        return self._key(c)[0]

    def minute_tape(self, c: Contract, bars: Bars) -> Tape:
        """The trades of these candles of ``c`` (whole minutes)."""
        return tape(bars, c.tick_size, c.price_decimals, self._key(c)[0])

    def recent_trades(self, c: Contract, t_ms: int, count: int = 100) -> Tape:
        """The last ``count`` trades at or before ``t_ms``, oldest first (the forming minute's so far)."""
        cutoff = t_ms * _NS_PER_MS
        key = np.uint64(self._key(c)[0])
        parts: list[Tape] = []
        have = 0
        day = day_index(t_ms)
        for d in range(day, day - LOOKBACK_DAYS - 1, -1):
            bars = self.market.minute_bars(c.symbol, d)
            if len(bars) == 0:
                continue
            bars = bars.select(bars.open_ms <= t_ms) if d == day else bars
            closed = np.where(bars.open_ms + MINUTE_MS <= t_ms, trade_counts(bars, np.broadcast_to(key, (len(bars),))), 0)
            from_end = np.cumsum(closed[::-1])
            reach = int(np.searchsorted(from_end, count - have))  # rows from the end that suffice
            bars = bars.select(slice(max(0, len(bars) - reach - 1), None))
            trades = self.minute_tape(c, bars)
            trades = trades.select(trades.ts_ns <= cutoff)
            parts.insert(0, trades)
            have += len(trades)
            if have >= count:
                break
        trades = Tape.concat(parts)
        return trades.select(slice(max(0, len(trades) - count), None))

    def book(self, c: Contract, t_ms: int, levels: int | None = None, last: tuple[float, bool] | None = None) -> Book:
        """The order book at ``t_ms`` with ``levels`` per side (None: the full snapshot).

        ``last`` is the (price, taker bought) of the last trade at ``t_ms`` when the caller has it.
        """
        depth = BOOK_LEVELS[c.tier] if levels is None else min(levels, BOOK_LEVELS[c.tier])
        if last is None:
            trades = self.recent_trades(c, t_ms, 1)
            last = (float(trades.price[-1]), bool(trades.buy[-1])) if len(trades) else None
        # nothing traded in the look-back: quote around the fair price
        price, bought = last if last is not None else (self.market.fair_price(c, t_ms), True)
        [bid], [ask] = self._touch([c], t_ms, np.array([price]), np.array([bought]))
        key = np.uint64(self._key(c)[1])
        counters = (t_ms // BOOK_STEP_MS) * 4096 + 4 * np.arange(1, depth + 1)
        bid_ticks = bid - self._offsets(c, key, counters, 1)
        ask_ticks = ask + self._offsets(c, key, counters, 2)
        bid_ticks = bid_ticks[bid_ticks > 0]
        scale = 10.0**c.price_decimals
        return Book(
            bid_price=np.rint(bid_ticks * c.tick_size * scale) / scale,
            bid_size=self._sizes([c], key, counters[: len(bid_ticks)], np.array([price]), 3),
            ask_price=np.rint(ask_ticks * c.tick_size * scale) / scale,
            ask_size=self._sizes([c], key, counters, np.array([price]), 0),
            ts_ns=t_ms * _NS_PER_MS,
            sequence=int(t_ms // BOOK_STEP_MS),
        )

    def touches(self, contracts: list[Contract], t_ms: int, prices: np.ndarray, bought: np.ndarray) -> list[Book]:
        """The first level of each contract's book at ``t_ms`` (the same as book(c, t_ms, 1)), drawn
        for all contracts at once: what /allTickers needs."""
        bid, ask = self._touch(contracts, t_ms, prices, bought)
        keys = np.array([self._key(c)[1] for c in contracts], dtype=np.uint64)
        first = np.full(len(contracts), (t_ms // BOOK_STEP_MS) * 4096 + 4)
        bid_size = self._sizes(contracts, keys, first, prices, 3)
        ask_size = self._sizes(contracts, keys, first, prices, 0)
        step = int(t_ms // BOOK_STEP_MS)
        return [
            Book(np.rint(bid[i:i + 1] * c.tick_size * 10.0**c.price_decimals) / 10.0**c.price_decimals, bid_size[i:i + 1],
                 np.rint(ask[i:i + 1] * c.tick_size * 10.0**c.price_decimals) / 10.0**c.price_decimals, ask_size[i:i + 1],
                 t_ms * _NS_PER_MS, step)
            for i, c in enumerate(contracts)
        ]

    def _touch(self, contracts: list[Contract], t_ms: int, prices: np.ndarray, bought: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best bid and ask in ticks: the last trade on the touch, a spread drawn around the tier's."""
        keys = np.array([self._key(c)[1] for c in contracts], dtype=np.uint64)
        tick = np.array([c.tick_size for c in contracts])
        relative = np.array([_REL_SPREAD[c.tier] for c in contracts])
        base = np.full(len(contracts), (t_ms // BOOK_STEP_MS) * 4096)
        spread = np.maximum(1, np.rint(relative * prices / tick * np.exp(0.35 * _normal(keys, base, 0)))).astype(np.int64)
        touch = np.maximum(1, np.rint(prices / tick)).astype(np.int64)
        ask = np.where(bought, touch, touch + spread)
        bid = np.maximum(1, ask - spread)
        return bid, np.maximum(ask, bid + 1)

    @staticmethod
    def _offsets(c: Contract, key: np.uint64, counters: np.ndarray, kind: int) -> np.ndarray:
        """Distance in ticks of each level from the touch (0 for the first)."""
        gaps = 1 + np.floor(-np.log(uniforms(key, counters + kind)) * (_MEAN_GAP_TICKS[c.tier] - 1)).astype(np.int64)
        return np.cumsum(gaps) - gaps[0]

    @staticmethod
    def _sizes(contracts: list[Contract], keys: np.ndarray | np.uint64, counters: np.ndarray, prices: np.ndarray, kind: int) -> np.ndarray:
        """Lots at each level: a share of a minute's volume at the touch, decaying with depth.
        One contract over its levels (counters from the first level), or many contracts' first levels."""
        lot_usd = np.array([1.0 if c.is_inverse else c.multiplier for c in contracts]) * np.where(
            [c.is_inverse for c in contracts], 1.0, prices)
        per_minute = np.array([c.daily_turnover_usd for c in contracts]) / 1440.0 / np.maximum(lot_usd, 1e-12)
        decay = np.array([BOOK_LEVELS[c.tier] / 4 for c in contracts])
        level = (counters - counters[0]) // 4 if len(contracts) == 1 else np.zeros(len(counters))
        noise = np.exp(0.8 * normals(np.asarray(keys, dtype=np.uint64) ^ _NORMAL_SALT, counters + kind))
        return np.ceil(np.maximum(2.0, 0.05 * per_minute) * np.exp(-level / decay) * noise).astype(np.int64)
