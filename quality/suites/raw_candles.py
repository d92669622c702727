"""Gates on raw.candles_1m for a window of open times: keys, OHLC consistency, volumes, every
requested minute accounted for (blocking); every requested minute stored (completeness, a warning)."""

from __future__ import annotations

from datetime import datetime

import great_expectations as gx

from quality.gate import SuiteSpec, sql_literal, unexpected_rows
from quality.suites.common import key_expectations, ohlc_expectations

NAME = "raw_candles_1m"
KEY_COLUMNS = ("symbol", "open_time")

# The minutes succeeded candle loads asked for in the window, per symbol: only those of the hours
# that do not store every one of their minutes. range_agg merges the spans of overlapping batches
# (re-runs, different chunkings). An hour wholly requested that stores 60 candles of the symbol
# stores each of its minutes (primary key (symbol, open_time), open times and spans on whole
# minutes: migration V0012), so it has nothing to list; at 500 contracts x 30 days that is
# every hour but the few with gaps, instead of 21.6M minutes generated and looked up.
_REQUESTED = """
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
        date_bin('1 hour', lower(requested.span), timestamptz '2000-01-01 00:00:00+00'), upper(requested.span) - interval '1 minute', interval '1 hour'
    ) as hour_start
),
stored_hours as (
    select stored.symbol, date_bin('1 hour', stored.open_time, timestamptz '2000-01-01 00:00:00+00') as hour_start, count(*) as stored_minutes
    from {{batch}} as stored
    group by 1, 2
),
requested_minutes as (
    select requested_hours.symbol, minute
    from requested_hours
    left join stored_hours using (symbol, hour_start)
    cross join lateral generate_series(lower(requested_hours.requested_part), upper(requested_hours.requested_part) - interval '1 minute', interval '1 minute') as minute
    where not (upper(requested_hours.requested_part) - lower(requested_hours.requested_part) = interval '1 hour'
               and coalesce(stored_hours.stored_minutes, 0) = 60)
)"""

# Every requested minute is accounted for: stored, refused at load (quarantined with its rule),
# or recorded as not served by the exchange. A minute that is none of these was lost.
_MINUTES_ACCOUNTED_FOR = """
with {requested}
select requested_minutes.symbol, requested_minutes.minute
from requested_minutes
where not exists (select 1 from {{batch}} as stored where stored.symbol = requested_minutes.symbol and stored.open_time = requested_minutes.minute)
  and not exists (select 1 from quarantine.candles_1m q
                  where q.stage = 'load' and q.symbol = requested_minutes.symbol and q.open_time = requested_minutes.minute)
  and not exists (select 1 from raw.load_batch_gaps g
                  where g.symbol = requested_minutes.symbol and g.missing_at = requested_minutes.minute)
"""

# Every requested minute is stored: what the exchange did not serve is missing here.
_MINUTES_COMPLETE = """
with {requested}
select requested_minutes.symbol, count(*) as missing_minutes
from requested_minutes
left join {{batch}} as stored on stored.symbol = requested_minutes.symbol and stored.open_time = requested_minutes.minute
where stored.symbol is null
group by requested_minutes.symbol
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
            _MINUTES_ACCOUNTED_FOR.format(requested=_REQUESTED.format(start=s, end=e)),
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
                _MINUTES_COMPLETE.format(requested=_REQUESTED.format(start=s, end=e)),
            )
        ],
        key_columns=KEY_COLUMNS,
    )


def _window_query(s: str, e: str) -> str:
    return f"select symbol, open_time, open, high, low, close, volume, batch_id from raw.candles_1m where open_time >= {s} and open_time < {e}"
