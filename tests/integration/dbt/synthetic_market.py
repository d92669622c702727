"""Deterministic synthetic order books, tickers and trades for the market-structure models.

Five of synthetic.py's contracts, snapshotted every five minutes as the market_snapshots job does
(one load batch per asset and run: every contract's book of depth 20, every ticker, the last 100
trades of each contract), over hours 1..4 of synthetic.START (across the first contracts
snapshot at hour 2; before it the models must use the earliest spec) and, for LINKUSDTM, hours
47..48 (its multiplier changes with the second snapshot at hour 48). Runs at hours 2:00 and
48:00 fall exactly on a contracts snapshot. Trades come from a continuous tape per contract;
each run stores the trades of its response not stored yet, so

* XBTUSDTM trades faster than 100 per five minutes: its responses never overlap (missing trades
  between every two batches), and its 20 book levels span about 20 bps (50 and 100 never reached);
* XBTUSDM (inverse, 1 USD per lot) overlaps from one response to the next; its 20 levels end
  around 100 bps, beyond the edge or not; one of its trades is refused by one batch;
* ETHUSDTM trades at one price for an hour (FLAT_HOUR), not at all for another (SILENT_HOUR),
  has a book with a single ask level and one without asks (no mid);
* LINKUSDTM trades too rarely for Kyle's lambda (fewer pairs than the minimum), and gets one more
  contracts snapshot at 47:30 (MID_HOUR_SPEC): a spec change inside an hour;
* DOGEUSDTM has tickers only;
* one run (MISSED_RUN) never happened: a longer gap in every tape, no book, no ticker.

Trade sequences step by random amounts, as KuCoin's do (they are not consecutive between
consecutive trades), and trade ids are the sequences as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from tests.integration.dbt import synthetic

RUN_STEP = timedelta(minutes=5)
BOOK_DEPTH = 20
RESPONSE_TRADES = 100  # KuCoin's /api/v1/trade/history serves the last 100


@dataclass(frozen=True)
class Market:
    symbol: str
    hours: range  # hours of synthetic.START with snapshot runs
    tick: float
    level_spacing_bps: tuple[float, float]  # uniform range of the distance between adjacent levels
    trades_per_minute: float
    has_books: bool = True

    @property
    def decimals(self) -> int:
        """Decimals of the tick: prices are rounded to them, as the exchange serves them."""
        return max(0, round(-np.log10(self.tick)))


MARKET_HOURS = range(1, 5)
SPEC_CHANGE_HOURS = range(47, 49)
MARKETS = (
    Market("XBTUSDTM", MARKET_HOURS, 0.1, (0.5, 1.5), 40.0),
    Market("XBTUSDM", MARKET_HOURS, 0.1, (3.5, 7.0), 15.0),
    Market("ETHUSDTM", MARKET_HOURS, 0.01, (5.0, 15.0), 8.0),
    Market("LINKUSDTM", SPEC_CHANGE_HOURS, 0.001, (5.0, 15.0), 0.2),
    Market("DOGEUSDTM", MARKET_HOURS, 0.00001, (5.0, 15.0), 0.0, has_books=False),
)
FLAT_HOUR = ("ETHUSDTM", 2)
SILENT_HOUR = ("ETHUSDTM", 3)
SINGLE_ASK = ("ETHUSDTM", 1, 2)  # symbol, hour, run of the hour
NO_ASKS = ("ETHUSDTM", 4, 5)
MISSED_RUN = (3, 6)  # hour, run of the hour
REFUSED_TRADE = ("XBTUSDM", 2, 3)  # the batch of this run refuses one of the contract's new trades
MID_HOUR_SPEC = ("LINKUSDTM", 47.5, 0.5)  # an extra contracts snapshot inside an hour: symbol, hour, multiplier
IMPACT_PER_MILLION = 2.0  # true log-price impact of 1e6 signed quote notional in the tape


@dataclass(frozen=True)
class MarketData:
    books: pd.DataFrame  # raw.order_book_levels rows
    tickers: pd.DataFrame  # raw.tickers rows
    trades: pd.DataFrame  # raw.trades rows (as stored: first batch wins)
    batches: pd.DataFrame  # batch_id, asset, rows_in, rows_inserted, rows_unchanged, rows_quarantined
    refused_trade_ids: list[str]
    contracts: pd.DataFrame  # synthetic.py's raw.contracts rows and the mid-hour snapshot


def instrument(symbol: str) -> synthetic.Instrument:
    return next(i for i in synthetic.INSTRUMENTS if i.symbol == symbol)


def hour(offset: float) -> datetime:
    return synthetic.START + timedelta(hours=offset)


def to_ns(moment: datetime | pd.Timestamp) -> int:
    return int(pd.Timestamp(moment).value)


def from_ns(ns: int) -> pd.Timestamp:
    """As the loader stores exchange times: to the microsecond."""
    return pd.Timestamp(ns // 1000 * 1000, unit="ns", tz="UTC")


def runs() -> Iterator[tuple[int, int, datetime]]:
    """(hour, run of the hour, time) of every market_snapshots run, in time order."""
    for h in sorted({h for m in MARKETS for h in m.hours}):
        for k in range(12):
            if (h, k) != MISSED_RUN:
                yield h, k, hour(h) + k * RUN_STEP


def tape(market: Market, seed: int) -> pd.DataFrame:
    """The exchange's trades of the contract from an hour before its first run to its last hour:
    Poisson arrivals, random sides and sizes, log-price steps of the true impact plus noise."""
    rng = np.random.default_rng(seed)
    start, end = to_ns(hour(market.hours[0] - 1)), to_ns(hour(market.hours[-1] + 1))
    count = rng.poisson(market.trades_per_minute * (end - start) / 60e9)
    ts_ns = np.unique(rng.integers(start, end, count))
    count = len(ts_ns)
    buy = rng.random(count) < 0.5
    lots = rng.integers(1, 50, count).astype(float)
    spec = instrument(market.symbol)
    price0 = spec.price
    notional = lots if spec.is_inverse else lots * spec.multipliers[0] * price0
    steps = IMPACT_PER_MILLION * np.where(buy, notional, -notional) / 1e6 + rng.normal(0.0, 2e-5, count)
    price = np.round(np.round(price0 * np.exp(np.cumsum(steps)) / market.tick) * market.tick, market.decimals)
    hour_of = (ts_ns - to_ns(synthetic.START)) // 3_600_000_000_000
    if market.symbol == FLAT_HOUR[0]:
        flat = hour_of == FLAT_HOUR[1]
        price[flat] = price[np.flatnonzero(flat)[0] - 1]
    keep = ~((hour_of == SILENT_HOUR[1]) & (market.symbol == SILENT_HOUR[0]))
    sequence = 1_700_000_000_000 + np.cumsum(rng.integers(1, 200, count))
    frame = pd.DataFrame(
        {
            "symbol": market.symbol, "trade_id": sequence.astype(str), "ts_ns": ts_ns, "sequence": sequence,
            "price": price, "size_lots": lots, "taker_side": np.where(buy, "buy", "sell"),
        }
    )
    frame = frame.loc[keep].reset_index(drop=True)
    frame["traded_at"] = [from_ns(int(ns)) for ns in frame["ts_ns"]]
    frame["maker_order_id"] = "m" + frame["trade_id"]
    frame["taker_order_id"] = "t" + frame["trade_id"]
    return frame


def book(market: Market, rng: np.random.Generator, mid: float, ts_ns: int, sequence: int, asks: int) -> list[dict[str, object]]:
    """One snapshot's levels: a spread of 1..4 bps around `mid`, levels spaced as the market says."""
    half_spread = rng.uniform(0.5, 2.0) / 1e4 * mid
    rows = []
    for side, sign, levels in (("bid", -1, BOOK_DEPTH), ("ask", 1, asks)):
        gaps = rng.uniform(*market.level_spacing_bps, levels) / 1e4 * mid
        gaps[:1] = 0.0  # level 1 sits on the touch
        ticks = np.round((mid + sign * (half_spread + np.cumsum(gaps))) / market.tick)
        for level, tick_count in enumerate(ticks, start=1):
            rows.append(
                {"symbol": market.symbol, "observed_at": from_ns(ts_ns), "sequence": sequence, "side": side, "level": level,
                 "price": float(np.round(tick_count * market.tick, market.decimals)), "size_lots": float(rng.integers(1, 500)), "depth": BOOK_DEPTH}
            )
    return rows


def last_price(trades: pd.DataFrame, ts_ns: int, fallback: float) -> float:
    before = trades.loc[trades["ts_ns"] <= ts_ns, "price"]
    return float(before.iloc[-1]) if len(before) else fallback


def exchange_time(run_time: datetime, rng: np.random.Generator) -> int:
    """The exchange time of a snapshot: the run's time, exactly so on the hours of a contracts snapshot."""
    on_snapshot = run_time in (*synthetic.SNAPSHOT_TIMES, hour(MID_HOUR_SPEC[1]))
    return to_ns(run_time) + (0 if on_snapshot else int(rng.integers(1_000, 2_000_000_000)))


@dataclass(frozen=True)
class TradeFetch:
    """What one run's trades request for one contract did: fetched, stored, refused."""

    run_time: datetime
    fetched: int
    inserted: int
    refused: int


def simulate() -> tuple[dict[str, list[dict[str, object]]], list[TradeFetch], list[str]]:
    """Every run's rows per raw table (tagged with the run's time, for batching), what each trades
    request did, and the ids of the refused trades."""
    rng = np.random.default_rng(7)
    tapes = {m.symbol: tape(m, seed) for seed, m in enumerate(MARKETS, start=100)}
    stored: set[tuple[str, str]] = set()
    refused: set[tuple[str, str]] = set()
    rows: dict[str, list[dict[str, object]]] = {"books": [], "tickers": [], "trades": []}
    fetches = []
    sequence = 10_000
    for run_hour, k, run_time in runs():
        for market in (m for m in MARKETS if run_hour in m.hours):
            sequence += int(rng.integers(1, 50))
            trades = tapes[market.symbol]
            ts_ns = exchange_time(run_time, rng)
            mid = last_price(trades, ts_ns, instrument(market.symbol).price)
            rows["tickers"].append(ticker(market, rng, mid, ts_ns, sequence) | {"run_time": run_time})
            if market.has_books:
                asks = {SINGLE_ASK: 1, NO_ASKS: 0}.get((market.symbol, run_hour, k), BOOK_DEPTH)
                rows["books"] += [r | {"run_time": run_time} for r in book(market, rng, mid, ts_ns, sequence, asks)]
            response = trades.loc[trades["ts_ns"] <= to_ns(run_time)].tail(RESPONSE_TRADES)
            new = response.loc[[(market.symbol, t) not in stored for t in response["trade_id"]]]
            if (market.symbol, run_hour, k) == REFUSED_TRADE:
                refused.add((market.symbol, str(new["trade_id"].iloc[len(new) // 2])))
            kept = new.loc[[(market.symbol, t) not in refused for t in new["trade_id"]]]
            stored.update((market.symbol, t) for t in kept["trade_id"])
            rows["trades"] += [r | {"run_time": run_time} for r in kept.to_dict("records")]
            fetches.append(TradeFetch(run_time, len(response), len(kept), len(new) - len(kept)))
    return rows, fetches, sorted(t for _, t in refused)


def ticker(market: Market, rng: np.random.Generator, mid: float, ts_ns: int, sequence: int) -> dict[str, object]:
    half_spread = max(np.round(rng.uniform(0.5, 3.0) / 1e4 * mid / market.tick), 1) * market.tick
    return {
        "symbol": market.symbol, "observed_at": from_ns(ts_ns), "ts_ns": ts_ns, "sequence": sequence,
        "last_price": mid, "last_size_lots": 1.0, "last_side": "buy", "last_trade_id": str(sequence),
        "best_bid": float(np.round(mid - half_spread, market.decimals)), "best_bid_size_lots": float(rng.integers(1, 900)),
        "best_ask": float(np.round(mid + half_spread, market.decimals)), "best_ask_size_lots": float(rng.integers(1, 900)),
    }


ASSETS = {"books": "kucoin_order_books", "tickers": "kucoin_tickers", "trades": "kucoin_trades"}
TABLES = {"books": "raw.order_book_levels", "tickers": "raw.tickers", "trades": "raw.trades"}


def populate(url: str, data: synthetic.Synthetic) -> MarketData:
    """Insert the books, tickers and trades (and their load batches), and one more contracts
    snapshot (MID_HOUR_SPEC), into the database synthetic.populate filled with `data`."""
    rows, fetches, refused = simulate()
    frames = {name: pd.DataFrame(table_rows) for name, table_rows in rows.items()}
    ledger = []
    with psycopg.connect(url) as conn:
        contracts = pd.concat([data.contracts, mid_hour_snapshot(conn, data.contracts)], ignore_index=True)
        for table in TABLES.values():
            conn.execute("select raw.ensure_partitions(%s::regclass, %s, %s, interval '1 day')", (table, synthetic.START, synthetic.END))
        for name, frame in frames.items():
            batch_of = {t: synthetic.insert_batch(conn, ASSETS[name], None, None, 0) for t in sorted(set(frame["run_time"]))}
            frame["batch_id"] = frame.pop("run_time").map(batch_of)
            counts = frame.groupby("batch_id").size()
            for run_time, batch_id in batch_of.items():
                fetched = [f for f in fetches if f.run_time == run_time] if name == "trades" else []
                rows_in = sum(f.fetched for f in fetched) if fetched else int(counts.get(batch_id, 0))
                inserted = int(counts.get(batch_id, 0))
                quarantined = sum(f.refused for f in fetched)
                ledger.append((batch_id, ASSETS[name], rows_in, inserted, rows_in - inserted - quarantined, quarantined))
            synthetic.copy_rows(conn, TABLES[name], frame)
        for batch_id, _, rows_in, inserted, unchanged, quarantined in ledger:
            conn.execute(
                "update raw.load_batches set rows_in = %s, rows_inserted = %s, rows_unchanged = %s, rows_quarantined = %s "
                "where batch_id = %s",
                (rows_in, inserted, unchanged, quarantined, batch_id),
            )
    batches = pd.DataFrame(ledger, columns=["batch_id", "asset", "rows_in", "rows_inserted", "rows_unchanged", "rows_quarantined"])
    return MarketData(frames["books"], frames["tickers"], frames["trades"], batches, refused, contracts)


def mid_hour_snapshot(conn: psycopg.Connection, contracts: pd.DataFrame) -> pd.DataFrame:
    """MID_HOUR_SPEC's contract snapshot (a copy of the contract's first with another multiplier),
    inserted with its batch."""
    symbol, at, multiplier = MID_HOUR_SPEC
    row = contracts.loc[contracts["symbol"] == symbol].sort_values("snapshot_time").iloc[[0]].copy()
    row["snapshot_time"], row["multiplier"] = hour(at), multiplier
    row["batch_id"] = synthetic.insert_batch(conn, "kucoin_contracts", None, None, 1)
    synthetic.insert_contracts(conn, row)
    return row
