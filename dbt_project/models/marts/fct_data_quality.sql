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
--
-- Read by the hour, listed by the minute only where needed: the stored candles become one row per
-- symbol and hour with a bit per stored minute (open times and request spans are whole minutes,
-- migration V0012). An hour wholly requested and listed with all 60 bits set has all of its
-- minutes and no gap; only the other hours' minutes are generated, each tested against its bit,
-- none looked up (at 500 contracts x 30 days, instead of 21.6M generated minutes joined to the
-- 21.6M stored ones).

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

requested_hours as (
    -- each requested span cut at the UTC hours, with the symbol's listing
    select
        requested_spans.symbol,
        hour_start,
        requested_spans.span * tstzrange(hour_start, hour_start + interval '1 hour') as requested_part,
        symbols.listed_at,
        symbols.expires_at
    from requested_spans
    cross join lateral generate_series(
        {{ bucket_of("lower(requested_spans.span)", "1 hour") }}, upper(requested_spans.span) - interval '1 minute', interval '1 hour'
    ) as hour_start
    left join {{ ref("dim_symbols") }} as symbols
        on symbols.symbol = requested_spans.symbol
),

stored_minutes as not materialized (
    -- inlined where read (by the hour and by the day), not written out as a CTE of 21.6M rows
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

stored_hours as (
    select
        symbol,
        {{ bucket_of("minute", "1 hour") }} as hour_start,
        bit_or({{ minute_bit("stored_minutes.minute") }}) as stored_minute_bits
    from stored_minutes
    group by 1, 2
),

requested_hour_coverage as (
    select
        requested_hours.symbol,
        requested_hours.hour_start,
        requested_hours.requested_part,
        requested_hours.listed_at,
        requested_hours.expires_at,
        coalesce(stored_hours.stored_minute_bits, 0) as stored_minute_bits,
        -- all 60 minutes requested, listed (each ends after listed_at and starts before
        -- expires_at) and stored
        upper(requested_hours.requested_part) - lower(requested_hours.requested_part) = interval '1 hour'
        and (requested_hours.listed_at is null or requested_hours.hour_start + interval '1 minute' > requested_hours.listed_at)
        and (requested_hours.expires_at is null or requested_hours.hour_start + interval '59 minutes' < requested_hours.expires_at)
        and coalesce(stored_hours.stored_minute_bits, 0) = {{ all_minute_bits() }} as is_whole_hour
    from requested_hours
    left join stored_hours
        on stored_hours.symbol = requested_hours.symbol
        and stored_hours.hour_start = requested_hours.hour_start
),

expected_minutes as (
    -- the expected minutes of the hours that are not whole, each with whether its bit is set
    select
        hours.symbol,
        requested.minute,
        hours.stored_minute_bits & {{ minute_bit("requested.minute") }} <> 0 as is_stored
    from requested_hour_coverage as hours
    cross join lateral generate_series(
        lower(hours.requested_part), upper(hours.requested_part) - interval '1 minute', interval '1 minute'
    ) as requested (minute)
    where not hours.is_whole_hour
        and (hours.listed_at is null or requested.minute + interval '1 minute' > hours.listed_at)
        and (hours.expires_at is null or requested.minute < hours.expires_at)
),

expected_days as (
    select symbol, day, sum(minutes) as minutes, sum(present) as present
    from (
        select symbol, date_trunc('day', hour_start, 'UTC') as day, 60 as minutes, 60 as present
        from requested_hour_coverage
        where is_whole_hour
        union all
        select symbol, date_trunc('day', minute, 'UTC'), 1, is_stored::integer
        from expected_minutes
    ) as expected_parts
    group by symbol, day
),

missing_minutes as (
    select symbol, date_trunc('day', minute, 'UTC') as day, minute
    from expected_minutes
    where not is_stored
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

gap_summary as (
    select symbol, day, count(*) as gap_count, max(gap_minutes) as longest_gap_minutes
    from gaps
    group by symbol, day
),

stored_days as (
    select
        symbol,
        date_trunc('day', minute, 'UTC') as day,
        count(*) as minutes,
        percentile_cont(0.5) within group (order by latency_seconds) as latency_p50_seconds,
        max(latency_seconds)::double precision as latency_max_seconds,
        array_agg(distinct batch_id) as batch_ids
    from stored_minutes
    group by 1, 2
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

quarantine_summary as (
    select
        symbol,
        day,
        sum(records) filter (where rule = 'duplicate_key') as duplicate_records,
        sum(records) as quarantined_records,
        jsonb_object_agg(rule, records order by rule) as quarantined_by_rule
    from quarantined
    group by symbol, day
),

symbol_days as (
    select symbol, day from expected_days
    union
    select symbol, day from stored_days
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
    select symbol, day, unnest(batch_ids) from stored_days
    union
    select symbol, day, batch_id from quarantined_records where batch_id is not null
),

day_lineage as (
    select symbol, day, array_agg(batch_id order by batch_id) as input_batch_ids
    from day_batches
    group by symbol, day
)

select
    symbol_days.symbol,
    symbol_days.day,
    coalesce(expected_days.minutes, 0)::integer as minutes_expected,
    coalesce(expected_days.present, 0)::integer as minutes_present,
    coalesce(stored_days.minutes, 0)::integer as minutes_stored,
    expected_days.present::double precision / nullif(expected_days.minutes, 0) as completeness,
    coalesce(gap_summary.gap_count, 0)::integer as gap_count,
    coalesce(gap_summary.longest_gap_minutes, 0)::integer as longest_gap_minutes,
    coalesce(quarantine_summary.duplicate_records, 0)::integer as duplicate_records,
    coalesce(quarantine_summary.quarantined_records, 0)::integer as quarantined_records,
    coalesce(quarantine_summary.quarantined_by_rule, '{}'::jsonb) as quarantined_by_rule,
    stored_days.latency_p50_seconds,
    stored_days.latency_max_seconds,
    coalesce(day_lineage.input_batch_ids, '{}'::bigint[]) as input_batch_ids
from symbol_days
-- joined, not looked up per row: a correlated subquery over the day's CTEs scans them once per
-- symbol-day (at 500 contracts x 30 days, 15,000 scans of 21.6M stored minutes)
left join expected_days
    on expected_days.symbol = symbol_days.symbol and expected_days.day = symbol_days.day
left join stored_days
    on stored_days.symbol = symbol_days.symbol and stored_days.day = symbol_days.day
left join gap_summary
    on gap_summary.symbol = symbol_days.symbol and gap_summary.day = symbol_days.day
left join quarantine_summary
    on quarantine_summary.symbol = symbol_days.symbol and quarantine_summary.day = symbol_days.day
left join day_lineage
    on day_lineage.symbol = symbol_days.symbol and day_lineage.day = symbol_days.day
