"""Order-book snapshots as KuCoin serves them (/api/v1/level2/depth20|depth100 ``data``).

A snapshot is ``{symbol, sequence, bids: [[price, size], ...], asks, ts}`` with ``ts`` in
nanoseconds and levels as numbers or strings (both are recorded). It becomes one row per level,
so a batch conserves levels: levels received = levels loaded + levels quarantined. A bad level
(not two finite numbers, a non-positive price or size, a price twice on one side) is refused
alone; a snapshot without its time or sequence, of another symbol, or crossed (best bid >= best
ask) is refused whole, every level with the rule, because none of its levels can be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from models.records import from_ns
from models.rejections import Rejection

COLUMNS = ("symbol", "observed_at", "sequence", "side", "level", "price", "size_lots", "depth")
SIDES = (("bid", "bids"), ("ask", "asks"))


@dataclass(frozen=True)
class BookValidation:
    accepted: pd.DataFrame  # columns COLUMNS
    rejections: list[Rejection]  # one per refused level, so accepted + refused = levels received


def validate_book(symbol: str, book: Any, depth: int) -> BookValidation:
    empty = pd.DataFrame(columns=list(COLUMNS))
    if not isinstance(book, dict):
        return BookValidation(empty, [Rejection("book_shape", f"expected an object, got {book!r:.60}", book, symbol)])
    levels = {side: list(book.get(key) or []) for side, key in SIDES}
    every_level = [level for side in levels for level in levels[side]]
    ts, sequence = book.get("ts"), book.get("sequence")
    problem = None
    if not isinstance(ts, int) or isinstance(ts, bool) or ts <= 0:
        problem = ("missing_timestamp", f"the snapshot has ts {ts!r}")
    elif not isinstance(sequence, int) or isinstance(sequence, bool):
        problem = ("missing_sequence", f"the snapshot has sequence {sequence!r}")
    elif book.get("symbol") != symbol:
        problem = ("symbol_mismatch", f"a book of {str(book.get('symbol'))[:60]!r} in the response for {symbol}")
    if problem is not None:
        return BookValidation(empty, [Rejection(problem[0], problem[1], level, symbol) for level in every_level])

    observed_at = from_ns(ts)
    rejections: list[Rejection] = []
    kept: dict[str, list[tuple[float, float, Any]]] = {"bid": [], "ask": []}
    for side, raw_levels in levels.items():
        seen: set[float] = set()
        for level in raw_levels:
            parsed, refusal = _level(level)
            if refusal is None and parsed[0] in seen:
                refusal = ("duplicate_key", f"{side} price {parsed[0]} appears twice")
            if refusal is not None:
                rejections.append(Rejection(refusal[0], refusal[1], level, symbol, observed_at))
                continue
            seen.add(parsed[0])
            kept[side].append((*parsed, level))

    bids = sorted(kept["bid"], key=lambda lv: -lv[0])
    asks = sorted(kept["ask"], key=lambda lv: lv[0])
    if bids and asks and bids[0][0] >= asks[0][0]:
        detail = f"best bid {bids[0][0]} >= best ask {asks[0][0]}"
        rejections += [Rejection("crossed_book", detail, lv[2], symbol, observed_at) for lv in (*bids, *asks)]
        return BookValidation(empty, rejections)

    rows = [
        {"symbol": symbol, "observed_at": observed_at, "sequence": sequence, "side": side, "level": i + 1,
         "price": price, "size_lots": size, "depth": depth}
        for side, ordered in (("bid", bids), ("ask", asks))
        for i, (price, size, _) in enumerate(ordered)
    ]
    return BookValidation(pd.DataFrame(rows, columns=list(COLUMNS)), rejections)


def _level(level: Any) -> tuple[tuple[float, float], tuple[str, str] | None]:
    """(price, size) of a level, or why it is refused."""
    if not isinstance(level, Sequence) or isinstance(level, str) or len(level) < 2:
        return (math.nan, math.nan), ("level_shape", f"expected [price, size], got {level!r:.60}")
    price, size = _number(level[0]), _number(level[1])
    if not (math.isfinite(price) and math.isfinite(size)):
        return (price, size), ("non_finite_value", f"price {level[0]!r:.30} and size {level[1]!r:.30} must be finite numbers")
    if price <= 0:
        return (price, size), ("non_positive_price", f"price {price} must be > 0")
    if size <= 0:
        return (price, size), ("non_positive_size", f"size {size} must be > 0")
    return (price, size), None


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
