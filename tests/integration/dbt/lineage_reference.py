"""Lineage references shared by the lineage test modules: the batches of the 1h bars, recomputed
from the raw minutes and contract snapshots (synthetic.expected_candles_1h), and the arrays the
models build from them."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from tests.integration.dbt import synthetic

DATA_WINDOW_BARS = 25  # int_score_components_1h's data frame: the bar and the 24 before it
Bars = dict[tuple[str, pd.Timestamp], frozenset[int]]


def bar_batches(data: synthetic.Synthetic) -> Bars:
    """The batches of each 1h bar (symbol, bucket_start), from the raw rows (pandas)."""
    expected = synthetic.expected_candles_1h(data)
    return {
        (str(s), pd.Timestamp(b)): frozenset(ids)
        for s, b, ids in zip(expected["symbol"], expected["bucket_start"], expected["batch_ids"], strict=True)
    }


def union(sets: Iterable[Iterable[int]]) -> list[int]:
    """The sorted distinct union, as the models' arrays hold it."""
    return sorted({i for s in sets for i in s})


def data_window_batches(bars: Bars, symbol: str, bucket_start: pd.Timestamp) -> list[int]:
    """A score's data window: the batches of the bar and of the contract's 24 bars before it."""
    starts = sorted(b for s, b in bars if s == symbol and b <= bucket_start)[-DATA_WINDOW_BARS:]
    return union(bars[(symbol, b)] for b in starts)


HOUR = pd.Timedelta(hours=1)


def symbol_bars(bars: Bars, symbol: str) -> list[pd.Timestamp]:
    """The contract's 1h bar starts, in time order."""
    return sorted(b for s, b in bars if s == symbol)


def return_hours(bars: Bars, symbol: str) -> set[pd.Timestamp]:
    """The hours of the contract's 1-hour returns of adjacent bars: bars whose previous bar starts
    one hour earlier (synthetic closes are positive, so every such log return is defined)."""
    return {b for s, b in bars if s == symbol and (symbol, b - HOUR) in bars}


def return_batches(bars: Bars, symbol: str, bucket_start: pd.Timestamp) -> frozenset[int]:
    """The batches of a 1-hour return: its bar's and the previous bar's."""
    return bars[(symbol, bucket_start)] | bars[(symbol, bucket_start - HOUR)]
