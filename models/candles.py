"""1-minute candles as KuCoin's /api/v1/kline/query serves them, and the load-stage rules.

A served row is ``[open time ms, open, high, low, close, volume in lots]``, numbers or numeric
strings, optionally with the turnover (quote volume) appended, which is not kept. The loader
enforces structure: a candle must be six finite numbers whose timestamp is a whole minute
inside the requested window, once. Market-consistency rules (high >= open/close,
low <= open/close, positive prices, non-negative volume, complete minutes) belong to the
Great Expectations gate that runs on what was stored, so one rule has one home.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from models.rejections import Rejection

MINUTE_MS = 60_000
FIELDS = ("open_time", "open", "high", "low", "close", "volume")
SERVED_WIDTHS = (len(FIELDS), len(FIELDS) + 1)  # the row, and the row with its turnover
COLUMNS = ("symbol", *FIELDS)


@dataclass(frozen=True)
class CandleValidation:
    accepted: pd.DataFrame  # columns COLUMNS; open_time as UTC timestamps
    rejections: list[Rejection]


def validate_candles(symbol: str, rows: Sequence[Any], start_ms: int, end_ms: int) -> CandleValidation:
    """Split one symbol's fetched rows into accepted candles and rejections."""
    rejections: list[Rejection] = []
    values, originals = _as_matrix(symbol, rows, rejections)
    keep = np.ones(len(values), dtype=bool)

    finite = np.isfinite(values).all(axis=1)
    for i in np.flatnonzero(~finite):
        bad = [name for name, v in zip(FIELDS, values[i], strict=True) if not np.isfinite(v)]
        rejections.append(_reject("non_finite_value", f"{', '.join(bad)} not a finite number", symbol, originals[i], values[i, 0]))
    keep &= finite

    ts = np.where(finite, values[:, 0], 0.0)
    aligned = (ts % MINUTE_MS == 0) & (ts == np.floor(ts))
    for i in np.flatnonzero(keep & ~aligned):
        rejections.append(
            _reject("timestamp_not_minute_aligned", f"open time {int(ts[i])} ms is not a whole minute", symbol, originals[i], ts[i])
        )
    keep &= aligned

    inside = (ts >= start_ms) & (ts < end_ms)
    for i in np.flatnonzero(keep & ~inside):
        rejections.append(
            _reject(
                "timestamp_outside_window",
                f"open time {_iso(ts[i])} is outside the requested window [{_iso(start_ms)}, {_iso(end_ms)})",
                symbol, originals[i], ts[i],
            )
        )
    keep &= inside

    kept = np.flatnonzero(keep)
    # np.unique sorts: the first candle of each open time, in time order (a later one is a duplicate)
    _, first_index = np.unique(ts[kept], return_index=True)
    duplicate = np.ones(len(kept), dtype=bool)
    duplicate[first_index] = False
    for i in kept[duplicate]:
        rejections.append(_reject("duplicate_key", f"a second candle for {_iso(ts[i])} in one response", symbol, originals[i], ts[i]))
    candles = values[kept[first_index]]
    # the open times converted by numpy, the symbol broadcast: pandas' per-column conversions
    # were most of the cost of validating a symbol's day
    accepted = pd.DataFrame(
        {
            "symbol": pd.Series(symbol, index=pd.RangeIndex(len(candles)), dtype="string"),
            "open_time": pd.DatetimeIndex(candles[:, 0].astype(np.int64).astype("datetime64[ms]"), tz=UTC).as_unit("us"),
            **{name: candles[:, j] for j, name in enumerate(FIELDS) if j > 0},
        },
        copy=False,
    )
    return CandleValidation(accepted, rejections)


def _as_matrix(symbol: str, rows: Sequence[Any], rejections: list[Rejection]) -> tuple[np.ndarray, list[Any]]:
    """Rows as an (n, 6) float matrix (non-numbers become NaN); rows of the wrong shape are rejected."""
    try:
        matrix = np.asarray(rows, dtype=np.float64)
        if matrix.ndim == 2 and matrix.shape[1] in SERVED_WIDTHS:
            return matrix[:, : len(FIELDS)], list(rows)
    except (TypeError, ValueError):
        pass  # ragged or non-numeric: sort it out row by row below
    kept_rows: list[list[float]] = []
    originals: list[Any] = []
    for row in rows:
        if not isinstance(row, (list, tuple)) or len(row) not in SERVED_WIDTHS:
            rejections.append(
                _reject("row_shape", f"expected a list of {len(FIELDS)} values (or {len(FIELDS) + 1} with the turnover), got {row!r:.80}",
                        symbol, row, None)
            )
            continue
        kept_rows.append([_to_float(v) for v in row[: len(FIELDS)]])
        originals.append(row)
    return np.asarray(kept_rows, dtype=np.float64).reshape(len(kept_rows), len(FIELDS)), originals


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _reject(rule: str, detail: str, symbol: str, record: Any, ts: float | None) -> Rejection:
    key_time = None
    if ts is not None and np.isfinite(ts):
        key_time = datetime.fromtimestamp(float(ts) / 1000, tz=UTC)
    return Rejection(rule=rule, detail=detail, record=record, symbol=symbol, key_time=key_time)


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(float(ms) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
