{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol_a", "symbol_b", "as_of"],
        incremental_predicates=[bucket_delete_predicate("as_of", 86400, shift="1 day")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol_a", "symbol_b", "as_of"], "unique": true},
            {"columns": ["as_of"]},
        ],
    )
}}
{%- set p = correlation_parameters() -%}
{%- set window_days, min_observations, day = p["window_days"], p["min_observations"], 86400 -%}
{%- set sums = correlation_sums() -%}
-- Pearson correlation of the 1-hour log returns of each pair of contracts (symbol_a < symbol_b)
-- over the {{ window_days }} UTC days ending at as_of (the end of a UTC day; var correlations.window_days),
-- from the pairwise-complete observations: the hours in which both have a 1-hour return
-- (int_return_comoments_1d), i.e. pandas DataFrame.corr(method="pearson", min_periods={{ min_observations }}) of the
-- window's returns pivoted to one column per contract. The window's sums n, sum_a, ..., sum_ab are
-- the pair's cumulative sums at its last daily row up to the as_of day minus those at its last
-- row before the window (exact numeric differences), and with the exact numeric
--   n_sxx = n sum_aa - sum_a^2,  n_syy = n sum_bb - sum_b^2,  n_sxy = n sum_ab - sum_a sum_b
-- (n times the sums of squared and cross deviations from the pair's own means over the window),
--   correlation = n_sxy / (sqrt(n_sxx) sqrt(n_syy))
-- (the n - 1 of the sample covariance and variances cancel), in double precision and clamped to
-- [-1, 1]. Null when n < {{ min_observations }} (var correlations.min_observations) or when either variance is 0
-- (a contract that did not move: the correlation is undefined; pandas returns NaN).
-- A pair has a row on each as_of day whose window holds at least one of its common returns; as_of
-- days are the days with a daily comoment row. A run rebuilds the as_of days its window falls in:
-- per pair two rows of int_return_comoments_1d, found by index probes, whatever the window's
-- length or the history's. The current day is partial until it is over (is_complete).

with rebuilt_days as (
    -- the UTC days this run rebuilds that hold any daily row: one index probe per day (a max(),
    -- which PostgreSQL answers from the index; an exists would become a join of the whole table)
    select days.day_start
    from generate_series(
        (select min(bucket_start) from {{ ref("int_return_comoments_1d") }} where {{ in_bucket_window("bucket_start", day) }}),
        (select max(bucket_start) from {{ ref("int_return_comoments_1d") }} where {{ in_bucket_window("bucket_start", day) }}),
        interval '1 day'
    ) as days (day_start)
    where (
        select max(comoments.bucket_start) from {{ ref("int_return_comoments_1d") }} as comoments
        where comoments.bucket_start = days.day_start
    ) is not null
),

contract_days as (
    -- the days on which each contract has a 1-hour return, over the rebuilt days' windows
    select distinct symbol, {{ bucket_of("bucket_start", "1 day") }} as day_start
    from {{ ref("int_returns_1h") }}
    where bucket_start >= (select min(day_start) from rebuilt_days) - interval '{{ window_days - 1 }} days'
      and bucket_start < (select max(day_start) from rebuilt_days) + interval '1 day'
      and hours_since_previous_bar = 1
      and log_return_1 is not null
),

window_contracts as (
    -- the contracts with a 1-hour return in each rebuilt day's window
    select distinct rebuilt_days.day_start, contract_days.symbol
    from rebuilt_days
    inner join contract_days
        on contract_days.day_start > rebuilt_days.day_start - interval '{{ window_days }} days'
        and contract_days.day_start <= rebuilt_days.day_start
),

pair_rows as (
    -- each candidate pair's last daily row up to the day and its last one before the window
    -- (max() probes of the unique index; null when there is none)
    select
        a.day_start,
        a.symbol as symbol_a,
        b.symbol as symbol_b,
        (
            select max(comoments.bucket_start)
            from {{ ref("int_return_comoments_1d") }} as comoments
            where comoments.symbol_a = a.symbol and comoments.symbol_b = b.symbol
              and comoments.bucket_start <= a.day_start
        ) as last_day,
        (
            select max(comoments.bucket_start)
            from {{ ref("int_return_comoments_1d") }} as comoments
            where comoments.symbol_a = a.symbol and comoments.symbol_b = b.symbol
              and comoments.bucket_start <= a.day_start - interval '{{ window_days }} days'
        ) as last_day_before_window
    from window_contracts as a
    inner join window_contracts as b
        on b.day_start = a.day_start
        and b.symbol > a.symbol
),

window_sums as (
    select
        pair_rows.day_start,
        pair_rows.symbol_a,
        pair_rows.symbol_b,
        {%- for column in sums %}
        last_row.cum_{{ column }} - coalesce(row_before.cum_{{ column }}, 0) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from pair_rows
    -- the two rows by their keys (index probes per pair, never a scan of the table)
    {%- for row, day_column in [("last_row", "last_day"), ("row_before", "last_day_before_window")] %}
    left join lateral (
        select comoments.cum_{{ sums | join(", comoments.cum_") }}
        from {{ ref("int_return_comoments_1d") }} as comoments
        where comoments.symbol_a = pair_rows.symbol_a
          and comoments.symbol_b = pair_rows.symbol_b
          and comoments.bucket_start = pair_rows.{{ day_column }}
        offset 0  -- keeps the subquery a per-pair probe (not flattened into a join of the table)
    ) as {{ row }} on true
    {%- endfor %}
    -- a pair whose last row is before the window has no common return in it
    where pair_rows.last_day > pair_rows.day_start - interval '{{ window_days }} days'
),

deviations as (
    select
        day_start,
        symbol_a,
        symbol_b,
        n,
        n * sum_aa - sum_a * sum_a as n_sxx,
        n * sum_bb - sum_b * sum_b as n_syy,
        n * sum_ab - sum_a * sum_b as n_sxy
    from window_sums
)

select
    day_start + interval '1 day' as as_of,
    symbol_a,
    symbol_b,
    n as n_observations,
    case
        when n >= {{ min_observations }} and n_sxx > 0 and n_syy > 0
            then greatest(-1.0::double precision, least(1.0::double precision,
                n_sxy::double precision / (sqrt(n_sxx::double precision) * sqrt(n_syy::double precision))))
    end as correlation,
    coalesce(day_start + interval '1 day' <= {{ returns_complete_through() }}, false) as is_complete
from deviations
