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
{%- set p = indicator_parameters() -%}
{%- set sma_periods, ema_periods, wma_periods = p["sma_periods"], p["ema_periods"], p["wma_periods"] -%}
{#- rows carried from before the window: the close leaving each SMA window (period bars back)
    and the WMA frames (period - 1 bars back) -#}
{%- set carried_row_count = [sma_periods | max, (wma_periods | max) - 1] | max -%}
{%- set state_columns = [] -%}
{%- for n in sma_periods %}{% do state_columns.append("sma_" ~ n ~ "_state") %}{% endfor -%}
{%- for n in ema_periods %}{% do state_columns.append("ema_" ~ n ~ "_state") %}{% endfor -%}
-- Moving averages of each contract's 1h closes, as TA-Lib computes them, null during TA-Lib's
-- warm-up (the first period - 1 bars):
--   sma_n = TA-Lib SMA(close, n): a running window sum, (sum - close n bars back) + close, from
--           0.0, divided by n (TA_INT_SMA's arithmetic; zmart_fn.moving_sum). State sma_n_state =
--           the running sum after the bar.
--   ema_n = TA-Lib EMA(close, n): seeded with the SMA of the contract's first n closes, then
--           fma(close - ema, 2 / (n + 1), ema) (zmart_fn.ema). State ema_n_state = {n, value}.
--   wma_n = TA-Lib WMA(close, n): sum over the last n closes of close x its position (1 = oldest),
--           divided by n (n + 1) / 2 (zmart_fn.weighted_mean over a frame of n rows).
-- Periods from var indicators (sma_periods, ema_periods, wma_periods).
--
-- The series is the bars as they exist (a missing hour is skipped, not filled). An incremental
-- run reads per contract the last {{ carried_row_count }} stored rows before its window (from carry_start): their
-- closes complete the first frames and the latest row's states seed the recursions
-- (macros/incremental_carry.sql).

with window_bars as (
    select symbol, bucket_start, close
    from {{ ref("int_candles_1h") }}
    where {{ in_build_window("bucket_start") }}
),

{% if is_incremental() %}
carried_state as (
    {{ stored_state("window_bars", ["symbol", "bucket_start", "carry_start", "bar_number"] + state_columns) }}
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

framed_bars as (
    -- over the whole series (carried rows included): the closes leaving the SMA windows and the
    -- WMA frames
    select
        symbol,
        bucket_start,
        close,
        is_rebuilt,
        {{ carry_start(carried_row_count) }} as carry_start,
        {%- for n in sma_periods %}
        lag(close, {{ n }}) over symbol_bars as close_leaving_sma_{{ n }},
        {%- endfor %}
        {%- for n in wma_periods %}
        case when count(*) over wma_{{ n }}_frame = {{ n }} then zmart_fn.weighted_mean(close) over wma_{{ n }}_frame end as wma_{{ n }}{{ "," if not loop.last }}
        {%- endfor %}
    from series
    window
        symbol_bars as (partition by symbol order by bucket_start)
        {%- for n in wma_periods %},
        wma_{{ n }}_frame as (symbol_bars rows between {{ n - 1 }} preceding and current row)
        {%- endfor %}
),

recursions as (
    -- over the rebuilt bars only, each recursion continuing from the carried state
    select
        framed_bars.symbol,
        framed_bars.bucket_start,
        framed_bars.close,
        framed_bars.carry_start,
        coalesce({{ carried("bar_number", "bigint") }}, 0) + row_number() over rebuilt_bars as bar_number,
        {%- for n in sma_periods %}
        zmart_fn.moving_sum(framed_bars.close, framed_bars.close_leaving_sma_{{ n }}, {{ carried("sma_" ~ n ~ "_state") }}) over rebuilt_bars as sma_{{ n }}_state,
        {%- endfor %}
        {%- for n in ema_periods %}
        zmart_fn.ema(framed_bars.close, {{ n }}, {{ carried("ema_" ~ n ~ "_state", "double precision[]") }}) over rebuilt_bars as ema_{{ n }}_state,
        {%- endfor %}
        {%- for n in wma_periods %}
        framed_bars.wma_{{ n }}{{ "," if not loop.last }}
        {%- endfor %}
    from framed_bars
    {%- if is_incremental() %}
    left join carried_state on carried_state.symbol = framed_bars.symbol
    {%- endif %}
    where framed_bars.is_rebuilt
    window rebuilt_bars as (
        partition by framed_bars.symbol
        order by framed_bars.bucket_start
        rows between unbounded preceding and current row
    )
)

select
    symbol,
    bucket_start,
    close,
    bar_number,
    {%- for n in sma_periods %}
    case when bar_number >= {{ n }} then sma_{{ n }}_state / {{ n }} end as sma_{{ n }},
    {%- endfor %}
    {%- for n in ema_periods %}
    zmart_fn.ema_value(ema_{{ n }}_state, {{ n }}) as ema_{{ n }},
    {%- endfor %}
    {%- for n in wma_periods %}
    case when bar_number >= {{ n }} then wma_{{ n }} end as wma_{{ n }},
    {%- endfor %}
    {{ state_columns | join(",\n    ") }},
    carry_start
from recursions
