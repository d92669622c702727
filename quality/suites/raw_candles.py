"""Gate on raw.candles_1m for a window of open times: keys, OHLC consistency, volumes, completeness."""

from __future__ import annotations

from datetime import UTC, datetime

import great_expectations as gx

from quality.gate import SuiteSpec, unexpected_rows

NAME = "raw_candles_1m"
KEY_COLUMNS = ("symbol", "open_time")
PRICE_COLUMNS = ("open", "high", "low", "close")

# Every minute a succeeded batch requested for a symbol inside the window must be stored once.
# range_agg merges the spans of overlapping batches (re-runs, different chunkings).
_MINUTES_COMPLETE = """
with requested as (
    select s.symbol,
           unnest(range_agg(tstzrange(s.span_start, s.span_end))
                  * tstzmultirange(tstzrange('{start}', '{end}'))) as span
    from raw.load_batch_symbols s
    join raw.load_batches b using (batch_id)
    where b.status = 'succeeded' and b.window_start < '{end}' and b.window_end > '{start}'
    group by s.symbol
),
expected as (
    select symbol, sum(extract(epoch from upper(span) - lower(span)) / 60)::bigint as expected_minutes
    from requested
    group by symbol
),
stored as (
    select symbol, count(*) as stored_minutes from {{batch}} as window_candles group by symbol
)
select e.symbol, e.expected_minutes, coalesce(s.stored_minutes, 0) as stored_minutes
from expected e
left join stored s using (symbol)
where coalesce(s.stored_minutes, 0) <> e.expected_minutes
"""


def suite(start: datetime, end: datetime) -> SuiteSpec:
    s, e = _literal(start), _literal(end)
    expect = gx.expectations
    expectations = [
        *(expect.ExpectColumnValuesToNotBeNull(column=c, meta={"rule": f"{c}_not_null"}) for c in (*KEY_COLUMNS, *PRICE_COLUMNS, "volume", "batch_id")),
        expect.ExpectCompoundColumnsToBeUnique(column_list=list(KEY_COLUMNS), meta={"rule": "key_unique"}),
        *(
            expect.ExpectColumnValuesToBeBetween(column=c, min_value=0, strict_min=True, meta={"rule": f"{c}_positive"})
            for c in PRICE_COLUMNS
        ),
        expect.ExpectColumnValuesToBeBetween(column="volume", min_value=0, meta={"rule": "volume_non_negative"}),
        expect.ExpectColumnPairValuesAToBeGreaterThanB(column_A="high", column_B="low", or_equal=True, meta={"rule": "high_gte_low"}),
        expect.ExpectColumnPairValuesAToBeGreaterThanB(column_A="high", column_B="open", or_equal=True, meta={"rule": "high_gte_open"}),
        expect.ExpectColumnPairValuesAToBeGreaterThanB(column_A="high", column_B="close", or_equal=True, meta={"rule": "high_gte_close"}),
        expect.ExpectColumnPairValuesAToBeGreaterThanB(column_A="open", column_B="low", or_equal=True, meta={"rule": "low_lte_open"}),
        expect.ExpectColumnPairValuesAToBeGreaterThanB(column_A="close", column_B="low", or_equal=True, meta={"rule": "low_lte_close"}),
        unexpected_rows(
            "minutes_complete",
            "Every minute requested for a symbol in the window is stored exactly once.",
            _MINUTES_COMPLETE.format(start=s, end=e),
        ),
    ]
    query = (
        "select symbol, open_time, open, high, low, close, volume, batch_id from raw.candles_1m "
        f"where open_time >= '{s}' and open_time < '{e}'"
    )
    return SuiteSpec(name=NAME, batch_query=query, expectations=expectations, key_columns=KEY_COLUMNS)


def _literal(moment: datetime) -> str:
    # Built from a datetime (never from input text), so it is safe inside the SQL literal.
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
