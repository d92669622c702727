{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol_a", "symbol_b", "bucket_start"],
        incremental_predicates=[bucket_delete_predicate("bucket_start", 86400)],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol_a", "symbol_b", "bucket_start"], "unique": true},
            {"columns": ["bucket_start"]},
        ],
    )
}}
{%- set day, sums = 86400, correlation_sums() -%}
-- Sufficient statistics of Pearson's correlation per pair of contracts (symbol_a < symbol_b) and
-- UTC day, over the hours in which both have a 1-hour log return r (int_returns_1h.log_return_1
-- of a bar whose previous bar is exactly one hour earlier; a return across a gap spans several
-- hours and is left out):
--   n = the day's number of such hours, and, cumulated over the pair's days up to this one,
--   cum_n = sum n, cum_sum_a = sum r_a, cum_sum_b = sum r_b, cum_sum_aa = sum r_a^2,
--   cum_sum_bb = sum r_b^2, cum_sum_ab = sum r_a r_b.
-- The sums over any span of days are differences of two rows: int_return_correlations_30d reads two
-- rows per pair, not one per day of its window. That is exact because the sums are numeric, of the
-- returns cast to numeric (15 significant digits, as PostgreSQL casts a double): exact whatever the
-- order of addition, so every plan and every sequence of windows gives the same digits, and
-- neither the differences nor the centred sums formed from them (n sum_aa - sum_a^2, ...) lose any.
-- A pair has a row on a day with at least one common 1-hour return. An hourly window rebuilds the
-- whole UTC day it falls in (macros/window.sql, bucket_window_*), from all its hours, so the current
-- day is rewritten every hour (is_complete false until the day is over). An incremental run
-- continues each pair's sums from its last row before the window (the last built day's rows, an
-- index range; two index probes per pair that has none that day); windows must be built in time order.
--
-- Cost: the pairs of a day are formed once, not once per hour: each contract's day is a vector of
-- 24 returns (null where it has none), the vectors of a day are self-joined on the day (n(n - 1) / 2
-- rows: 124,750 for 500 contracts) and each pair's sums are taken over its two vectors. Joining the
-- hourly rows instead gives 24 times as many rows to sort and group by pair (one day of 500
-- contracts: 6.0 s against 2.6 s for the vectors, EXPLAIN ANALYZE on the same machine).

with hourly_returns as (
    select
        symbol,
        bucket_start,
        {{ bucket_of("bucket_start", "1 day") }} as day_start,
        log_return_1::numeric as r
    from {{ ref("int_returns_1h") }}
    where {{ in_bucket_window("bucket_start", day) }}
      and hours_since_previous_bar = 1
      and log_return_1 is not null
),

return_vectors as (
    -- each contract's day as 24 returns in hour order, null where it has no 1-hour return
    select
        contract_days.symbol,
        contract_days.day_start,
        array_agg(hourly_returns.r order by hours.hour_of_day) as r
    from (select distinct symbol, day_start from hourly_returns) as contract_days
    cross join generate_series(0, 23) as hours (hour_of_day)
    left join hourly_returns
        on hourly_returns.symbol = contract_days.symbol
        and hourly_returns.bucket_start = contract_days.day_start + hours.hour_of_day * interval '1 hour'
    group by contract_days.symbol, contract_days.day_start
),

daily_sums as (
    select
        a.day_start as bucket_start,
        a.symbol as symbol_a,
        b.symbol as symbol_b,
        sums.n,
        sums.sum_a,
        sums.sum_b,
        sums.sum_aa,
        sums.sum_bb,
        sums.sum_ab
    from return_vectors as a
    inner join return_vectors as b
        on b.day_start = a.day_start
        and b.symbol > a.symbol
    cross join lateral (
        -- the hours in which both have a return
        select
            count(*)::smallint as n,
            sum(hour.r_a) as sum_a,
            sum(hour.r_b) as sum_b,
            sum(hour.r_a * hour.r_a) as sum_aa,
            sum(hour.r_b * hour.r_b) as sum_bb,
            sum(hour.r_a * hour.r_b) as sum_ab
        from unnest(a.r, b.r) as hour (r_a, r_b)
        where hour.r_a is not null and hour.r_b is not null
    ) as sums
    where sums.n > 0
){% if is_incremental() %},

last_built_day as (
    -- this model's last day before the window (a max() the index answers)
    select max(bucket_start) as day_start from {{ this }} where bucket_start < {{ bucket_window_start(day) }}
),

window_pairs as (
    select distinct symbol_a, symbol_b
    from daily_sums
    -- a day of 1h bars before the window without a row here means that day was never built into
    -- this model: the sums would continue from a wrong state (a day on which no two contracts
    -- share a 1-hour return stops it too: run with --full-refresh)
    where zmart_fn.assert_true(
        (select day_start from last_built_day)
            is not distinct from
        (select {{ bucket_of("max(bucket_start)", "1 day") }} from {{ ref("int_returns_1h") }} where bucket_start < {{ bucket_window_start(day) }}),
        '{{ this.identifier }}: int_returns_1h has bars on the day before the window but this model has no row there; '
        'build the earlier windows first (in time order) or run with --full-refresh'
    )
),

last_day_rows as (
    -- the rows of the last built day: nearly every pair's state to carry on,
    -- read as one range of the bucket_start index, whatever the history's length (one probe per
    -- pair into the unique index, which holds every day of every pair, costs more the longer the
    -- history: 2.2 s at 7 days against 3.1 s at 30 for 124,750 pairs, 0.1 to 0.4 s for the range)
    select stored.symbol_a, stored.symbol_b, stored.cum_{{ sums | join(", stored.cum_") }}
    from {{ this }} as stored
    where stored.bucket_start = (select day_start from last_built_day)
),

carried_state as (
    -- each pair's row at its last day before the window (none for a pair new in the window): from
    -- the last day's rows, else (a pair without a common return that day) found by two index probes
    select * from last_day_rows
    union all
    select window_pairs.symbol_a, window_pairs.symbol_b, stored.*
    from window_pairs
    cross join lateral (
        select stored.cum_{{ sums | join(", stored.cum_") }}
        from {{ this }} as stored
        where stored.symbol_a = window_pairs.symbol_a
          and stored.symbol_b = window_pairs.symbol_b
          and stored.bucket_start = (
              select max(earlier.bucket_start)
              from {{ this }} as earlier
              where earlier.symbol_a = window_pairs.symbol_a
                and earlier.symbol_b = window_pairs.symbol_b
                and earlier.bucket_start < {{ bucket_window_start(day) }}
          )
        offset 0  -- keeps the subquery a per-pair probe (not flattened into a join of the table)
    ) as stored
    where not exists (
        select from last_day_rows
        where last_day_rows.symbol_a = window_pairs.symbol_a
          and last_day_rows.symbol_b = window_pairs.symbol_b
    )
){% endif %}

select
    daily_sums.bucket_start,
    daily_sums.symbol_a,
    daily_sums.symbol_b,
    daily_sums.n,
    {%- for column in sums %}
    {% if is_incremental() %}coalesce(carried_state.cum_{{ column }}, 0) + {% endif -%}
    sum(daily_sums.{{ column }}) over pair_days{{ "::integer" if column == "n" }} as cum_{{ column }},
    {%- endfor %}
    coalesce(daily_sums.bucket_start + interval '1 day' <= {{ returns_complete_through() }}, false) as is_complete
from daily_sums
{%- if is_incremental() %}
left join carried_state
    on carried_state.symbol_a = daily_sums.symbol_a
    and carried_state.symbol_b = daily_sums.symbol_b
{%- endif %}
window pair_days as (
    partition by daily_sums.symbol_a, daily_sums.symbol_b
    order by daily_sums.bucket_start
    rows between unbounded preceding and current row
)
