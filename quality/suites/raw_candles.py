"""Gates on raw.candles_1m for a window of open times: keys, OHLC consistency, volumes, every
requested minute accounted for (blocking); every requested minute stored (completeness, a warning)."""

from __future__ import annotations

from datetime import datetime

import great_expectations as gx

from quality.gate import SuiteSpec, sql_literal, unexpected_rows
from quality.suites.common import key_expectations, ohlc_expectations

NAME = "raw_candles_1m"
KEY_COLUMNS = ("symbol", "open_time")

# The minutes succeeded candle loads asked for in the window that are not stored, per symbol.
# range_agg merges the spans of overlapping batches (re-runs, different chunkings). The batch is
# read once, into one row per symbol and hour with a bit per stored minute of the hour (open times
# are whole minutes, migration V0012); only the hours whose requested minutes are not all stored
# have their minutes listed, and no minute is looked up in the batch: at 500 contracts x 30 days
# that replaces 21.6M requested minutes anti-joined with the 21.6M stored ones.
# The bit of a minute in its hour, and an hour's bits with every minute stored.
_MINUTE_BIT = "(1::bigint << extract(minute from {minute} at time zone 'UTC')::integer)"
_ALL_MINUTE_BITS = "((1::bigint << 60) - 1)"

_UNSTORED = """
requested as (
    select s.symbol,
           unnest(range_agg(tstzrange(s.span_start, s.span_end))
                  * tstzmultirange(tstzrange({start}, {end}))) as span
    from raw.load_batch_symbols s
    join raw.load_batches b using (batch_id)
    where b.asset = 'kucoin_candles_1m' and b.status = 'succeeded' and s.status = 'succeeded'
      and b.window_start < {end} and b.window_end > {start}
    group by s.symbol
),
requested_hours as (
    select requested.symbol, hour_start, requested.span * tstzrange(hour_start, hour_start + interval '1 hour') as requested_part
    from requested
    cross join lateral generate_series(
        date_bin('1 hour', lower(requested.span), timestamptz '2000-01-01 00:00:00+00'), upper(requested.span) - interval '1 minute',
        interval '1 hour'
    ) as hour_start
),
stored_hours as (
    select stored.symbol, date_bin('1 hour', stored.open_time, timestamptz '2000-01-01 00:00:00+00') as hour_start,
           bit_or({stored_bit}) as stored_minute_bits
    from {{batch}} as stored
    group by 1, 2
),
unstored_minutes as (
    select requested_hours.symbol, requested_minute as minute
    from requested_hours
    left join stored_hours using (symbol, hour_start)
    cross join lateral generate_series(
        lower(requested_hours.requested_part), upper(requested_hours.requested_part) - interval '1 minute', interval '1 minute'
    ) as requested_minute
    -- the first condition keeps an hour that stores all 60 minutes from being listed at all
    where coalesce(stored_hours.stored_minute_bits, 0) <> {all_bits}
      and coalesce(stored_hours.stored_minute_bits, 0) & {requested_bit} = 0
)"""

# Every requested minute is accounted for: stored, refused at load (quarantined with its rule),
# or recorded as not served by the exchange. A minute that is none of these was lost.
_MINUTES_ACCOUNTED_FOR = """
with {unstored}
select unstored_minutes.symbol, unstored_minutes.minute
from unstored_minutes
where not exists (select 1 from quarantine.candles_1m q
                  where q.stage = 'load' and q.symbol = unstored_minutes.symbol and q.open_time = unstored_minutes.minute)
  and not exists (select 1 from raw.load_batch_gaps g
                  where g.symbol = unstored_minutes.symbol and g.missing_at = unstored_minutes.minute)
"""

# Every requested minute is stored: what the exchange did not serve is missing here.
_MINUTES_COMPLETE = """
with {unstored}
select unstored_minutes.symbol, count(*) as missing_minutes
from unstored_minutes
group by unstored_minutes.symbol
"""


def suite(start: datetime, end: datetime) -> SuiteSpec:
    s, e = sql_literal(start), sql_literal(end)
    expectations = [
        *key_expectations(KEY_COLUMNS),
        gx.expectations.ExpectColumnValuesToNotBeNull(column="batch_id", meta={"rule": "batch_id_not_null"}),
        *ohlc_expectations("volume"),
        unexpected_rows(
            "minutes_accounted_for",
            "Every minute requested for a symbol in the window is stored, quarantined with its rule, or recorded as not served.",
            _MINUTES_ACCOUNTED_FOR.format(unstored=_unstored(s, e)),
        ),
    ]
    return SuiteSpec(name=NAME, batch_query=_window_query(s, e), expectations=expectations, key_columns=KEY_COLUMNS)


def completeness_suite(start: datetime, end: datetime) -> SuiteSpec:
    """Every requested minute stored: fails on the exchange's own gaps, so it warns rather than blocks."""
    s, e = sql_literal(start), sql_literal(end)
    return SuiteSpec(
        name=f"{NAME}_completeness",
        batch_query=_window_query(s, e),
        expectations=[
            unexpected_rows(
                "minutes_complete",
                "Every minute requested for a symbol in the window is stored.",
                _MINUTES_COMPLETE.format(unstored=_unstored(s, e)),
            )
        ],
        key_columns=KEY_COLUMNS,
    )


def _unstored(s: str, e: str) -> str:
    return _UNSTORED.format(
        start=s, end=e, all_bits=_ALL_MINUTE_BITS,
        stored_bit=_MINUTE_BIT.format(minute="stored.open_time"), requested_bit=_MINUTE_BIT.format(minute="requested_minute"),
    )


def _window_query(s: str, e: str) -> str:
    return f"select symbol, open_time, open, high, low, close, volume, batch_id from raw.candles_1m where open_time >= {s} and open_time < {e}"
