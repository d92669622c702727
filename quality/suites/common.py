"""Expectations shared by the suites of several layers: keys, and the consistency of an OHLC bar."""

from __future__ import annotations

from collections.abc import Sequence

import great_expectations as gx
from great_expectations.expectations import Expectation

PRICE_COLUMNS = ("open", "high", "low", "close")


def key_expectations(key_columns: Sequence[str]) -> list[Expectation]:
    """Every key column present, and the key unique within the batch."""
    expect = gx.expectations
    unique = (
        expect.ExpectColumnValuesToBeUnique(column=key_columns[0], meta={"rule": "key_unique"})
        if len(key_columns) == 1  # GX's compound form needs two columns
        else expect.ExpectCompoundColumnsToBeUnique(column_list=list(key_columns), meta={"rule": "key_unique"})
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
