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
{%- set atr_period, bb_period, nbdev, rv = p["atr_period"], p["bbands_period"], p["bbands_nbdev"], p["realized_volatility_period"] -%}
{#- rows carried from before the window: the close leaving the Bollinger SMA (bb_period bars
    back), the Bollinger frame, and the realized-volatility frames (the first return of the frame
    needs the close rv bars back) -#}
{%- set carried_row_count = [bb_period, rv] | max -%}
-- Volatility of each contract's 1h bars, null during the warm-up:
--   atr_{{ atr_period }}: TA-Lib ATR(high, low, close, {{ atr_period }}). True range = greatest(high - low, |previous close -
--       high|, |previous close - low|) from the second bar; its Wilder average as TA-Lib computes
--       it: the first {{ atr_period }} summed and divided by {{ atr_period }}, then (atr x {{ atr_period - 1 }} + tr) / {{ atr_period }} (zmart_fn.wilder_average).
--       Null for the first {{ atr_period }} bars.
--   bb_upper / bb_middle / bb_lower: TA-Lib BBANDS(close, {{ bb_period }}, {{ nbdev }}, {{ nbdev }}, SMA). Middle = SMA({{ bb_period }}) in TA-Lib's
--       running-sum form (as sma_{{ bb_period }}); bands = middle +- {{ nbdev }} x the population standard deviation of
--       the last {{ bb_period }} closes, computed exactly (numeric variance, 0 for a flat window). Null for
--       the first {{ bb_period - 1 }} bars.
--   rv_close_to_close_{{ rv }}: TA-Lib STDDEV(ln(close / previous close), {{ rv }}, 1): the population standard
--       deviation of the last {{ rv }} one-bar log returns. Null for the first {{ rv }} bars.
--   rv_parkinson_{{ rv }}: sqrt(sum over the last {{ rv }} bars of ln(high / low)^2 / (4 x {{ rv }} x ln 2)).
--   rv_garman_klass_{{ rv }}: sqrt(sum over the last {{ rv }} bars of (0.5 ln(high / low)^2 - (2 ln 2 - 1)
--       ln(close / open)^2) / {{ rv }}). Both null for the first {{ rv - 1 }} bars.
-- Volatilities are per 1h bar (not annualised). Parameters from var indicators (atr_period,
-- bbands, realized_volatility_period).
--
-- The series is the bars as they exist (a missing hour is skipped, not filled: the return after
-- a gap spans it). An incremental run reads per contract the last {{ carried_row_count }} stored rows before
-- its window (from carry_start): their prices complete the first frames and lags, the latest row's states seed the
-- recursions (macros/incremental_carry.sql).

with window_bars as (
    select symbol, bucket_start, open, high, low, close
    from {{ ref("int_candles_1h") }}
    where {{ in_build_window("bucket_start") }}
),

{% if is_incremental() %}
carried_state as (
    {{ stored_state("window_bars", ["symbol", "bucket_start", "carry_start", "bar_number", "atr_state", "bb_middle_state"]) }}
),

carried_rows as (
    {{ stored_rows_before_window("carried_state", ["symbol", "bucket_start", "open", "high", "low", "close"]) }}
),

continuous_symbols as (
    {{ continuous_symbols("window_bars", "carried_state") }}
),
{% endif %}

series as (
    select symbol, bucket_start, open, high, low, close, true as is_rebuilt
    from window_bars
    {%- if is_incremental() %}
    where symbol in (select symbol from continuous_symbols)
    union all
    select symbol, bucket_start, open, high, low, close, false as is_rebuilt
    from carried_rows
    {%- endif %}
),

framed_bars as (
    -- over the whole series (carried rows included): lags and frames
    select
        symbol,
        bucket_start,
        open,
        high,
        low,
        close,
        is_rebuilt,
        {{ carry_start(carried_row_count) }} as carry_start,
        zmart_fn.true_range(high, low, lag(close) over symbol_bars) as true_range,
        ln(close / lag(close) over symbol_bars) as log_return,
        lag(close, {{ bb_period }}) over symbol_bars as close_leaving_bb,
        case when count(*) over bb_frame = {{ bb_period }} then var_pop(close::numeric) over bb_frame end as bb_variance,
        case
            when count(*) over rv_frame = {{ rv }}
                then sqrt(sum(ln(high / low) * ln(high / low)) over rv_frame / (4 * {{ rv }} * ln(2.0::double precision)))
        end as rv_parkinson_{{ rv }},
        case
            when count(*) over rv_frame = {{ rv }}
                then sqrt(sum(
                    0.5 * ln(high / low) * ln(high / low)
                    - (2 * ln(2.0::double precision) - 1) * ln(close / open) * ln(close / open)
                ) over rv_frame / {{ rv }})
        end as rv_garman_klass_{{ rv }}
    from series
    window
        symbol_bars as (partition by symbol order by bucket_start),
        bb_frame as (symbol_bars rows between {{ bb_period - 1 }} preceding and current row),
        rv_frame as (symbol_bars rows between {{ rv - 1 }} preceding and current row)
),

return_frames as (
    select
        framed_bars.*,
        case
            when count(log_return) over rv_frame = {{ rv }} then var_pop(log_return) over rv_frame
        end as log_return_variance
    from framed_bars
    window rv_frame as (partition by symbol order by bucket_start rows between {{ rv - 1 }} preceding and current row)
),

recursions as (
    -- over the rebuilt bars only, each recursion continuing from the carried state
    select
        return_frames.*,
        coalesce({{ carried("bar_number", "bigint") }}, 0) + row_number() over rebuilt_bars as bar_number,
        zmart_fn.wilder_average(return_frames.true_range, {{ atr_period }}, {{ carried("atr_state", "double precision[]") }}) over rebuilt_bars as atr_state,
        zmart_fn.moving_sum(return_frames.close, return_frames.close_leaving_bb, {{ carried("bb_middle_state") }}) over rebuilt_bars as bb_middle_state
    from return_frames
    {%- if is_incremental() %}
    left join carried_state on carried_state.symbol = return_frames.symbol
    {%- endif %}
    where return_frames.is_rebuilt
    window rebuilt_bars as (
        partition by return_frames.symbol
        order by return_frames.bucket_start
        rows between unbounded preceding and current row
    )
),

bands as (
    select
        recursions.*,
        case when bar_number >= {{ bb_period }} then bb_middle_state / {{ bb_period }} end as bb_middle,
        case when bb_variance > 0 then sqrt(bb_variance::double precision) else 0.0::double precision end as bb_stddev
    from recursions
)

select
    symbol,
    bucket_start,
    open,
    high,
    low,
    close,
    bar_number,
    zmart_fn.wilder_value(atr_state, {{ atr_period }}) as atr_{{ atr_period }},
    bb_middle + bb_stddev * {{ nbdev }}::double precision as bb_upper,
    bb_middle,
    bb_middle - bb_stddev * {{ nbdev }}::double precision as bb_lower,
    case when log_return_variance > 0 then sqrt(log_return_variance) when log_return_variance = 0 then 0.0::double precision end as rv_close_to_close_{{ rv }},
    rv_parkinson_{{ rv }},
    rv_garman_klass_{{ rv }},
    atr_state,
    bb_middle_state,
    carry_start
from bands
