"""orchestration.ingestion.binary_copy against PostgreSQL itself: what its numpy-built binary COPY
stores equals what psycopg's own row-by-row binary COPY stores from the same values, row for row
and in order, for every kind of value the loader sends (NULLs, empty and non-ASCII text, NaN,
infinities, -0.0, subnormal floats, extreme integers and times, rows of many layouts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest

from orchestration.ingestion.binary_copy import SIGNATURE, TRAILER, encode

TYPES = ["text", "timestamptz", "float8", "float8", "int8", "text"]
COLUMNS = "s text, t timestamptz, f float8, g float8, i int8, u text"
SYMBOLS = np.array(["XBTUSDTM", "ETHUSDTM", "1000PEPEUSDTM", "Ä€µ-USDTM", "", "A", "tab\tand\nnewline"], dtype=object)


def frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    symbols = pd.Series(SYMBOLS[rng.integers(0, len(SYMBOLS), n)], dtype="string")
    symbols[rng.random(n) < 0.1] = pd.NA
    times = pd.Series(pd.DatetimeIndex(rng.integers(-(10**12), 4 * 10**12, n).astype("datetime64[ms]"), tz=UTC).as_unit("us"))
    times[rng.random(n) < 0.1] = pd.NaT
    floats = rng.normal(size=n)
    for share, value in ((0.1, np.nan), (0.05, np.inf), (0.05, -np.inf), (0.05, -0.0), (0.05, 5e-324)):
        floats[rng.random(n) < share] = value
    return pd.DataFrame({
        "s": symbols,
        "t": times,
        "f": floats,
        "g": rng.random(n) * 1e-300,
        "i": np.concatenate([[np.iinfo(np.int64).min, np.iinfo(np.int64).max], rng.integers(-(2**62), 2**62, n)])[:n],
        "u": pd.Series(SYMBOLS[rng.integers(0, len(SYMBOLS), n)], dtype="string"),
    })


def stored(conn: psycopg.Connection[Any], table: str) -> list[tuple[Any, ...]]:
    # floats as text: NaN equals NaN, -0.0 shows its sign
    return conn.execute(f"select s, t, f::text, g::text, i, u from {table}").fetchall()


def psycopg_rows(conn: psycopg.Connection[Any], table: str, data: pd.DataFrame) -> None:
    def value(v: Any) -> Any:
        if v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v) or v == "":
            return None
        return v.to_pydatetime() if isinstance(v, pd.Timestamp) else v

    with conn.cursor().copy(f"copy {table} from stdin (format binary)") as copy:
        copy.set_types(TYPES)
        for row in data.itertuples(index=False):
            copy.write_row([value(v) for v in row])


@pytest.mark.parametrize("seed", range(6))
def test_the_encoding_stores_what_psycopg_stores(database_url: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = frame([0, 1, 7, 200, 1500, 4000][seed], rng)
    encoded = encode(data, TYPES)
    assert encoded is not None and encoded.startswith(SIGNATURE) and encoded.endswith(TRAILER)
    with psycopg.connect(database_url) as conn:
        conn.execute(f"create temporary table ours ({COLUMNS}); create temporary table theirs ({COLUMNS})")
        with conn.cursor().copy("copy ours from stdin (format binary)") as copy:
            copy.write(encoded)
        psycopg_rows(conn, "theirs", data)
        ours, theirs = stored(conn, "ours"), stored(conn, "theirs")
    assert len(ours) == len(data)
    assert ours == theirs


def test_columns_without_a_one_to_one_type_are_left_to_csv() -> None:
    moments = pd.Series(pd.DatetimeIndex([datetime(2026, 1, 1, tzinfo=UTC)]).as_unit("ns") + pd.Timedelta(nanoseconds=1))
    assert encode(pd.DataFrame({"t": moments}), ["timestamptz"]) is None  # PostgreSQL rounds the nanosecond in CSV
    assert encode(pd.DataFrame({"x": pd.Series(["a"], dtype=object)}), ["text"]) is None  # not a string dtype
    assert encode(pd.DataFrame({"x": [1.5]}), ["numeric"]) is None
    assert encode(pd.DataFrame({"x": pd.Series([1], dtype=np.int32)}), ["int8"]) is None
