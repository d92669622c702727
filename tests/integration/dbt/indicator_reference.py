"""Reference values for the 1h indicator models, computed independently of the SQL.

Reusable on any frame of 1h bars (synthetic in the tests; recorded real candles replayed through
the pipeline later): ``expected_indicators(bars)`` computes every column of the panel
``intermediate.int_indicators_1h`` per contract with TA-Lib (the ta-lib package) where TA-Lib has
the function, and with numpy implementing the textbook formula where it has not (log returns,
Parkinson and Garman-Klass volatility, rolling VWAP, volume z-score); ``compare(actual,
expected)`` reports, per column, whether the nulls sit exactly where the reference has NaN and
the largest relative error elsewhere. ``check_database(url)`` does both for a built database.

The series of a contract is its bars in time order as they exist: a missing hour is skipped, not
filled, exactly like the SQL models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import talib
import yaml
from numpy.lib.stride_tricks import sliding_window_view

DBT_PROJECT_YML = Path(__file__).resolve().parents[3] / "dbt_project" / "dbt_project.yml"
# the bar columns the references read (int_candles_1h); volume = base-currency volume
BAR_COLUMNS = ("symbol", "bucket_start", "open", "high", "low", "close", "volume_base", "turnover_quote")


def project_parameters(path: Path = DBT_PROJECT_YML) -> dict[str, Any]:
    """The var `indicators` of the dbt project (the parameters the models were built with)."""
    return dict(yaml.safe_load(path.read_text())["vars"]["indicators"])


def _rolling(values: np.ndarray, n: int, reduce: Any) -> np.ndarray:
    """reduce(window) over each full window of the last n values (fresh per window), NaN before."""
    out = np.full(len(values), np.nan)
    if len(values) >= n:
        out[n - 1 :] = reduce(sliding_window_view(values, n))
    return out


def _lagged(values: np.ndarray, h: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    out[h:] = values[:-h]
    return out


def _symbol_indicators(bars: pd.DataFrame, p: Mapping[str, Any]) -> dict[str, np.ndarray]:
    o, h, low, c = (bars[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    volume = bars["volume_base"].to_numpy(float)
    turnover = bars["turnover_quote"].to_numpy(float)
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        # returns: TA-Lib ROCP for the simple return, ln(c_t / c_{t-h}) for the log return
        for horizon in p["return_horizons"]:
            out[f"simple_return_{horizon}"] = talib.ROCP(c, horizon)
            out[f"log_return_{horizon}"] = np.log(c / _lagged(c, horizon))
        for n in p["sma_periods"]:
            out[f"sma_{n}"] = talib.SMA(c, n)
        for n in p["ema_periods"]:
            out[f"ema_{n}"] = talib.EMA(c, n)
        for n in p["wma_periods"]:
            out[f"wma_{n}"] = talib.WMA(c, n)
        macd = p["macd"]
        out["macd"], out["macd_signal"], out["macd_hist"] = talib.MACD(
            c, macd["fast_period"], macd["slow_period"], macd["signal_period"]
        )
        out[f"rsi_{p['rsi_period']}"] = talib.RSI(c, p["rsi_period"])
        stoch = p["stoch"]
        out["stoch_slowk"], out["stoch_slowd"] = talib.STOCH(
            h, low, c, stoch["fastk_period"], stoch["slowk_period"], talib.MA_Type.SMA, stoch["slowd_period"], talib.MA_Type.SMA
        )
        out[f"roc_{p['roc_period']}"] = talib.ROC(c, p["roc_period"])
        n = p["adx_period"]
        out[f"adx_{n}"] = talib.ADX(h, low, c, n)
        out[f"plus_di_{n}"] = talib.PLUS_DI(h, low, c, n)
        out[f"minus_di_{n}"] = talib.MINUS_DI(h, low, c, n)
        out[f"atr_{p['atr_period']}"] = talib.ATR(h, low, c, p["atr_period"])
        bb = p["bbands"]
        out["bb_upper"], out["bb_middle"], out["bb_lower"] = talib.BBANDS(
            c, bb["period"], float(bb["nbdev"]), float(bb["nbdev"]), talib.MA_Type.SMA
        )
        # realized volatility per 1h bar: close-to-close = TA-Lib STDDEV of the one-bar log returns
        # (population standard deviation); Parkinson and Garman-Klass by their textbook formulas
        n = p["realized_volatility_period"]
        log_return = np.log(c / _lagged(c, 1))
        out[f"rv_close_to_close_{n}"] = talib.STDDEV(log_return, n, 1.0)
        log_hl, log_co = np.log(h / low), np.log(c / o)
        out[f"rv_parkinson_{n}"] = np.sqrt(_rolling(log_hl**2, n, lambda w: w.sum(axis=1)) / (4 * n * math.log(2)))
        garman_klass_terms = 0.5 * log_hl**2 - (2 * math.log(2) - 1) * log_co**2
        out[f"rv_garman_klass_{n}"] = np.sqrt(_rolling(garman_klass_terms, n, lambda w: w.sum(axis=1)) / n)
        out["obv"] = talib.OBV(c, volume)
        out[f"mfi_{p['mfi_period']}"] = talib.MFI(h, low, c, volume, p["mfi_period"])
        # rolling VWAP: sum of turnover / sum of base volume over the last n bars
        n = p["vwap_period"]
        volume_sums = _rolling(volume, n, lambda w: w.sum(axis=1))
        out[f"vwap_{n}"] = np.where(volume_sums > 0, _rolling(turnover, n, lambda w: w.sum(axis=1)) / volume_sums, np.nan)
        # volume z-score: (v - mean) / sample standard deviation of the last n volumes (current included)
        out[f"volume_zscore_{p['volume_zscore_period']}"] = _volume_zscores(bars["volume_base"].tolist(), p["volume_zscore_period"])
    return out


def _volume_zscores(volumes: list[Any], n: int) -> np.ndarray:
    """(v - mean) / sample standard deviation over each window of n volumes, in 50-digit decimal
    arithmetic: the z-score of a volume close to its mean is a small difference, which float64
    would get wrong by more than 1e-9 relative."""
    values = [Decimal(str(v)) if not isinstance(v, Decimal) else v for v in volumes]
    out = np.full(len(values), np.nan)
    with localcontext() as context:
        context.prec = 50
        for end in range(n, len(values) + 1):
            window = values[end - n : end]
            mean = sum(window, Decimal(0)) / n
            variance = sum(((v - mean) ** 2 for v in window), Decimal(0)) / (n - 1)
            if variance > 0:
                out[end - 1] = float((window[-1] - mean) / variance.sqrt())
    return out


def expected_indicators(bars: pd.DataFrame, parameters: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The reference value of every panel column for each bar of `bars` (BAR_COLUMNS, one row per
    contract and 1h bar), keyed and ordered by (symbol, bucket_start); NaN where TA-Lib has none."""
    p = parameters or project_parameters()
    frames = []
    for symbol, rows in bars.sort_values(["symbol", "bucket_start"]).groupby("symbol", sort=True):
        columns = _symbol_indicators(rows, p)
        frames.append(pd.DataFrame({"symbol": symbol, "bucket_start": rows["bucket_start"].to_numpy(), **columns}))
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class ColumnComparison:
    column: str
    compared: int  # values present in both
    null_mismatches: int  # rows null on one side only
    max_relative_error: float  # |actual - expected| / |expected|; an expected 0 must be matched exactly
    worst: tuple[Any, ...] | None  # (symbol, bucket_start, actual, expected) of the largest error

    def ok(self, rtol: float) -> bool:
        return self.null_mismatches == 0 and self.max_relative_error <= rtol


def compare(actual: pd.DataFrame, expected: pd.DataFrame) -> list[ColumnComparison]:
    """Compare every reference column of `expected` with the same column of `actual` (both keyed
    by symbol, bucket_start; actual may hold more columns)."""
    keys = ["symbol", "bucket_start"]
    merged = expected.merge(actual, on=keys, how="outer", suffixes=("_expected", ""), indicator=True)
    if (merged["_merge"] != "both").any():
        missing = merged.loc[merged["_merge"] != "both", keys + ["_merge"]]
        raise AssertionError(f"actual and expected rows differ:\n{missing.head(20)}")
    comparisons = []
    for column in expected.columns.drop(keys):
        want = merged[f"{column}_expected"].to_numpy(float)
        got = pd.to_numeric(merged[column], errors="coerce").to_numpy(float)
        null_mismatches = int((np.isnan(want) != np.isnan(got)).sum())
        both = ~np.isnan(want) & ~np.isnan(got)
        with np.errstate(divide="ignore", invalid="ignore"):
            error = np.where(want[both] == 0, np.where(got[both] == 0, 0.0, np.inf), np.abs(got[both] - want[both]) / np.abs(want[both]))
        worst = None
        max_error = 0.0
        if error.size:
            i = int(np.argmax(error))
            max_error = float(error[i])
            row = merged.loc[both].iloc[i]
            worst = (row["symbol"], row["bucket_start"], got[both][i], want[both][i])
        comparisons.append(ColumnComparison(column, int(both.sum()), null_mismatches, max_error, worst))
    return comparisons


def read_frame(url: str, query: str) -> pd.DataFrame:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query)  # type: ignore[arg-type]
        assert cur.description is not None
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def check_database(url: str, parameters: Mapping[str, Any] | None = None) -> list[ColumnComparison]:
    """Compare the panel intermediate.int_indicators_1h of a built database with the references
    computed from its own 1h bars (intermediate.int_candles_1h)."""
    bars = read_frame(url, f"select {', '.join(BAR_COLUMNS)} from intermediate.int_candles_1h order by symbol, bucket_start")
    actual = read_frame(url, "select * from intermediate.int_indicators_1h order by symbol, bucket_start")
    return compare(actual, expected_indicators(bars, parameters))


def report(comparisons: list[ColumnComparison]) -> str:
    lines = [f"{'column':28s} {'compared':>8s} {'null mismatches':>15s} {'max rel. error':>14s}"]
    for c in comparisons:
        lines.append(f"{c.column:28s} {c.compared:8d} {c.null_mismatches:15d} {c.max_relative_error:14.3g}")
    return "\n".join(lines)
