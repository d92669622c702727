{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "day"],
        incremental_predicates=[bucket_delete_predicate("day", 86400)],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "day"], "unique": true},
            {"columns": ["day"]},
        ],
    )
}}
-- Data quality of the 1-minute candles of each followed contract per UTC day: completeness,
-- gaps, duplicates, quarantined records by rule and load latency. A run rebuilds every day that
-- overlaps its window, from all the rows of that day (like the 1d bars), so a sequence of hourly
-- windows gives what a full refresh gives.
--
-- Expected minutes: those succeeded candle loads requested for the symbol (raw.load_batch_symbols
-- spans, merged with range_agg so overlapping re-runs count once) while the contract was listed
-- (the minute ends after listed_at and starts before expires_at, from marts.dim_symbols; a
-- contract the symbol master does not know is taken as listed). A minute is present when
-- raw.candles_1m stores it (after the GX gate: a gate-quarantined minute is missing).

with requested_loads as (
    -- the succeeded candle loads' per-symbol spans that reach into the window's days
    select requested.symbol, requested.batch_id, requested.span_start, requested.span_end
    from {{ ref("stg_kucoin__load_batch_symbols") }} as requested
    inner join {{ ref("stg_kucoin__load_batches") }} as batches
        on batches.batch_id = requested.batch_id
    where batches.asset = 'kucoin_candles_1m'
        and batches.status = 'succeeded'
        and requested.status = 'succeeded'
        and requested.span_start < {{ bucket_window_end(86400) }}
        and requested.span_end > {{ bucket_window_start(86400) }}
),

requested_spans as (
    select
        symbol,
        unnest(
            range_agg(tstzrange(span_start, span_end))
            * tstzmultirange(tstzrange({{ bucket_window_start(86400) }}, {{ bucket_window_end(86400) }}))
        ) as span
    from requested_loads
    group by symbol
),

expected_minutes as (
    select requested_spans.symbol, minute
    from requested_spans
    cross join lateral generate_series(lower(requested_spans.span), upper(requested_spans.span) - interval '1 minute', interval '1 minute') as minute
    left join {{ ref("dim_symbols") }} as symbols
        on symbols.symbol = requested_spans.symbol
    where (symbols.listed_at is null or minute + interval '1 minute' > symbols.listed_at)
        and (symbols.expires_at is null or minute < symbols.expires_at)
),

stored_minutes as (
    select
        candles.symbol,
        candles.open_time as minute,
        candles.batch_id,
        -- received (the end of the load that inserted the minute) - event time (the minute's close)
        extract(epoch from batches.finished_at - candles.close_time) as latency_seconds
    from {{ ref("stg_kucoin__candles_1m") }} as candles
    inner join {{ ref("stg_kucoin__load_batches") }} as batches
        on batches.batch_id = candles.batch_id
    where {{ in_bucket_window("candles.open_time", 86400) }}
),

missing_minutes as (
    select symbol, date_trunc('day', minute, 'UTC') as day, minute
    from expected_minutes
    where not exists (
        select 1 from stored_minutes
        where stored_minutes.symbol = expected_minutes.symbol and stored_minutes.minute = expected_minutes.minute
    )
),

gaps as (
    -- runs of consecutive missing minutes (gaps and islands: a run shares minute - rank * 1
    -- minute), cut at midnight so that each day's gaps depend on that day alone
    select symbol, day, count(*) as gap_minutes
    from (
        select symbol, day, minute - (row_number() over (partition by symbol, day order by minute)) * interval '1 minute' as run_key
        from missing_minutes
    ) as runs
    group by symbol, day, run_key
),

quarantined_records as (
    select symbol, date_trunc('day', open_time, 'UTC') as day, rule, batch_id
    from {{ ref("stg_kucoin__quarantined_candles_1m") }}
    where {{ in_bucket_window("open_time", 86400) }} and symbol is not null
),

quarantined as (
    select symbol, day, rule, count(*) as records
    from quarantined_records
    group by symbol, day, rule
),

symbol_days as (
    select symbol, date_trunc('day', minute, 'UTC') as day from expected_minutes
    union
    select symbol, date_trunc('day', minute, 'UTC') from stored_minutes
    union
    select symbol, day from quarantined
),

day_batches as (
    -- lineage: the loads that requested the day, stored its minutes or quarantined its records
    select symbol_days.symbol, symbol_days.day, requested_loads.batch_id
    from symbol_days
    inner join requested_loads
        on requested_loads.symbol = symbol_days.symbol
        and requested_loads.span_start < symbol_days.day + interval '1 day'
        and requested_loads.span_end > symbol_days.day
    union
    select symbol, date_trunc('day', minute, 'UTC'), batch_id from stored_minutes
    union
    select symbol, day, batch_id from quarantined_records where batch_id is not null
),

day_lineage as (
    select symbol, day, array_agg(batch_id order by batch_id) as input_batch_ids
    from day_batches
    group by symbol, day
),

quarantine_summary as (
    select
        symbol,
        day,
        sum(records) filter (where rule = 'duplicate_key') as duplicate_records,
        sum(records) as quarantined_records,
        jsonb_object_agg(rule, records order by rule) as quarantined_by_rule
    from quarantined
    group by symbol, day
)

select
    symbol_days.symbol,
    symbol_days.day,
    coalesce(expected.minutes, 0)::integer as minutes_expected,
    coalesce(expected.present, 0)::integer as minutes_present,
    coalesce(stored.minutes, 0)::integer as minutes_stored,
    expected.present::double precision / nullif(expected.minutes, 0) as completeness,
    coalesce(gap_summary.gap_count, 0)::integer as gap_count,
    coalesce(gap_summary.longest_gap_minutes, 0)::integer as longest_gap_minutes,
    coalesce(quarantine_summary.duplicate_records, 0)::integer as duplicate_records,
    coalesce(quarantine_summary.quarantined_records, 0)::integer as quarantined_records,
    coalesce(quarantine_summary.quarantined_by_rule, '{}'::jsonb) as quarantined_by_rule,
    stored.latency_p50_seconds,
    stored.latency_max_seconds,
    coalesce(day_lineage.input_batch_ids, '{}'::bigint[]) as input_batch_ids
from symbol_days
left join (
    select
        expected_minutes.symbol,
        date_trunc('day', expected_minutes.minute, 'UTC') as day,
        count(*) as minutes,
        count(stored_minutes.minute) as present
    from expected_minutes
    left join stored_minutes
        on stored_minutes.symbol = expected_minutes.symbol and stored_minutes.minute = expected_minutes.minute
    group by 1, 2
) as expected
    on expected.symbol = symbol_days.symbol and expected.day = symbol_days.day
left join (
    select
        symbol,
        date_trunc('day', minute, 'UTC') as day,
        count(*) as minutes,
        percentile_cont(0.5) within group (order by latency_seconds) as latency_p50_seconds,
        max(latency_seconds)::double precision as latency_max_seconds
    from stored_minutes
    group by 1, 2
) as stored
    on stored.symbol = symbol_days.symbol and stored.day = symbol_days.day
left join (
    select symbol, day, count(*) as gap_count, max(gap_minutes) as longest_gap_minutes
    from gaps
    group by symbol, day
) as gap_summary
    on gap_summary.symbol = symbol_days.symbol and gap_summary.day = symbol_days.day
-- joined, not looked up per row: a correlated subquery over the day's CTEs scans them once per
-- symbol-day (at 500 contracts x 30 days, 15,000 scans of 21.6M stored minutes)
left join quarantine_summary
    on quarantine_summary.symbol = symbol_days.symbol and quarantine_summary.day = symbol_days.day
left join day_lineage
    on day_lineage.symbol = symbol_days.symbol and day_lineage.day = symbol_days.day
