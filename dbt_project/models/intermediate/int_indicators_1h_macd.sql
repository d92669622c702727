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
{%- set fast, slow, signal = p["macd_fast_period"], p["macd_slow_period"], p["macd_signal_period"] -%}
{%- set first_bar = slow + signal - 1 -%}
-- MACD({{ fast }}, {{ slow }}, {{ signal }}) of each contract's 1h closes exactly as TA-Lib's MACD computes it:
--   slow EMA: EMA({{ slow }}) of the closes from the contract's first bar (seeded with the SMA of the
--             first {{ slow }} closes);
--   fast EMA: EMA({{ fast }}) aligned on the slow one, as TA-Lib does (TA_INT_MACD computes the fast EMA
--             from the slow one's first output bar back): it skips the first {{ slow - fast }} closes and is
--             seeded with the SMA of closes {{ slow - fast + 1 }}..{{ slow }}, so both start at bar {{ slow }};
--   macd = fast EMA - slow EMA; macd_signal = EMA({{ signal }}) of macd from bar {{ slow }} (seeded with the
--             SMA of its first {{ signal }} values); macd_hist = macd - macd_signal.
-- Every EMA is zmart_fn.ema (TA-Lib's fused update). TA-Lib outputs nothing before the signal's
-- first value, so all three are null for the first {{ first_bar - 1 }} bars. Periods from var indicators.macd.
--
-- The series is the bars as they exist (a missing hour is skipped, not filled). An incremental
-- run reads per contract only the last row stored before its window: its three EMA states seed
-- the recursions (macros/incremental_carry.sql).

with window_bars as (
    select symbol, bucket_start, close
    from {{ ref("int_candles_1h") }}
    where {{ in_build_window("bucket_start") }}
),

{% if is_incremental() %}
carried_state as (
    {{ stored_state("window_bars", [
        "symbol", "bucket_start", "bar_number", "macd_fast_state", "macd_slow_state", "macd_signal_state",
    ]) }}
),

continuous_symbols as (
    {{ continuous_symbols("window_bars", "carried_state") }}
),
{% endif %}

numbered_bars as (
    select
        window_bars.symbol,
        window_bars.bucket_start,
        window_bars.close,
        coalesce({{ carried("bar_number", "bigint") }}, 0)
            + row_number() over (partition by window_bars.symbol order by window_bars.bucket_start) as bar_number
    from window_bars
    {%- if is_incremental() %}
    left join carried_state on carried_state.symbol = window_bars.symbol
    where window_bars.symbol in (select symbol from continuous_symbols)
    {%- endif %}
),

averages as (
    select
        numbered_bars.*,
        zmart_fn.ema(
            case when numbered_bars.bar_number > {{ slow - fast }} then numbered_bars.close end,
            {{ fast }},
            {{ carried("macd_fast_state", "double precision[]") }}
        ) over rebuilt_bars as macd_fast_state,
        zmart_fn.ema(numbered_bars.close, {{ slow }}, {{ carried("macd_slow_state", "double precision[]") }}) over rebuilt_bars as macd_slow_state
    from numbered_bars
    {%- if is_incremental() %}
    left join carried_state on carried_state.symbol = numbered_bars.symbol
    {%- endif %}
    window rebuilt_bars as (
        partition by numbered_bars.symbol
        order by numbered_bars.bucket_start
        rows between unbounded preceding and current row
    )
),

macd_lines as (
    select
        averages.*,
        zmart_fn.ema_value(macd_fast_state, {{ fast }}) - zmart_fn.ema_value(macd_slow_state, {{ slow }}) as macd_line
    from averages
),

signals as (
    select
        macd_lines.*,
        zmart_fn.ema(macd_lines.macd_line, {{ signal }}, {{ carried("macd_signal_state", "double precision[]") }}) over (
            partition by macd_lines.symbol
            order by macd_lines.bucket_start
            rows between unbounded preceding and current row
        ) as macd_signal_state
    from macd_lines
    {%- if is_incremental() %}
    left join carried_state on carried_state.symbol = macd_lines.symbol
    {%- endif %}
)

select
    symbol,
    bucket_start,
    close,
    bar_number,
    case when bar_number >= {{ first_bar }} then macd_line end as macd,
    zmart_fn.ema_value(macd_signal_state, {{ signal }}) as macd_signal,
    case when bar_number >= {{ first_bar }} then macd_line - zmart_fn.ema_value(macd_signal_state, {{ signal }}) end as macd_hist,
    macd_fast_state,
    macd_slow_state,
    macd_signal_state
from signals
