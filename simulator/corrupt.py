"""Record faults applied to what an endpoint serves (see faults.py for the catalogue).

Each record carries a stable identity (a minute, a trade id, a settlement time, an open-interest
timestamp). A record is hit when the draw at its identity, from a stream named by the seed, the
fault and the symbol, falls below the fault's share, so a re-fetch meets the same bad records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from simulator.faults import FaultProfile
from simulator.rng import stream_key, uniforms

Row = TypeVar("Row")
# A corruption of one row: (row, variant draw in (0, 1)) -> corrupted copy
Mutation = Callable[[Any, float], Any]


class RecordFaults:
    """The record faults of one profile under one seed."""

    def __init__(self, profile: FaultProfile, seed: int) -> None:
        self.profile = profile
        self.seed = seed

    def hit(self, record: str, kind: str, symbol: str, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """Which of the records with these identities the fault ``record_kind`` hits."""
        share = self.profile.share(record, kind)
        ids = np.asarray(ids, dtype=np.int64)
        if share <= 0 or len(ids) == 0:
            return np.zeros(len(ids), dtype=bool)
        return uniforms(stream_key(self.seed, "fault", f"{record}_{kind}", symbol), ids) < share

    def variant(self, record: str, kind: str, symbol: str, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """A second draw per record, to choose how it is corrupted (which field, null or "NaN")."""
        return uniforms(stream_key(self.seed, "fault-variant", f"{record}_{kind}", symbol), np.asarray(ids, dtype=np.int64))

    def rows(
        self, record: str, symbol: str, rows: list[Row], ids: Sequence[int], *, nan: Mutation | None = None,
        negative: Mutation | None = None,
    ) -> list[Row]:
        """``rows`` as served: gaps dropped, NaN and negative values put in, duplicates and
        swaps made, in that order."""
        if not rows or not any(self.profile.share(record, kind) > 0 for kind in ("gap", "nan", "negative", "duplicate", "out_of_order")):
            return rows
        ids = np.asarray(ids, dtype=np.int64)
        keep = ~self.hit(record, "gap", symbol, ids)
        rows, ids = [r for r, k in zip(rows, keep, strict=True) if k], ids[keep]
        for kind, mutate in (("nan", nan), ("negative", negative)):
            if mutate is None:
                continue
            hits, variants = self.hit(record, kind, symbol, ids), self.variant(record, kind, symbol, ids)
            rows = [mutate(r, float(v)) if h else r for r, h, v in zip(rows, hits, variants, strict=True)]
        doubled = self.hit(record, "duplicate", symbol, ids)
        served: list[Row] = []
        served_ids: list[int] = []
        for row, row_id, twice in zip(rows, ids, doubled, strict=True):
            served += [row, row] if twice else [row]
            served_ids += [int(row_id)] * (2 if twice else 1)
        swapped = self.hit(record, "out_of_order", symbol, served_ids)
        for i in range(len(served) - 1):
            if swapped[i]:
                served[i], served[i + 1] = served[i + 1], served[i]
        return served


def nan_value(variant: float) -> None | str:
    """JSON null or the string "NaN", by the variant draw."""
    return None if variant < 0.5 else "NaN"


def negated(value: Any) -> Any:
    """A value made negative, in the type KuCoin sends (number or decimal string)."""
    if isinstance(value, str):
        return value if value.startswith("-") else "-" + value
    return -abs(value) if value else -1
