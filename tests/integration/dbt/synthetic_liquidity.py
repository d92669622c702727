"""Additions to synthetic.populate for the liquidity tests: 5-minute open interest, and hours that
test the minute-pair thresholds and zero turnover.

* open interest for every contract but XRPUSDTM (none at all), with XBTUSDTM missing hours 10..13,
  ETHUSDTM starting at hour 30, SOLUSDTM's hour 20 only half observed, and NEWUSDTM at 0 lots for its
  first 30 hours (a mean open interest of 0);
* AVAXUSDTM: hour 20 keeps one candle, hour 21 eight consecutive minutes (7 minute pairs, below
  min_pairs), hour 22 eleven separate pairs of minutes (11 minute pairs but no pair of changes);
* ADAUSDTM: hour 22 traded nothing (every minute's volume 0: turnover 0).

Deleted minutes are taken off their load batch's counts, so the ledger stays consistent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import psycopg

from tests.integration.dbt import synthetic

NO_OPEN_INTEREST = "XRPUSDTM"
OPEN_INTEREST_GAP = ("XBTUSDTM", range(10, 14))
OPEN_INTEREST_FROM = ("ETHUSDTM", 30)
HALF_OBSERVED_HOUR = ("SOLUSDTM", 20)  # points at minutes 0..25 only
ZERO_OPEN_INTEREST = ("NEWUSDTM", range(36, 66))
THIN_SYMBOL = "AVAXUSDTM"
THIN_HOURS = {20: [7], 21: list(range(8)), 22: [m for k in range(11) for m in (5 * k, 5 * k + 1)]}  # hour: minutes kept
ZERO_TURNOVER = ("ADAUSDTM", 22)


def populate(url: str) -> tuple[synthetic.Synthetic, pd.DataFrame]:
    """synthetic.populate, then the thinned hours, the zero-turnover hour and the open interest.
    Returns the data as stored and the raw.open_interest rows."""
    data = synthetic.populate(url)
    with psycopg.connect(url) as conn:
        candles = _thin_hours(conn, data.candles)
        candles = _zero_turnover(conn, candles)
        open_interest = _open_interest(conn, candles)
    return replace(data, candles=candles), open_interest


def _hour_of(candles: pd.DataFrame) -> pd.Series:
    return (candles["open_time"] - pd.Timestamp(synthetic.START)) // pd.Timedelta(hours=1)


def _thin_hours(conn: psycopg.Connection, candles: pd.DataFrame) -> pd.DataFrame:
    hour = _hour_of(candles)
    kept_minute = pd.Series(
        [minute in THIN_HOURS.get(h, ()) for h, minute in zip(hour, candles["open_time"].dt.minute, strict=True)], index=candles.index
    )
    dropped = candles.loc[(candles["symbol"] == THIN_SYMBOL) & hour.isin(list(THIN_HOURS)) & ~kept_minute]
    conn.execute(
        "delete from raw.candles_1m where symbol = %s and open_time = any(%s)",
        (THIN_SYMBOL, [t.to_pydatetime() for t in dropped["open_time"]]),
    )
    for batch_id, count in dropped.groupby("batch_id").size().items():
        conn.execute(
            "update raw.load_batches set rows_in = rows_in - %s, rows_inserted = rows_inserted - %s where batch_id = %s",
            (int(count), int(count), int(batch_id)),
        )
    return candles.drop(index=dropped.index).reset_index(drop=True)


def _zero_turnover(conn: psycopg.Connection, candles: pd.DataFrame) -> pd.DataFrame:
    symbol, hour = ZERO_TURNOVER
    start = synthetic.START + timedelta(hours=hour)
    conn.execute(
        "update raw.candles_1m set volume = 0 where symbol = %s and open_time >= %s and open_time < %s",
        (symbol, start, start + timedelta(hours=1)),
    )
    candles = candles.copy()
    candles.loc[(candles["symbol"] == symbol) & (_hour_of(candles) == hour), "volume"] = 0.0
    return candles


def _open_interest(conn: psycopg.Connection, candles: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(99)
    frames = []
    for symbol, minutes in candles.groupby("symbol"):
        if symbol == NO_OPEN_INTEREST:
            continue
        times = pd.date_range(minutes["open_time"].min().floor("1h"), minutes["open_time"].max(), freq="5min")
        lots = np.round(50_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, len(times)))), 0)
        hour = (times - pd.Timestamp(synthetic.START)) // pd.Timedelta(hours=1)
        keep = np.ones(len(times), dtype=bool)
        if symbol == OPEN_INTEREST_GAP[0]:
            keep &= ~np.isin(hour, list(OPEN_INTEREST_GAP[1]))
        if symbol == OPEN_INTEREST_FROM[0]:
            keep &= hour >= OPEN_INTEREST_FROM[1]
        if symbol == HALF_OBSERVED_HOUR[0]:
            keep &= ~((hour == HALF_OBSERVED_HOUR[1]) & (times.minute > 25))
        if symbol == ZERO_OPEN_INTEREST[0]:
            lots[np.isin(hour, list(ZERO_OPEN_INTEREST[1]))] = 0.0
        frames.append(pd.DataFrame({"symbol": symbol, "observed_at": times[keep], "open_interest_lots": lots[keep]}))
    points = pd.concat(frames, ignore_index=True)
    conn.execute("select raw.ensure_partitions('raw.open_interest', %s, %s, interval '1 day')", (synthetic.START, synthetic.END))
    batch_id = synthetic.insert_batch(conn, "kucoin_open_interest", synthetic.START, synthetic.END, len(points))
    points["batch_id"] = batch_id
    synthetic.copy_rows(conn, "raw.open_interest", points)
    return points
