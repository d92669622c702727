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
{%- set rsi_period, roc_period = p["rsi_period"], p["roc_period"] -%}
{%- set fastk, slowk, slowd = p["stoch_fastk_period"], p["stoch_slowk_period"], p["stoch_slowd_period"] -%}
{%- set stoch_first_bar = fastk + slowk + slowd - 2 -%}
{#- rows carried from before the window: the fast-K frames (fastk - 1 bars back), the raw %K and
    slow %K leaving their moving sums (slowk / slowd bars back), the close ROC divides by -#}
{%- set carried_row_count = [fastk - 1, slowk, slowd, roc_period] | max -%}
-- Momentum oscillators of each contract's 1h bars, as TA-Lib computes them, null during TA-Lib's
-- warm-up:
--   rsi_{{ rsi_period }}: TA-Lib RSI(close, {{ rsi_period }}). Price changes split into gains (change >= 0) and losses;
--       each smoothed with Wilder's recursion as TA-Lib does it: the first {{ rsi_period }} summed and
--       multiplied by 1/{{ rsi_period }}, then (avg x {{ rsi_period - 1 }} + x) x 1/{{ rsi_period }} (zmart_fn.wilder_smooth); RSI =
--       100 x gain / (gain + loss), 0 when both are 0. Null for the first {{ rsi_period }} bars.
--   stoch_slowk / stoch_slowd: TA-Lib STOCH(high, low, close, {{ fastk }}, {{ slowk }}, SMA, {{ slowd }}, SMA). Raw %K =
--       ((close - lowest low) / (highest high - lowest low)) x 100 over the last {{ fastk }} bars (0 when
--       the range is ~0, zmart_fn.stoch_raw_k); slow %K = the SMA({{ slowk }}) of raw %K and slow %D the
--       SMA({{ slowd }}) of slow %K, both as TA-Lib's running sums from the first raw %K (zmart_fn.moving_sum).
--       Null for the first {{ stoch_first_bar - 1 }} bars.
--   roc_{{ roc_period }}: TA-Lib ROC(close, {{ roc_period }}) = ((close / close {{ roc_period }} bars back) - 1) x 100 (0 if that close
--       is 0). Null for the first {{ roc_period }} bars.
-- Parameters from var indicators (rsi_period, stoch, roc_period).
--
-- The series is the bars as they exist (a missing hour is skipped, not filled). An incremental
-- run reads per contract the last {{ carried_row_count }} stored rows before its window (from carry_start): their prices complete
-- the first frames and lags, and the latest row's states seed the recursions
-- (macros/incremental_carry.sql).

with window_bars as (
    select symbol, bucket_start, high, low, close
    from {{ ref("int_candles_1h") }}
    where {{ in_build_window("bucket_start") }}
),

{% if is_incremental() %}
carried_state as (
    {{ stored_state("window_bars", [
        "symbol", "bucket_start", "carry_start", "bar_number", "rsi_gain_state", "rsi_loss_state",
        "stoch_raw_k_state", "stoch_slowk_state",
    ]) }}
),

carried_rows as (
    {{ stored_rows_before_window("carried_state", ["symbol", "bucket_start", "high", "low", "close", "stoch_raw_k", "stoch_slowk_raw"]) }}
),

continuous_symbols as (
    {{ continuous_symbols("window_bars", "carried_state") }}
),
{% endif %}

series as (
    select symbol, bucket_start, high, low, close, null::double precision as stored_raw_k, true as is_rebuilt
    from window_bars
    {%- if is_incremental() %}
    where symbol in (select symbol from continuous_symbols)
    union all
    select symbol, bucket_start, high, low, close, stoch_raw_k, false as is_rebuilt
    from carried_rows
    {%- endif %}
),

framed_bars as (
    -- over the whole series (carried rows included): price changes, ROC, and the raw %K of the
    -- rebuilt bars (the carried bars keep their stored raw %K)
    select
        symbol,
        bucket_start,
        high,
        low,
        close,
        is_rebuilt,
        {{ carry_start(carried_row_count) }} as carry_start,
        close - lag(close) over symbol_bars as price_change,
        case
            when lag(close, {{ roc_period }}) over symbol_bars = 0 then 0.0::double precision
            else ((close / lag(close, {{ roc_period }}) over symbol_bars) - 1.0) * 100.0
        end as roc_{{ roc_period }},
        case
            when not is_rebuilt then stored_raw_k
            when count(*) over fastk_frame = {{ fastk }}
                then zmart_fn.stoch_raw_k(max(high) over fastk_frame, min(low) over fastk_frame, close)
        end as stoch_raw_k
    from series
    window
        symbol_bars as (partition by symbol order by bucket_start),
        fastk_frame as (symbol_bars rows between {{ fastk - 1 }} preceding and current row)
),

raw_k_moves as (
    select
        framed_bars.*,
        lag(stoch_raw_k, {{ slowk }}) over (partition by symbol order by bucket_start) as stoch_raw_k_leaving
    from framed_bars
),

first_recursions as (
    -- over the rebuilt bars only, continuing from the carried state: RSI's Wilder averages and
    -- the running sum of raw %K
    select
        raw_k_moves.symbol,
        raw_k_moves.bucket_start,
        raw_k_moves.high,
        raw_k_moves.low,
        raw_k_moves.close,
        raw_k_moves.carry_start,
        raw_k_moves.roc_{{ roc_period }},
        raw_k_moves.stoch_raw_k,
        coalesce({{ carried("bar_number", "bigint") }}, 0) + row_number() over rebuilt_bars as bar_number,
        -- As TA-Lib: a change >= 0 is a gain, < 0 a loss; the series' first bar has no change
        -- (null), which the aggregate skips.
        zmart_fn.wilder_smooth(
            case when raw_k_moves.price_change >= 0 then raw_k_moves.price_change when raw_k_moves.price_change < 0 then 0 end,
            {{ rsi_period }},
            {{ carried("rsi_gain_state", "double precision[]") }}
        ) over rebuilt_bars as rsi_gain_state,
        zmart_fn.wilder_smooth(
            case when raw_k_moves.price_change < 0 then -raw_k_moves.price_change when raw_k_moves.price_change >= 0 then 0 end,
            {{ rsi_period }},
            {{ carried("rsi_loss_state", "double precision[]") }}
        ) over rebuilt_bars as rsi_loss_state,
        zmart_fn.moving_sum(
            raw_k_moves.stoch_raw_k, raw_k_moves.stoch_raw_k_leaving, {{ carried("stoch_raw_k_state") }}
        ) over rebuilt_bars as stoch_raw_k_state
    from raw_k_moves
    {%- if is_incremental() %}
    left join carried_state on carried_state.symbol = raw_k_moves.symbol
    {%- endif %}
    where raw_k_moves.is_rebuilt
    window rebuilt_bars as (
        partition by raw_k_moves.symbol
        order by raw_k_moves.bucket_start
        rows between unbounded preceding and current row
    )
),

slow_k_series as (
    -- slow %K, also before TA-Lib's output starts (defined from the {{ slowk }}th raw %K on), of the
    -- rebuilt bars and, as stored, of the carried ones: slow %D's moving sum needs the value leaving it
    select
        symbol,
        bucket_start,
        case when bar_number >= {{ fastk + slowk - 1 }} then stoch_raw_k_state / {{ slowk }} end as stoch_slowk_raw,
        true as is_rebuilt
    from first_recursions
    {%- if is_incremental() %}
    union all
    select symbol, bucket_start, stoch_slowk_raw, false as is_rebuilt
    from carried_rows
    {%- endif %}
),

slow_k_moves as (
    select
        slow_k_series.*,
        lag(stoch_slowk_raw, {{ slowd }}) over (partition by symbol order by bucket_start) as stoch_slowk_leaving
    from slow_k_series
),

second_recursions as (
    -- over the rebuilt bars only, continuing from the carried state: the running sum of slow %K
    select
        first_recursions.*,
        slow_k_moves.stoch_slowk_raw,
        zmart_fn.moving_sum(
            slow_k_moves.stoch_slowk_raw, slow_k_moves.stoch_slowk_leaving, {{ carried("stoch_slowk_state") }}
        ) over (
            partition by first_recursions.symbol
            order by first_recursions.bucket_start
            rows between unbounded preceding and current row
        ) as stoch_slowk_state
    from first_recursions
    inner join slow_k_moves
        on slow_k_moves.symbol = first_recursions.symbol
        and slow_k_moves.bucket_start = first_recursions.bucket_start
        and slow_k_moves.is_rebuilt
    {%- if is_incremental() %}
    left join carried_state on carried_state.symbol = first_recursions.symbol
    {%- endif %}
)

select
    symbol,
    bucket_start,
    high,
    low,
    close,
    bar_number,
    -- null until {{ rsi_period }} price changes have been smoothed (TA-Lib's warm-up)
    zmart_fn.rsi(
        zmart_fn.wilder_value(rsi_gain_state, {{ rsi_period }}),
        zmart_fn.wilder_value(rsi_loss_state, {{ rsi_period }})
    ) as rsi_{{ rsi_period }},
    case when bar_number >= {{ stoch_first_bar }} then stoch_slowk_raw end as stoch_slowk,
    case when bar_number >= {{ stoch_first_bar }} then stoch_slowk_state / {{ slowd }} end as stoch_slowd,
    roc_{{ roc_period }},
    rsi_gain_state,
    rsi_loss_state,
    stoch_raw_k,
    stoch_raw_k_state,
    stoch_slowk_raw,
    stoch_slowk_state,
    carry_start
from second_recursions
