"""Replay mode: recorded 1-minute candles served in place of simulated ones.

``--replay PATH`` names a CSV or Parquet file, or a directory whose ``*.csv``, ``*.parquet`` and
``*.pq`` files are all read. Columns: ``symbol``, ``open_time`` (ms since 1970 as an integer, or
ISO-8601; a time without an offset is UTC), ``open``, ``high``, ``low``, ``close``, ``volume``
(lots); other columns are ignored.

The candles are served as they are: a missing minute stays missing, a flat candle stays flat,
aggregated granularities are built from them, and the tape, tickers, books and contracts/active
statistics of the symbol derive from them. Values a quality gate must catch pass through on
purpose: high < low, prices outside [low, high], non-positive prices or volumes, duplicate
(symbol, open_time) keys. What the simulator itself cannot serve stops startup with the file,
the line (CSV, the header is line 1) or row (Parquet, from 1), and the rule:

- every column above is present;
- open, high, low, close and volume are finite numbers; volume is a whole number of lots;
- open_time parses, falls on a whole minute, and is not before 2020-01-01 (the simulated epoch);
- symbol is not empty.

A symbol of the universe keeps its contract (its tick shrinks if the file's prices need finer
ones); any other symbol gets a linear USDT perpetual listed from its first candle, with a lot of
about 10 USD and a liquidity tier from the file's turnover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simulator.market import MINUTE_MS, Bars
from simulator.rng import stream_key, uniforms
from simulator.universe import DAY_MS, EPOCH_MS, HOUR_MS, PERPETUAL, SECTORS, TIER_MAX_LEVERAGE, Contract

COLUMNS = ("symbol", "open_time", "open", "high", "low", "close", "volume")
SUFFIXES = (".csv", ".parquet", ".pq")
_NUMBERS = ("open", "high", "low", "close", "volume")
_MAX_DECIMALS = 12

if TYPE_CHECKING:
    import pandas as pd


class ReplayError(ValueError):
    """A replay file breaks a rule: the message names the file, the line or row, and the rule."""


@dataclass(frozen=True)
class Replay:
    """Candles by symbol, in time order (duplicates keep their file order)."""

    files: tuple[Path, ...]
    series: dict[str, Bars]
    decimals: dict[str, int]  # decimals the symbol's prices need

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.series

    def day_bars(self, symbol: str, day: int) -> Bars:
        bars = self.series[symbol]
        start = EPOCH_MS + day * DAY_MS
        lo, hi = np.searchsorted(bars.open_ms, [start, start + DAY_MS])
        return bars.select(slice(int(lo), int(hi)))

    def price_at(self, symbol: str, ms: int) -> float:
        """The close of the last candle finished by ``ms`` (before the first: its open)."""
        bars = self.series[symbol]
        index = int(np.searchsorted(bars.open_ms, ms - MINUTE_MS, side="right")) - 1
        return float(bars.close[index]) if index >= 0 else float(bars.open[0])


def replay_files(path: Path) -> tuple[Path, ...]:
    """The files a replay path names (a file, or the candle files of a directory)."""
    if path.is_dir():
        return tuple(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES))
    return (path,)


def load_replay(path: Path) -> Replay:
    import pandas as pd  # only replay needs it: the config and the server start without it

    files = replay_files(path)
    if not files:
        raise ReplayError(f"{path}: the directory holds no {', '.join(SUFFIXES)} files")
    frame = pd.concat([_read(file) for file in files], ignore_index=True)
    series: dict[str, Bars] = {}
    decimals: dict[str, int] = {}
    for symbol, rows in frame.groupby("symbol", sort=True):
        rows = rows.sort_values("open_ms", kind="stable")
        series[str(symbol)] = Bars(*(rows[c].to_numpy() for c in ("open_ms", *_NUMBERS)))
        decimals[str(symbol)] = _decimals(rows[["open", "high", "low", "close"]].to_numpy().ravel())
    return Replay(files, series, decimals)


def replay_universe(replay: Replay, universe: tuple[Contract, ...], seed: int) -> tuple[Contract, ...]:
    """The universe with replayed symbols' ticks fitted to their prices, then a synthesized
    contract for each replayed symbol the universe lacks (after it, so prefixes stay stable)."""
    known = {c.symbol for c in universe}
    fitted = tuple(
        replace(c, tick_size=10.0 ** -replay.decimals[c.symbol])
        if c.symbol in replay and 10.0 ** -replay.decimals[c.symbol] < c.tick_size else c
        for c in universe
    )
    added = tuple(_synthesized(seed, s, replay.series[s], replay.decimals[s]) for s in sorted(replay.series) if s not in known)
    return fitted + added


def _synthesized(seed: int, symbol: str, bars: Bars, decimals: int) -> Contract:
    positive = bars.close[bars.close > 0]
    price = float(np.median(positive)) if len(positive) else 1.0
    multiplier = 10.0 ** round(math.log10(10.0 / price))  # a lot of about 10 USD
    days = max(1.0, (float(bars.open_ms[-1] - bars.open_ms[0]) + MINUTE_MS) / DAY_MS)
    turnover = max(1.0, float(np.maximum(bars.volume, 0).sum()) * price * multiplier / days)
    tier = next(t for t, floor in ((1, 1e9), (2, 1e8), (3, 1e7), (4, 1e6), (5, 0.0)) if turnover >= floor)
    returns = np.diff(np.log(positive)) if len(positive) > 2 else np.empty(0)
    vol = float(np.std(returns) * math.sqrt(365 * 1440)) if len(returns) else 1.0
    sector = SECTORS[int(float(uniforms(stream_key(seed, "replay", symbol, "sector"), 0)[0]) * len(SECTORS))]
    base = symbol[: -len("USDTM")] if symbol.endswith("USDTM") and len(symbol) > len("USDTM") else symbol
    return Contract(
        symbol=symbol, base=base, quote="USDT", settle="USDT", contract_type=PERPETUAL, is_inverse=False,
        multiplier=multiplier, tick_size=10.0**-decimals, max_leverage=TIER_MAX_LEVERAGE[tier],
        listed_ms=int(bars.open_ms[0]), delisted_ms=None, funding_granularity_ms=8 * HOUR_MS, sector=sector, tier=tier,
        annual_vol=min(3.0, max(0.2, vol)) if math.isfinite(vol) else 1.0, market_loading=0.7, sector_loading=0.3,
        reference_price=price, daily_turnover_usd=turnover, key=stream_key(seed, "contract", symbol),
    )


def _decimals(prices: np.ndarray) -> int:
    """Fewest decimals that write every price exactly (as far as a double tells)."""
    scaled = np.abs(prices.astype(float))
    for d in range(_MAX_DECIMALS + 1):
        x = scaled * 10.0**d
        if np.all(np.abs(x - np.rint(x)) <= 1e-9 * np.maximum(1.0, x)):
            return d
    return _MAX_DECIMALS


def _read(file: Path) -> pd.DataFrame:
    """One file as symbol, open_ms, open..volume, or a ReplayError naming what is wrong where."""
    import pandas as pd

    csv = file.suffix.lower() == ".csv"
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False) if csv else pd.read_parquet(file)
    except pd.errors.EmptyDataError:
        raise ReplayError(f"{file}: line 1: the file is empty; it needs a header with {', '.join(COLUMNS)}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as error:
        raise ReplayError(f"{file}: cannot be read as {'CSV' if csv else 'Parquet'}: {error}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        where = "line 1" if csv else "schema"
        raise ReplayError(f"{file}: {where}: missing column(s) {', '.join(missing)}; the columns must include {', '.join(COLUMNS)}")

    def place(index: int) -> str:
        return f"line {index + 2}" if csv else f"row {index + 1}"

    def fail(mask: np.ndarray, column: str, rule: str) -> None:
        if mask.any():
            index = int(np.flatnonzero(mask)[0])
            value = frame[column].iloc[index]
            value = value.item() if isinstance(value, np.generic) else value  # nan, not np.float64(nan)
            raise ReplayError(f"{file}: {place(index)}: {column}={value!r} {rule}")

    symbols = frame["symbol"]
    fail(np.asarray(symbols.isna() | (symbols.astype(str) == "")), "symbol", "is empty; every row needs a symbol")
    out = pd.DataFrame({"symbol": symbols.astype(str)})
    for column in _NUMBERS:
        values = pd.to_numeric(frame[column].str.strip() if csv else frame[column], errors="coerce").astype(float).to_numpy()
        fail(~np.isfinite(values), column, "is not a finite number")
        out[column] = values
    fail(out["volume"].to_numpy() != np.floor(out["volume"].to_numpy()), "volume", "is not a whole number of lots")
    open_ms = _open_ms(frame["open_time"])
    fail(np.isnan(open_ms), "open_time", "is neither ms since 1970 nor an ISO-8601 time")
    fail(open_ms % MINUTE_MS != 0, "open_time", "does not fall on a whole minute (1-minute candles open on the minute)")
    fail(open_ms < EPOCH_MS, "open_time", "is before 2020-01-01, the start of the simulated market")
    out["open_ms"] = open_ms.astype(np.int64)
    return out


def _open_ms(column: pd.Series) -> np.ndarray:
    """Open times in ms (NaN where a value does not parse)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = pd.to_datetime(column, utc=True)
        return np.where(stamps.isna(), np.nan, stamps.dt.as_unit("ms").astype("int64").astype(float))
    if pd.api.types.is_integer_dtype(column):
        return column.to_numpy().astype(float)
    text = column.astype(str).str.strip()
    integer = text.str.fullmatch(r"-?\d+")
    result = np.full(len(text), np.nan)
    result[integer.to_numpy()] = text[integer].astype(np.int64).to_numpy()
    stamps = pd.to_datetime(text[~integer], format="ISO8601", utc=True, errors="coerce")
    parsed = stamps.notna().to_numpy()
    rest = np.flatnonzero(~integer.to_numpy())
    result[rest[parsed]] = stamps[stamps.notna()].dt.as_unit("ms").astype("int64").to_numpy()
    return result
