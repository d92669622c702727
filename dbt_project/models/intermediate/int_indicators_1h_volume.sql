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
{%- set mfi_period, vwap_period, zscore_period = p["mfi_period"], p["vwap_period"], p["volume_zscore_period"] -%}
{#- rows carried from before the window: the money flow leaving MFI's sums (mfi_period bars back,
    whose flow needs the typical price one bar earlier), the VWAP and z-score frames -#}
{%- set carried_row_count = [mfi_period + 1, vwap_period - 1, zscore_period - 1] | max -%}
-- Volume indicators of each contract's 1h bars, null during the warm-up. Volume = volume_base (base
-- currency units, int_candles_1h), as double precision where TA-Lib reads it:
--   obv: TA-Lib OBV(close, volume): the first bar's volume, then + volume when the close rose,
--       - volume when it fell (running sum, zmart_fn.moving_sum). Defined from the first bar.
--   mfi_{{ mfi_period }}: TA-Lib MFI(high, low, close, volume, {{ mfi_period }}). Typical price tp = (high + low + close) / 3; money
--       flow = tp x volume, positive when tp rose, negative when it fell, none when it did not move
--       (|change| <= 1e-14 x (|tp| + |previous tp|)); running sums of each side over {{ mfi_period }} bars;
--       MFI = 100 x positive / (positive + negative), 0 without flow (zmart_fn.money_flow_sums, zmart_fn.mfi).
--       Null for the first {{ mfi_period }} bars.
--   vwap_{{ vwap_period }}: rolling VWAP = sum(turnover_quote) / sum(volume_base) over the last {{ vwap_period }} bars, i.e. the
--       volume-weighted mean of the minute closes (each minute's volume valued at its close), in
--       numeric; null for the first {{ vwap_period - 1 }} bars or without volume.
--   volume_zscore_{{ zscore_period }}: (volume - mean) / sample standard deviation of the last {{ zscore_period }} bars' volumes
--       (the current bar included), in numeric; null for the first {{ zscore_period - 1 }} bars or when the {{ zscore_period }}
--       volumes are all equal.
-- Parameters from var indicators (mfi_period, vwap_period, volume_zscore_period).
--
-- The series is the bars as they exist (a missing hour is skipped, not filled). An incremental
-- run reads per contract the last {{ carried_row_count }} stored rows before its window (from carry_start): their values complete
-- the first frames and lags, the latest row's states seed the recursions
-- (macros/incremental_carry.sql).

with window_bars as (
    select symbol, bucket_start, high, low, close, volume_base, turnover_quote
    from {{ ref("int_candles_1h") }}
    where {{ in_build_window("bucket_start") }}
),

{% if is_incremental() %}
carried_state as (
    {{ stored_state("window_bars", ["symbol", "bucket_start", "carry_start", "bar_number", "obv", "mfi_state"]) }}
),

carried_rows as (
    {{ stored_rows_before_window("carried_state", ["symbol", "bucket_start", "high", "low", "close", "volume_base", "turnover_quote"]) }}
),

continuous_symbols as (
    {{ continuous_symbols("window_bars", "carried_state") }}
),
{% endif %}

series as (
    select
        symbol, bucket_start, high, low, close, volume_base, turnover_quote,
        (high + low + close) / 3.0::double precision as typical_price,
        true as is_rebuilt
    from window_bars
    {%- if is_incremental() %}
    where symbol in (select symbol from continuous_symbols)
    union all
    select
        symbol, bucket_start, high, low, close, volume_base, turnover_quote,
        (high + low + close) / 3.0::double precision as typical_price,
        false as is_rebuilt
    from carried_rows
    {%- endif %}
),

moves as (
    -- over the whole series (carried rows included)
    select
        series.*,
        {{ carry_start(carried_row_count) }} as carry_start,
        close - lag(close) over symbol_bars as close_change,
        typical_price - lag(typical_price) over symbol_bars as typical_price_change,
        abs(typical_price) + abs(lag(typical_price) over symbol_bars) as typical_price_scale,
        case
            when count(*) over vwap_frame = {{ vwap_period }}
                then (sum(turnover_quote) over vwap_frame / nullif(sum(volume_base) over vwap_frame, 0))::double precision
        end as vwap_{{ vwap_period }},
        case
            when count(*) over zscore_frame = {{ zscore_period }}
                -- (v - mean) / sd as (n v - sum) / (n sqrt(var)): an exact numerator, so a volume
                -- close to its mean keeps its relative precision (numeric stddev_samp over a frame
                -- keeps too few digits; var_samp and sqrt keep at least 16 significant ones)
                then (
                    ({{ zscore_period }} * volume_base - sum(volume_base) over zscore_frame)
                    / nullif({{ zscore_period }} * sqrt(var_samp(volume_base) over zscore_frame), 0)
                )::double precision
        end as volume_zscore_{{ zscore_period }}
    from series
    window
        symbol_bars as (partition by symbol order by bucket_start),
        vwap_frame as (symbol_bars rows between {{ vwap_period - 1 }} preceding and current row),
        zscore_frame as (symbol_bars rows between {{ zscore_period - 1 }} preceding and current row)
),

money_flows as (
    select
        moves.*,
        case
            when typical_price_change is null then null
            when abs(typical_price_change) <= 1e-14::double precision * typical_price_scale then 0.0::double precision
            else typical_price * volume_base::double precision
        end as money_flow
    from moves
),

flow_sides as (
    select
        money_flows.*,
        case when typical_price_change < 0 then 0.0::double precision else money_flow end as positive_flow,
        case when typical_price_change < 0 then money_flow else 0.0::double precision end as negative_flow
    from money_flows
),

flow_moves as (
    select
        flow_sides.*,
        lag(positive_flow, {{ mfi_period }}) over symbol_bars as positive_flow_leaving,
        lag(negative_flow, {{ mfi_period }}) over symbol_bars as negative_flow_leaving
    from flow_sides
    window symbol_bars as (partition by symbol order by bucket_start)
),

recursions as (
    -- over the rebuilt bars only, each recursion continuing from the carried state
    select
        flow_moves.*,
        coalesce({{ carried("bar_number", "bigint") }}, 0) + row_number() over rebuilt_bars as bar_number,
        zmart_fn.moving_sum(
            case
                when flow_moves.close_change is null then flow_moves.volume_base::double precision
                when flow_moves.close_change > 0 then flow_moves.volume_base::double precision
                when flow_moves.close_change < 0 then -flow_moves.volume_base::double precision
                else 0.0::double precision
            end,
            null::double precision,
            {{ carried("obv") }}
        ) over rebuilt_bars as obv,
        zmart_fn.money_flow_sums(
            flow_moves.positive_flow, flow_moves.negative_flow,
            flow_moves.positive_flow_leaving, flow_moves.negative_flow_leaving,
            {{ mfi_period }}, {{ carried("mfi_state", "double precision[]") }}
        ) over rebuilt_bars as mfi_state
    from flow_moves
    {%- if is_incremental() %}
    left join carried_state on carried_state.symbol = flow_moves.symbol
    {%- endif %}
    where flow_moves.is_rebuilt
    window rebuilt_bars as (
        partition by flow_moves.symbol
        order by flow_moves.bucket_start
        rows between unbounded preceding and current row
    )
)

select
    symbol,
    bucket_start,
    high,
    low,
    close,
    volume_base,
    turnover_quote,
    bar_number,
    obv,
    case when bar_number > {{ mfi_period }} then zmart_fn.mfi(mfi_state) end as mfi_{{ mfi_period }},
    vwap_{{ vwap_period }},
    volume_zscore_{{ zscore_period }},
    mfi_state,
    carry_start
from recursions
