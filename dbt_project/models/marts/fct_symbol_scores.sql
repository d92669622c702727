{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["symbol", "score_time", "algorithm_version"],
        incremental_predicates=[window_delete_predicate("score_time", shift="1 hour")],
        on_schema_change="fail",
        post_hook="analyze {{ this }}",
        indexes=[
            {"columns": ["symbol", "score_time", "algorithm_version"], "unique": true},
            {"columns": ["score_time", "algorithm_version"]},
        ],
    )
}}
{%- set sma_period = score_indicator_columns()["sma_period"] -%}
{%- set version = scoring_algorithm_version() -%}
{%- set components = score_components() -%}
{%- set score_input_columns = [
    "symbol", "score_time", "bucket_start", "close", "sma_20", "rsi_14", "turnover_quote_24h",
    "is_complete", "data_window_start", "input_batch_ids",
] -%}
-- One score per contract, hour and scoring algorithm version, published at the end of the hour
-- (score_time = bucket_start + 1h). Components:
--   trend     = close / sma_20 - 1
--   momentum  = (rsi_14 - 50) / 50
--   liquidity = ln(quote turnover of the bars in the 24 hours ending at score_time)
-- each ranked cross-sectionally among the eligible contracts of the score_time (percent_rank,
-- 0 = lowest, 1 = highest); composite = sum of weight x ranked component with the weights of
-- the version in seed scoring_algorithm_weights. Only this version's rows are rebuilt.

with version_parameters as (
    -- one row: the version's weight of each component (null: not used) and the hash of its seed rows
    select
        {%- for component in components %}
        max(weight::double precision) filter (where component = '{{ component }}') as {{ component }}_weight,
        {%- endfor %}
        md5(string_agg(
            algorithm_version || '|' || component || '|' || trim_scale(weight)::text, E'\n'
            order by component
        )) as parameters_hash
    from {{ ref("scoring_algorithm_weights") }}
    where algorithm_version = '{{ version }}'
),

window_indicators as (
    -- the indicators the components use: SMA(20) (with the close) and RSI(14) of each 1h bar
    select moving_averages.symbol, moving_averages.bucket_start, moving_averages.close, moving_averages.sma_20, momentum.rsi_14
    from {{ ref("int_indicators_1h_moving_averages") }} as moving_averages
    inner join {{ ref("int_indicators_1h_momentum") }} as momentum
        on momentum.symbol = moving_averages.symbol
        and momentum.bucket_start = moving_averages.bucket_start
    where {{ in_build_window("moving_averages.bucket_start") }}
      and {{ in_build_window("momentum.bucket_start") }}
),

-- The window's bars and those before it that its lookbacks reach: the 24 hours of turnover
-- and the {{ sma_period }}-bar SMA frame (which may span more than 24 hours across a gap).
lookback_bars as (
    select symbol, bucket_start, is_complete, turnover_quote, batch_ids
    from {{ ref("int_candles_1h") }}
    where bucket_start >= {{ build_window_start() }} - interval '23 hours'
      and bucket_start < {{ window_end() }}
    {%- if is_incremental() %}
    union
    select prior_bars.symbol, prior_bars.bucket_start, prior_bars.is_complete, prior_bars.turnover_quote, prior_bars.batch_ids
    from (select distinct symbol from window_indicators) as window_symbols
    cross join lateral (
        select candles.symbol, candles.bucket_start, candles.is_complete, candles.turnover_quote, candles.batch_ids
        from {{ ref("int_candles_1h") }} as candles
        where candles.symbol = window_symbols.symbol
          and candles.bucket_start < {{ window_start() }}
        order by candles.bucket_start desc
        limit {{ sma_period - 1 }}
    ) as prior_bars
    {%- endif %}
),

bar_lookbacks as (
    select
        symbol,
        bucket_start,
        is_complete,
        (sum(turnover_quote) over turnover_24h)::double precision as turnover_quote_24h,
        least(min(bucket_start) over sma_frame, bucket_start - interval '23 hours') as data_window_start,
        zmart_fn.sorted_distinct(
            zmart_fn.array_cat_agg(batch_ids) over turnover_24h || zmart_fn.array_cat_agg(batch_ids) over sma_frame
        ) as input_batch_ids
    from lookback_bars
    window
        symbol_bars as (partition by symbol order by bucket_start),
        turnover_24h as (symbol_bars range between interval '23 hours' preceding and current row),
        sma_frame as (symbol_bars rows between {{ sma_period - 1 }} preceding and current row)
),

score_inputs as (
    select
        indicators.symbol,
        indicators.bucket_start + interval '1 hour' as score_time,
        indicators.bucket_start,
        indicators.close,
        indicators.sma_20,
        indicators.rsi_14,
        bar_lookbacks.turnover_quote_24h,
        bar_lookbacks.is_complete,
        bar_lookbacks.data_window_start,
        bar_lookbacks.input_batch_ids
    from window_indicators as indicators
    inner join bar_lookbacks
        on bar_lookbacks.symbol = indicators.symbol
        and bar_lookbacks.bucket_start = indicators.bucket_start
),

score_components as (
    select
        {{ score_input_columns | join(",\n        ") }},
        close / nullif(sma_20, 0) - 1 as trend,
        (rsi_14 - 50) / 50 as momentum,
        case when turnover_quote_24h > 0 then ln(turnover_quote_24h) end as liquidity
    from score_inputs
),

eligible_components as (
    -- eligible: a complete bar with every component defined (indicators past their warm-up,
    -- positive 24h turnover)
    select
        {{ score_input_columns | join(",\n        ") }},
        {%- for component in components %}
        {{ component }},
        {%- endfor %}
        coalesce(is_complete, false)
        {%- for component in components %}
            and {{ component }} is not null
        {%- endfor %} as is_eligible
    from score_components
),

ranked_components as (
    -- percent ranks among the eligible contracts of the score_time (the partition of the
    -- ineligible ones is ranked too and discarded below)
    select
        {{ score_input_columns | join(",\n        ") }},
        {%- for component in components %}
        {{ component }},
        percent_rank() over (partition by score_time, is_eligible order by {{ component }}) as {{ component }}_percent_rank,
        {%- endfor %}
        is_eligible,
        count(*) over (partition by score_time, is_eligible) as universe_size
    from eligible_components
)

select
    ranked_components.symbol,
    ranked_components.score_time,
    '{{ version }}'::text as algorithm_version,
    version_parameters.parameters_hash,
    ranked_components.bucket_start,
    ranked_components.close,
    ranked_components.sma_20,
    ranked_components.rsi_14,
    ranked_components.turnover_quote_24h,
    {%- for component in components %}
    ranked_components.{{ component }},
    case when ranked_components.is_eligible then ranked_components.{{ component }}_percent_rank end as {{ component }}_rank,
    {%- endfor %}
    -- weights in component order; a component the version does not weigh contributes nothing
    case when ranked_components.is_eligible then
        {%- for component in components %}
        coalesce(version_parameters.{{ component }}_weight * ranked_components.{{ component }}_percent_rank, 0){{ " +" if not loop.last }}
        {%- endfor %}
    end as composite_score,
    ranked_components.is_eligible,
    case when ranked_components.is_eligible then ranked_components.universe_size::integer end as ranked_universe_size,
    ranked_components.data_window_start,
    ranked_components.score_time as data_window_end,
    ranked_components.input_batch_ids
from ranked_components
cross join version_parameters
