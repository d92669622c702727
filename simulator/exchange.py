"""The simulated exchange's behaviour, independent of HTTP: what it lists, and what each endpoint returns.

Requests are answered the way KuCoin answers them (see ``../shared/kucoin/API.md``): klines are
the closed candles whose open time lies in [from, to], oldest first, at most one page of them;
an unaligned ``from`` starts at the next bucket; a bad parameter is a 400100 error naming it.

Everything follows from the seed and the exchange clock: the tape and the book at the clock's
``now`` (simulator.microstructure), funding on the settlement grid (simulator.funding), open
interest from the market model. Record faults are applied last, to what would be served.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from simulator import payloads
from simulator.config import SimulatorConfig
from simulator.corrupt import RecordFaults, nan_value, negated
from simulator.funding import next_settlement, settlements_between
from simulator.hostile import HOSTILE_SYMBOLS
from simulator.market import MINUTE_MS, Bars, Market, day_index
from simulator.microstructure import Book, Microstructure, Tape
from simulator.microstructure import tape as draw_tape
from simulator.payloads import DayStats, LastTrade
from simulator.replay import load_replay, replay_universe
from simulator.rng import stream_key, uniforms
from simulator.universe import DAY_MS, EPOCH_MS, Contract, build_universe

KLINE_GRANULARITIES = (1, 5, 15, 30, 60, 120, 240, 480, 720, 1440, 10080)  # minutes
OPEN_INTEREST_INTERVALS = {"5min": 5, "15min": 15, "30min": 30, "1hour": 60, "4hour": 240, "1day": 1440}  # minutes
OPEN_INTEREST_PAGE = (30, 200)  # default and largest pageSize
FUNDING_HISTORY_PAGE = 100  # settlements per funding-history answer (the newest in the range)
_MONDAY_MS = 4 * DAY_MS  # 1970-01-05, a Monday: weekly klines start on Mondays


class RequestRejected(Exception):
    """The exchange refuses a request: KuCoin's error code and message, and the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_parameter(message: str) -> RequestRejected:
    return RequestRejected(400, "400100", message)


@dataclass(frozen=True)
class KlineQuery:
    symbol: str
    granularity: int
    start_ms: int | None
    end_ms: int | None


@dataclass(frozen=True)
class OpenInterestQuery:
    """``symbols``: one or more ids; with an ``interval`` the history of the single symbol."""

    symbols: tuple[str, ...]
    interval: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    page_size: int | None = None


class Exchange:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        universe = build_universe(config.seed, config.n_contracts)
        self.replay = load_replay(config.replay) if config.replay is not None else None
        self.universe = replay_universe(self.replay, universe, config.seed) if self.replay is not None else universe
        self.market = Market(config.seed, self.universe, self.replay)
        self.micro = Microstructure(self.market)
        self.faults = RecordFaults(config.faults, config.seed)
        self._contracts = {c.symbol: c for c in self.universe}
        self._contract_ids = {c.symbol: i + 1 for i, c in enumerate(self.universe)}
        self._hostile = HOSTILE_SYMBOLS[: config.faults.hostile_symbols]
        self._active_cache: tuple[int, list[dict[str, Any]]] | None = None
        self._tickers_cache: tuple[int, list[dict[str, Any]]] | None = None
        self._candidates: tuple[int, int, Tape, np.ndarray] | None = None  # the minute's candidate tape of /allTickers

    def now(self) -> int:
        return self.config.now()

    def warm_up(self) -> None:
        """Compute what the first /contracts/active and /allTickers need (every listed contract's
        last day and its last minutes' trades) now, so they are answered well inside a client's timeout."""
        self.contracts_active()
        self.all_tickers()

    def listed(self, now_ms: int) -> list[Contract]:
        return [c for c in self.universe if c.is_listed(now_ms)]

    def contract(self, symbol: str) -> Contract:
        c = self._contracts.get(symbol)
        if c is None:
            raise bad_parameter(f"contract {symbol!r} does not exist")
        return c

    def _trading(self, symbol: str, now: int) -> Contract:
        c = self.contract(symbol)
        if not c.is_listed(now):
            raise bad_parameter(f"contract {symbol!r} is not listed")
        return c

    # -- contracts -------------------------------------------------------------------------------

    def contracts_active(self) -> list[dict[str, Any]]:
        now = self.now()
        minute = now // MINUTE_MS
        if self._active_cache is None or self._active_cache[0] != minute:
            listed = self.listed(now)
            objects = [self._contract_object(c, now) for c in listed]
            if self._hostile and listed:  # shaped like the first listed contract, under a hostile id
                stats = self._stats(listed[0], now)
                objects += [payloads.contract_object(replace(listed[0], symbol=s, base=s), stats, now) for s in self._hostile]
            self._active_cache = (minute, objects)
        return self._active_cache[1]

    def contract_detail(self, symbol: str) -> dict[str, Any]:
        if symbol in self._hostile:
            return next(c for c in self.contracts_active() if c["symbol"] == symbol)
        c = self.contract(symbol)
        now = self.now()
        if not c.is_listed(now):
            raise bad_parameter(f"contract {symbol!r} is not listed")
        return self._contract_object(c, now)

    def currencies(self) -> list[dict[str, Any]]:
        codes = sorted({code for c in self.listed(self.now()) for code in (c.base, c.quote, c.settle)})
        return [payloads.currency_object(code) for code in codes]

    # -- klines ----------------------------------------------------------------------------------

    def klines(self, query: KlineQuery) -> list[list[Any]]:
        c = self.contract(query.symbol)
        if query.granularity not in KLINE_GRANULARITIES:
            raise bad_parameter(f"granularity {query.granularity} is invalid: one of {', '.join(map(str, KLINE_GRANULARITIES))}")
        bucket_ms = query.granularity * MINUTE_MS
        align = _MONDAY_MS if query.granularity == 10080 else 0
        now = self.now()
        end = now if query.end_ms is None else query.end_ms
        start = end - self.config.kline_max_points * bucket_ms if query.start_ms is None else query.start_ms
        if start > end:
            raise bad_parameter(f"from={start} is after to={end}")
        first_bucket = -((align - start) // bucket_ms) * bucket_ms + align  # first bucket start >= start
        if query.start_ms is None:  # only `to`: the points closest to it
            first_bucket = max(first_bucket, end - (self.config.kline_max_points - 1) * bucket_ms)
        last_closed = (now - align) // bucket_ms * bucket_ms + align - bucket_ms
        last_bucket = min((end - align) // bucket_ms * bucket_ms + align, last_closed)
        last_bucket = min(last_bucket, first_bucket + (self.config.kline_max_points - 1) * bucket_ms)
        if last_bucket < first_bucket:
            return []
        minutes = self._inverted(c, self.market.candles(c, max(first_bucket, EPOCH_MS), last_bucket + bucket_ms))
        bars = minutes if query.granularity == 1 else minutes.aggregate(bucket_ms, align)
        rows: list[list[Any]] = payloads.kline_rows(bars)  # type: ignore[assignment]
        return self.faults.rows(
            "kline", c.symbol, rows, (bars.open_ms // MINUTE_MS).tolist(),
            nan=lambda row, v: _replaced(row, 1 + int(v * 5) % 5, nan_value(v * 5 % 1)),
            negative=lambda row, v: _replaced(row, 1 + int(v * 5) % 5, negated(row[1 + int(v * 5) % 5])),
        )

    # -- the tape and the book -------------------------------------------------------------------

    def trade_history(self, symbol: str) -> list[dict[str, Any]]:
        now = self.now()
        c = self._trading(symbol, now)
        tape = self.micro.recent_trades(c, now, 100)
        rows = payloads.trade_objects(c, self._contract_ids[c.symbol], tape)
        return self.faults.rows(
            "trade", c.symbol, rows, tape.trade_id[::-1].tolist(),
            nan=lambda row, v: {**row, **({"price": nan_value(v * 2 % 1)} if v < 2 / 3 else {"size": None})},
            negative=lambda row, v: {**row, **({"size": negated(row["size"])} if v < 0.5 else {"price": negated(row["price"])})},
        )

    def ticker(self, symbol: str) -> dict[str, Any]:
        now = self.now()
        c = self._trading(symbol, now)
        last = _last_trade(self.micro.recent_trades(c, now, 1)) or self._no_trade(c, now)
        return self._ticker(c, now, last, self.micro.book(c, now, 1, last=(last.price, last.buy)))

    def all_tickers(self) -> list[dict[str, Any]]:
        now = self.now()
        if self._tickers_cache is None or self._tickers_cache[0] != now:
            listed = self.listed(now)
            lasts = [last or self._no_trade(c, now) for c, last in zip(listed, self._last_trades(listed, now), strict=True)]
            books = self.micro.touches(listed, now, np.array([t.price for t in lasts]), np.array([t.buy for t in lasts]))
            self._tickers_cache = (now, [self._ticker(c, now, last, book) for c, last, book in zip(listed, lasts, books, strict=True)])
        return self._tickers_cache[1]

    def order_book(self, symbol: str, depth: int | None) -> dict[str, Any]:
        now = self.now()
        c = self._trading(symbol, now)
        return payloads.book_object(c, self._faulty_book(c, self.micro.book(c, now, depth)))

    # -- funding, mark price, open interest ------------------------------------------------------

    def funding_current(self, symbol: str) -> dict[str, Any]:
        now = self.now()
        c = self._trading(symbol, now)
        settles = next_settlement(c, now)
        if settles is None or c.funding_granularity_ms is None:
            raise bad_parameter(f"contract {symbol!r} is a dated future: it has no funding rate")
        rates = self.market.funding_rates(c, np.array([settles, settles + c.funding_granularity_ms]))
        value: float | str | None = float(rates[0])
        if self.faults.hit("funding", "nan", c.symbol, [settles])[0]:
            value = nan_value(float(self.faults.variant("funding", "nan", c.symbol, [settles])[0]))
        return payloads.funding_current_object(c, value, float(rates[1]), settles)

    def funding_history(self, symbol: str, start_ms: int | None, end_ms: int | None) -> list[dict[str, Any]]:
        now = self.now()
        c = self.contract(symbol)
        if start_ms is not None and end_ms is not None and start_ms > end_ms:
            raise bad_parameter(f"from={start_ms} is after to={end_ms}")
        end = now if end_ms is None else min(end_ms, now)
        start = 0 if start_ms is None else start_ms
        times = settlements_between(c, max(start, c.listed_ms), end)[-FUNDING_HISTORY_PAGE:]
        if c.delisted_ms is not None:
            times = times[times <= c.delisted_ms]
        rows = payloads.funding_history_objects(c, times, self.market.funding_rates(c, times)) if len(times) else []
        return self.faults.rows(
            "funding", c.symbol, rows, times[::-1].tolist(),
            nan=lambda row, v: {**row, "fundingRate": nan_value(v)},
        )

    def mark_price(self, symbol: str) -> dict[str, Any]:
        now = self.now()
        c = self._trading(symbol, now)
        stats = self._stats(c, now)
        return payloads.mark_price_object(c, stats.mark_price, stats.index_price, now)

    def open_interest(self, query: OpenInterestQuery) -> list[dict[str, Any]]:
        now = self.now()
        if query.interval is None:  # the current open interest of each symbol (no symbol: every listed one)
            rows = []
            for c in [self._trading(s, now) for s in query.symbols] if query.symbols else self.listed(now):
                lots = self.market.open_interest_series(c, np.array([now]), np.array([self.market.fair_price(c, now)]))
                rows += payloads.open_interest_objects(np.array([now]), lots, c.symbol)
            return rows
        if len(query.symbols) != 1:
            raise bad_parameter("open-interest history takes one symbol")
        c = self.contract(query.symbols[0])
        minutes = OPEN_INTEREST_INTERVALS.get(query.interval)
        if minutes is None:
            raise bad_parameter(f"interval {query.interval!r} is invalid: one of {', '.join(OPEN_INTEREST_INTERVALS)}")
        page = OPEN_INTEREST_PAGE[0] if query.page_size is None else query.page_size
        if not 1 <= page <= OPEN_INTEREST_PAGE[1]:
            raise bad_parameter(f"pageSize {page} is invalid: between 1 and {OPEN_INTEREST_PAGE[1]}")
        step = minutes * MINUTE_MS
        end = now if query.end_ms is None else min(query.end_ms, now)
        if c.delisted_ms is not None:
            end = min(end, c.delisted_ms)
        start = max(c.listed_ms, query.start_ms if query.start_ms is not None else end - (page - 1) * step)
        if query.start_ms is not None and query.end_ms is not None and query.start_ms > query.end_ms:
            raise bad_parameter(f"startAt={query.start_ms} is after endAt={query.end_ms}")
        last, first = end // step, -(-start // step)
        times = np.arange(max(first, last - page + 1), last + 1, dtype=np.int64)[::-1] * step
        if len(times) == 0:
            return []
        lots = self.market.open_interest_series(c, times, self.market.fair_prices(c, times))
        rows = payloads.open_interest_objects(times, lots)
        return self.faults.rows(
            "oi", c.symbol, rows, times.tolist(),
            nan=lambda row, v: {**row, "openInterest": nan_value(v)},
            negative=lambda row, v: {**row, "openInterest": negated(row["openInterest"])},
        )

    # -- internals -------------------------------------------------------------------------------

    def _stats(self, c: Contract, now: int) -> DayStats:
        closed_until = now // MINUTE_MS * MINUTE_MS
        bars = self.market.candles(c, closed_until - DAY_MS, closed_until)
        fair = self.market.fair_price(c, now)
        settles = next_settlement(c, now)
        rates = (
            self.market.funding_rates(c, np.array([settles, settles + c.funding_granularity_ms]))
            if settles is not None and c.funding_granularity_ms is not None else None
        )
        return DayStats.from_bars(
            c, bars, fair,
            open_interest_lots=self.market.open_interest_lots(c, now, fair),
            funding_rate=float(rates[0]) if rates is not None else None,
            predicted_funding_rate=float(rates[1]) if rates is not None else None,
            next_funding_ms=settles,
        )

    def _contract_object(self, c: Contract, now: int) -> dict[str, Any]:
        return payloads.contract_object(c, self._stats(c, now), now)

    def _no_trade(self, c: Contract, now: int) -> LastTrade:
        """What a ticker shows when nothing traded in the look-back: the fair price, no size."""
        return LastTrade(0, round(self.market.fair_price(c, now), c.price_decimals), 0, True)

    def _ticker(self, c: Contract, now: int, last: LastTrade, book: Book) -> dict[str, Any]:
        book = self._faulty_book(c, book, levels=False)
        ticker = payloads.ticker_object(c, last, book)
        for kind, fields in (("nan", ("price", "price", "bestBidSize")), ("negative", ("size", "price"))):
            if self.faults.hit("ticker", kind, c.symbol, [last.trade_id])[0]:
                v = float(self.faults.variant("ticker", kind, c.symbol, [last.trade_id])[0])
                field = fields[int(v * len(fields))]
                ticker[field] = nan_value(v * 2 % 1) if kind == "nan" else negated(ticker[field])
        return ticker

    def _last_trades(self, contracts: list[Contract], now: int) -> list[LastTrade | None]:
        """The last trade of each contract at ``now``, the trades of many contracts drawn at once.

        Each contract's candidates are its last traded minute before the forming one and the
        forming minute itself; their tape is the same all minute long, so it is kept for the minute.
        """
        minute = now // MINUTE_MS
        if self._candidates is None or self._candidates[:2] != (minute, len(contracts)):
            self._candidates = (minute, len(contracts), *self._candidate_tape(contracts, now))
        tape, rows = self._candidates[2:]
        tape = tape.select(tape.ts_ns <= now * 1_000_000)
        lasts: list[LastTrade | None] = [None] * len(contracts)
        owner = rows[tape.row]
        for end in np.flatnonzero(np.r_[owner[1:] != owner[:-1], True]) if len(tape) else ():
            lasts[int(owner[end])] = _last_trade(tape.select(slice(int(end), int(end) + 1)))
        for i, c in enumerate(contracts):  # none today (a quiet contract just after midnight): look back
            if lasts[i] is None:
                lasts[i] = _last_trade(self.micro.recent_trades(c, now, 1))
        return lasts

    def _candidate_tape(self, contracts: list[Contract], now: int) -> tuple[Tape, np.ndarray]:
        day = day_index(now)
        picks: list[Bars] = []
        owners: list[int] = []
        for i, c in enumerate(contracts):
            bars = self.market.minute_bars(c.symbol, day)
            traded = np.flatnonzero(bars.volume[: int(np.searchsorted(bars.open_ms, now // MINUTE_MS * MINUTE_MS, side="right"))] >= 1)
            # the forming minute may have no trade before now yet: take the traded minute before it too
            chosen = traded[-2:] if len(traded) and bars.open_ms[traded[-1]] + MINUTE_MS > now else traded[-1:]
            picks.append(bars.select(chosen))
            owners += [i] * len(chosen)
        rows = np.array(owners, dtype=np.int64)
        return (self._batch_tape(contracts, Bars.concat(picks), rows) if owners else Tape.concat([])), rows

    def _batch_tape(self, contracts: list[Contract], bars: Bars, owners: np.ndarray) -> Tape:
        ticks = np.array([c.tick_size for c in contracts])[owners]
        decimals = np.array([c.price_decimals for c in contracts])[owners]
        keys = np.array([self.micro.trade_key(c) for c in contracts], dtype=np.uint64)[owners]
        return draw_tape(bars, ticks, decimals, keys)

    def _faulty_book(self, c: Contract, book: Book, levels: bool = True) -> Book:
        """The book with its faults: crossed (the ticker's touch too), and, with ``levels``, bad levels
        (a ticker has faults of its own)."""
        step = book.sequence
        if not any(self.config.faults.share("book", k) > 0 for k in ("nan", "negative", "crossed")):
            return book
        bid_price, ask_price = book.bid_price.astype(object), book.ask_price.astype(object)
        bid_size, ask_size = book.bid_size.astype(object), book.ask_size.astype(object)
        if self.faults.hit("book", "crossed", c.symbol, [step])[0] and len(bid_price) and len(ask_price):
            ticks = int(float(self.faults.variant("book", "crossed", c.symbol, [step])[0]) * 3)
            bid_price[0] = round(float(ask_price[0]) + ticks * c.tick_size, c.price_decimals)
        for side, prices, sizes in ((0, bid_price, bid_size), (1, ask_price, ask_size)) if levels else ():
            ids = step * 4096 + side * 2048 + np.arange(len(prices))
            for level in np.flatnonzero(self.faults.hit("book", "nan", c.symbol, ids)):
                prices[level] = nan_value(float(self.faults.variant("book", "nan", c.symbol, ids[level : level + 1])[0]))
            for level in np.flatnonzero(self.faults.hit("book", "negative", c.symbol, ids)):
                sizes[level] = -abs(int(sizes[level]))
        return Book(bid_price, bid_size, ask_price, ask_size, book.ts_ns, book.sequence)

    def _inverted(self, c: Contract, bars: Bars) -> Bars:
        """Candles with the ohlc_inverted fault applied (identical on every request)."""
        rate = self.config.faults.ohlc_inverted
        if rate <= 0 or len(bars) == 0:
            return bars
        minutes = (bars.open_ms - EPOCH_MS) // MINUTE_MS
        inverted = uniforms(stream_key(self.config.seed, "fault", "ohlc_inverted", c.symbol), minutes) < rate
        if not inverted.any():
            return bars
        return Bars(bars.open_ms, bars.open, np.where(inverted, bars.low, bars.high), np.where(inverted, bars.high, bars.low), bars.close, bars.volume)


def _last_trade(tape: Tape) -> LastTrade | None:
    if len(tape) == 0:
        return None
    return LastTrade(int(tape.trade_id[-1]), float(tape.price[-1]), int(tape.size[-1]), bool(tape.buy[-1]))


def _replaced(row: list[Any], index: int, value: Any) -> list[Any]:
    copy = list(row)
    copy[index] = value
    return copy

