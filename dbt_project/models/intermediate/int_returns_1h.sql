{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "bucket_start"],
        incremental_predicates=[window_delete_predicate("bucket_start")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "bucket_start"], "unique": true},
            {"columns": ["bucket_start"]},
        ],
    )
}}
{%- set horizons = indicator_parameters()["return_horizons"] -%}
-- Returns of each contract's 1h closes over {{ horizons | join(", ") }} bars (var indicators.return_horizons):
--   simple_return_h = (close - close h bars back) / close h bars back (TA-Lib ROCP(close, h); 0 if
--                     that close is 0)
--   log_return_h    = ln(close / close h bars back)
-- null for the first h bars. The series is the bars as they exist: across a gap the h bars span
-- more than h hours (hours_since_previous_bar shows where).
--
-- Nothing is recursive here, but the lags reach back: an incremental run reads per contract the
-- last {{ horizons | max }} rows stored before its window (their closes; from carry_start), whatever the history
-- length (macros/incremental_carry.sql).

with window_bars as (
    select symbol, bucket_start, close
    from {{ ref("int_candles_1h") }}
    where {{ in_build_window("bucket_start") }}
),

{% if is_incremental() %}
carried_state as (
    {{ stored_state("window_bars", ["symbol", "bucket_start", "carry_start"]) }}
),

carried_rows as (
    {{ stored_rows_before_window("carried_state", ["symbol", "bucket_start", "close"]) }}
),

continuous_symbols as (
    {{ continuous_symbols("window_bars", "carried_state") }}
),
{% endif %}

series as (
    select symbol, bucket_start, close, true as is_rebuilt
    from window_bars
    {%- if is_incremental() %}
    where symbol in (select symbol from continuous_symbols)
    union all
    select symbol, bucket_start, close, false as is_rebuilt
    from carried_rows
    {%- endif %}
),

lagged_closes as (
    select
        symbol,
        bucket_start,
        close,
        is_rebuilt,
        {{ carry_start(horizons | max) }} as carry_start,
        (extract(epoch from bucket_start - lag(bucket_start) over symbol_bars) / 3600)::integer as hours_since_previous_bar,
        {%- for h in horizons %}
        lag(close, {{ h }}) over symbol_bars as close_{{ h }}_bars_back{{ "," if not loop.last }}
        {%- endfor %}
    from series
    window symbol_bars as (partition by symbol order by bucket_start)
)

select
    symbol,
    bucket_start,
    close,
    hours_since_previous_bar,
    {%- for h in horizons %}
    case
        when close_{{ h }}_bars_back = 0 then 0.0::double precision
        else (close - close_{{ h }}_bars_back) / close_{{ h }}_bars_back
    end as simple_return_{{ h }},
    ln(close / nullif(close_{{ h }}_bars_back, 0)) as log_return_{{ h }}{{ "," if not loop.last }}
    {%- endfor %},
    carry_start
from lagged_closes
where is_rebuilt
