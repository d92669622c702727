"""Expectations shared by the suites of several layers: keys, and the consistency of an OHLC bar."""

from __future__ import annotations

from collections.abc import Sequence

import great_expectations as gx
from great_expectations.expectations import Expectation

from quality.gate import unexpected_rows

PRICE_COLUMNS = ("open", "high", "low", "close")


def key_expectations(key_columns: Sequence[str]) -> list[Expectation]:
    """Every key column present, and the key unique within the batch.

    Uniqueness is one grouping of the batch by its key, listing each repeated key with its copies:
    GX's ExpectCompoundColumnsToBeUnique joins every row back to its key's count, 86.6 s against
    67.4 s (the query, run twice by GX) for the 21.6M candles of a 30-day window of 500 contracts
    (docs/benchmarks.md).
    """
    expect = gx.expectations
    keys = ", ".join(key_columns)
    unique = unexpected_rows(
        "key_unique",
        f"The key ({keys}) is unique within the batch.",
        f"select {keys}, count(*) as copies from {{batch}} group by {keys} having count(*) > 1",
    )
    return [*(expect.ExpectColumnValuesToNotBeNull(column=c, meta={"rule": f"{c}_not_null"}) for c in key_columns), unique]


def ohlc_expectations(volume_column: str) -> list[Expectation]:
    """Positive prices, high >= max(open, close) >= min(open, close) >= low, and a volume >= 0."""
    expect = gx.expectations
    pairs = (("high", "low", "high_gte_low"), ("high", "open", "high_gte_open"), ("high", "close", "high_gte_close"),
             ("open", "low", "low_lte_open"), ("close", "low", "low_lte_close"))
    return [
        *(expect.ExpectColumnValuesToNotBeNull(column=c, meta={"rule": f"{c}_not_null"}) for c in (*PRICE_COLUMNS, volume_column)),
        *(
            expect.ExpectColumnValuesToBeBetween(column=c, min_value=0, strict_min=True, meta={"rule": f"{c}_positive"})
            for c in PRICE_COLUMNS
        ),
        expect.ExpectColumnValuesToBeBetween(column=volume_column, min_value=0, meta={"rule": f"{volume_column}_non_negative"}),
        *(
            expect.ExpectColumnPairValuesAToBeGreaterThanB(column_A=a, column_B=b, or_equal=True, meta={"rule": rule})
            for a, b, rule in pairs
        ),
    ]
