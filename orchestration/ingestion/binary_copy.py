"""A frame in PostgreSQL's binary COPY format, built by numpy a layout at a time.

psycopg's ``write_row`` formats a row in C, but its input is Python objects: a chunk of 720,000
candles became 5.8 million floats and 720,000 datetimes before it was formatted, about 0.5 CPU s
of the loader's transaction, all of it holding the GIL the next chunk's fetch needs. Here each
column becomes one big-endian numpy array instead. A binary row is fixed-size apart from its
text fields and NULLs, so the rows are grouped by layout (their text lengths and NULLs): each
layout is one packed structured array, and the rows go out in the frame's order as runs of
consecutive rows of one layout (a candle chunk's runs are its symbols' hours).

The format (PostgreSQL's COPY documentation, "Binary Format"): a signature, then per row an int16
field count and per field an int32 byte length (-1: NULL) followed by the value in the type's
binary send format (float8 and int8: big-endian; timestamptz: int64 microseconds since
2000-01-01 UTC; text: its UTF-8 bytes), then an int16 -1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
TRAILER = b"\xff\xff"
_POSTGRES_EPOCH_US = 946_684_800_000_000  # 2000-01-01 00:00 UTC in microseconds since 1970


@dataclass(frozen=True)
class _Field:
    values: np.ndarray  # big-endian fixed width, or (text) the UTF-8 bytes of each row as numpy bytes
    sizes: np.ndarray  # int64 byte length per row; -1 = NULL


def encode(frame: pd.DataFrame, pg_types: Sequence[str]) -> bytes | None:
    """The frame's rows in binary COPY format, signature and trailer included, for columns of
    ``pg_types`` (float8, int8, text, timestamptz) whose dtype maps to them one to one; None when
    a column does not (the caller writes CSV). Missing values are NULL, and an empty text too, as
    COPY's CSV reads an empty field."""
    fields = [_field(frame[c], t) for c, t in zip(frame.columns, pg_types, strict=True)]
    if any(f is None for f in fields):
        return None
    present = [f for f in fields if f is not None]
    n = len(frame)
    if n == 0:
        return SIGNATURE + TRAILER
    # most columns have one size in every row: the layout is told by the others' sizes, combined
    # into one number per row (sizes are -1 or a byte length below 2^31) and hashed, not sorted
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    for f in present:
        if f.sizes.min() == f.sizes.max():
            continue
        span = int(f.sizes.max()) + 2
        if radix > np.iinfo(np.int64).max // span:
            return None  # too many varying columns to number their layouts: the caller writes CSV
        key += (f.sizes + 1) * radix
        radix *= span
    layout_of_row, _ = pd.factorize(key)
    first_row = np.unique(layout_of_row, return_index=True)[1]
    layouts = [[int(f.sizes[r]) for f in present] for r in first_row.tolist()]
    packed = [_pack(present, layout, np.flatnonzero(layout_of_row == i)) for i, layout in enumerate(layouts)]
    # runs of consecutive rows of one layout, each a slice of its layout's packed rows
    starts = np.flatnonzero(np.diff(layout_of_row, prepend=-1))
    ends = np.append(starts[1:], n)
    rank = np.empty(n, dtype=np.int64)  # each row's position among the rows of its layout
    for i in range(len(layouts)):
        rows = layout_of_row == i
        rank[rows] = np.arange(int(rows.sum()))
    pieces = [SIGNATURE]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        rows, width = packed[layout_of_row[start]]
        pieces.append(rows[rank[start] * width : (rank[start] + end - start) * width])
    pieces.append(TRAILER)
    return b"".join(pieces)


def _pack(fields: list[_Field], layout: list[int], rows: np.ndarray) -> tuple[memoryview, int]:
    """The rows of one layout as packed bytes, and the width of a row."""
    dtype: list[tuple[str, str]] = [("count", ">i2")]
    for j, size in enumerate(layout):
        dtype.append((f"length_{j}", ">i4"))
        if size > 0:
            dtype.append((f"value_{j}", fields[j].values.dtype.str if fields[j].values.dtype.kind != "S" else f"S{size}"))
    packed = np.empty(len(rows), dtype=np.dtype(dtype, align=False))
    packed["count"] = len(fields)
    for j, (field, size) in enumerate(zip(fields, layout, strict=True)):
        packed[f"length_{j}"] = size
        if size > 0:
            packed[f"value_{j}"] = field.values[rows]
    return memoryview(packed.view(np.uint8)), packed.dtype.itemsize


def _field(column: pd.Series, pg_type: str) -> _Field | None:
    dtype = column.dtype
    n = len(column)
    if pg_type == "float8" and dtype == np.float64:
        values = column.to_numpy(dtype=">f8")
        return _Field(values, np.where(np.isnan(values), -1, 8))
    if pg_type == "int8" and dtype == np.int64:
        return _Field(column.to_numpy(dtype=">i8"), np.full(n, 8))
    if pg_type == "timestamptz" and isinstance(dtype, pd.DatetimeTZDtype):
        times = column.array
        if times.unit == "ns" and (times.asi8 % 1000 != 0).any():
            return None  # sub-microsecond parts: CSV lets PostgreSQL round them
        microseconds = times.as_unit("us").asi8
        return _Field((microseconds - _POSTGRES_EPOCH_US).astype(">i8"), np.where(times.isna(), -1, 8))
    if pg_type == "text" and isinstance(dtype, pd.StringDtype):
        codes, texts = pd.factorize(column)  # a raw table's text columns repeat (symbols)
        encoded = np.array([t.encode() for t in texts] + [b""], dtype=object)  # code -1: missing
        lengths = np.array([len(b) for b in encoded], dtype=np.int64)
        lengths[lengths == 0] = -1  # missing or empty: NULL
        return _Field(np.array(encoded.tolist(), dtype=bytes)[codes], lengths[codes])
    return None
