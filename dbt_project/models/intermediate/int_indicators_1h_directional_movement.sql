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
{%- set n = indicator_parameters()["adx_period"] -%}
-- Directional movement of each contract's 1h bars as TA-Lib computes it: adx_{{ n }} = TA-Lib ADX(high,
-- low, close, {{ n }}) (null for the first {{ 2 * n - 1 }} bars), plus_di_{{ n }} / minus_di_{{ n }} = PLUS_DI / MINUS_DI(high, low,
-- close, {{ n }}) (null for the first {{ n }} bars). One recursion, zmart_fn.dmi (macros/indicator_functions.sql):
--   +DM = high - previous high when that is > 0 and > previous low - low, else 0; -DM alike
--   downwards; TR = true range. The first {{ n - 1 }} bars' +DM, -DM, TR are summed, then each sum is
--   smoothed Wilder's way as TA-Lib does it, s = (s - s / {{ n }}) + today's value;
--   DI = 100 x DM sum / TR sum (0 when TR sum is 0); DX = 100 x |+DI - -DI| / (+DI + -DI);
--   ADX = the mean of the first {{ n }} DX, then (ADX x {{ n - 1 }} + DX) / {{ n }}.
-- Period from var indicators.adx_period.
--
-- The series is the bars as they exist (a missing hour is skipped, not filled). The state
-- (adx_state, which holds the previous bar's prices) is stored on every row; an incremental run
-- reads per contract only the last row stored before its window and continues from its state.

with window_bars as (
    select symbol, bucket_start, high, low, close
    from {{ ref("int_candles_1h") }}
    where {{ in_build_window("bucket_start") }}
),

{% if is_incremental() %}
carried_state as (
    {{ stored_state("window_bars", ["symbol", "bucket_start", "bar_number", "adx_state"]) }}
),

continuous_symbols as (
    {{ continuous_symbols("window_bars", "carried_state") }}
),
{% endif %}

recursions as (
    select
        window_bars.symbol,
        window_bars.bucket_start,
        window_bars.close,
        coalesce({{ carried("bar_number", "bigint") }}, 0) + row_number() over rebuilt_bars as bar_number,
        zmart_fn.dmi(
            window_bars.high, window_bars.low, window_bars.close, {{ n }}, {{ carried("adx_state", "double precision[]") }}
        ) over rebuilt_bars as adx_state
    from window_bars
    {%- if is_incremental() %}
    left join carried_state on carried_state.symbol = window_bars.symbol
    where window_bars.symbol in (select symbol from continuous_symbols)
    {%- endif %}
    window rebuilt_bars as (
        partition by window_bars.symbol
        order by window_bars.bucket_start
        rows between unbounded preceding and current row
    )
)

select
    symbol,
    bucket_start,
    close,
    bar_number,
    zmart_fn.dmi_adx(adx_state, {{ n }}) as adx_{{ n }},
    zmart_fn.dmi_plus_di(adx_state, {{ n }}) as plus_di_{{ n }},
    zmart_fn.dmi_minus_di(adx_state, {{ n }}) as minus_di_{{ n }},
    adx_state
from recursions
