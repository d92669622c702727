{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["symbol", "bucket_start"],
        incremental_predicates=[window_delete_predicate("bucket_start")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "bucket_start"], "unique": true},
            {"columns": ["bucket_start"]},
        ],
    )
}}
{%- set params = indicator_parameters() -%}
{%- set sma_period = params["sma_period"] -%}
{%- set rsi_period = params["rsi_period"] -%}
-- TA-Lib SMA({{ sma_period }}) and RSI({{ rsi_period }}) over each contract's 1h closes in time order.
-- The series is the bars as they exist: a missing hour is skipped, not filled (the next bar's
-- price change is measured from the last bar before the gap); hours_since_previous_bar shows it.
--
-- An incremental run reads, per contract in the window, only the last {{ sma_period - 1 }} rows stored
-- before the window: their closes complete the first SMA frames and the latest carries the
-- RSI's Wilder state, from which zmart_fn.wilder_smooth continues. The work per run is thus
-- bounded by the window, and consecutive windows reproduce a full refresh exactly.

with window_bars as (
    select symbol, bucket_start, close
    from {{ ref("int_candles_1h") }}
    where {{ in_build_window("bucket_start") }}
),

{% if is_incremental() %}
window_symbols as (
    select distinct symbol
    from window_bars
),

carried_rows as (
    select
        prior_rows.symbol, prior_rows.bucket_start, prior_rows.close, prior_rows.bar_number,
        prior_rows.rsi_state_n, prior_rows.rsi_state_gain, prior_rows.rsi_state_loss
    from window_symbols
    cross join lateral (
        select stored.symbol, stored.bucket_start, stored.close, stored.bar_number,
               stored.rsi_state_n, stored.rsi_state_gain, stored.rsi_state_loss
        from {{ this }} as stored
        where stored.symbol = window_symbols.symbol
          and stored.bucket_start < {{ window_start() }}
        order by stored.bucket_start desc
        limit {{ sma_period - 1 }}
    ) as prior_rows
),

carried_state as (
    select distinct on (symbol)
        symbol,
        bucket_start,
        bar_number,
        array[rsi_state_n, rsi_state_gain]::double precision[] as rsi_gain_seed,
        array[rsi_state_n, rsi_state_loss]::double precision[] as rsi_loss_seed
    from carried_rows
    order by symbol, bucket_start desc
),

-- The state must come from the bar right before the window: if int_candles_1h holds a later
-- bar before the window that this table lacks, an earlier window was never built here.
continuous_symbols as (
    select window_symbols.symbol
    from window_symbols
    left join carried_state on carried_state.symbol = window_symbols.symbol
    left join lateral (
        select max(candles.bucket_start) as bucket_start
        from {{ ref("int_candles_1h") }} as candles
        where candles.symbol = window_symbols.symbol
          and candles.bucket_start < {{ window_start() }}
    ) as last_candle on true
    where zmart_fn.assert_true(
        carried_state.bucket_start is not distinct from last_candle.bucket_start,
        format(
            'int_indicators_1h: %s has a 1h bar at %s before the window but indicators only up to %s; '
            'build the earlier windows first (in time order) or run with --full-refresh',
            window_symbols.symbol, last_candle.bucket_start, coalesce(carried_state.bucket_start::text, 'none')
        )
    )
),
{% endif %}

series as (
    select symbol, bucket_start, close, true as is_rebuilt
    from window_bars
    {% if is_incremental() %}
    where symbol in (select symbol from continuous_symbols)
    union all
    select symbol, bucket_start, close, false as is_rebuilt
    from carried_rows
    {% endif %}
),

price_changes as (
    select
        symbol,
        bucket_start,
        close,
        is_rebuilt,
        close - lag(close) over symbol_bars as price_change,
        (extract(epoch from bucket_start - lag(bucket_start) over symbol_bars) / 3600)::integer as hours_since_previous_bar,
        case
            when count(*) over sma_frame = {{ sma_period }} then avg(close) over sma_frame
        end as sma_{{ sma_period }}
    from series
    window
        symbol_bars as (partition by symbol order by bucket_start),
        sma_frame as (symbol_bars rows between {{ sma_period - 1 }} preceding and current row)
),

smoothed as (
    select
        price_changes.symbol,
        price_changes.bucket_start,
        price_changes.close,
        price_changes.hours_since_previous_bar,
        price_changes.sma_{{ sma_period }},
        {% if is_incremental() %}coalesce(carried_state.bar_number, 0){% else %}0{% endif %}
            + row_number() over rebuilt_bars as bar_number,
        -- As TA-Lib: a change >= 0 is a gain, < 0 a loss; the series' first bar has no change
        -- (null), which the aggregate skips.
        zmart_fn.wilder_smooth(
            case when price_changes.price_change >= 0 then price_changes.price_change when price_changes.price_change < 0 then 0 end,
            {{ rsi_period }},
            {% if is_incremental() %}carried_state.rsi_gain_seed{% else %}null::double precision[]{% endif %}
        ) over rebuilt_bars as rsi_gain_state,
        zmart_fn.wilder_smooth(
            case when price_changes.price_change < 0 then -price_changes.price_change when price_changes.price_change >= 0 then 0 end,
            {{ rsi_period }},
            {% if is_incremental() %}carried_state.rsi_loss_seed{% else %}null::double precision[]{% endif %}
        ) over rebuilt_bars as rsi_loss_state
    from price_changes
    {% if is_incremental() %}
    left join carried_state on carried_state.symbol = price_changes.symbol
    {% endif %}
    where price_changes.is_rebuilt
    window rebuilt_bars as (
        partition by price_changes.symbol
        order by price_changes.bucket_start
        rows between unbounded preceding and current row
    )
)

select
    symbol,
    bucket_start,
    close,
    bar_number,
    hours_since_previous_bar,
    sma_{{ sma_period }},
    -- null until {{ rsi_period }} price changes have been smoothed (TA-Lib's warm-up)
    zmart_fn.rsi(
        zmart_fn.wilder_value(rsi_gain_state, {{ rsi_period }}),
        zmart_fn.wilder_value(rsi_loss_state, {{ rsi_period }})
    ) as rsi_{{ rsi_period }},
    rsi_gain_state[1]::bigint as rsi_state_n,
    rsi_gain_state[2] as rsi_state_gain,
    rsi_loss_state[2] as rsi_state_loss
from smoothed
