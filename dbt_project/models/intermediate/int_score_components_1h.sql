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
{%- set components = score_components() -%}
{#- fails at parse time when the indicator vars no longer produce the sma_20 and rsi_14 the v1 measures read -#}
{%- do score_indicator_columns() -%}
{%- set frame_bars = 25 -%}
{%- if 50 not in market_structure_parameters()["depth_bands_bps"] -%}
    {{ exceptions.raise_compiler_error("int_score_components_1h reads the 50 bps book depth: var market_structure.depth_bands_bps must contain 50") }}
{%- endif -%}
-- The raw score components of each contract's 1h bars (one row per int_candles_1h row), published
-- at score_time = bucket_start + 1 hour, each with a confidence in [0, 1]; fct_symbol_scores
-- normalises them across contracts per scoring algorithm version. Every input is the scored bar's
-- row of an upstream model (read by key), except the 24 hours of turnover and the data window,
-- which come from the contract's last {{ frame_bars }} bars. Per component (macros/scoring.sql):
--   <component>_primary  its single primary measure (the definition of algorithm v1):
--     trend      close / sma_20 - 1
--     momentum   (rsi_14 - 50) / 50
--     risk       rv_close_to_close_24 (stddev of 1h log returns over 24 bars)
--     liquidity  ln(turnover_quote_24h), quote turnover of the bars of the 24 hours ending at
--                score_time; null when the turnover is not positive
--   <component>          the mean of its defined measures, each on one scale:
--     trend      in [-1, 1]: tanh((close - sma_20) / atr_14) (the SMA gap in ATRs),
--                tanh(macd_hist / atr_14) (the MACD histogram in ATRs; null when atr_14 = 0),
--                (plus_di_14 - minus_di_14) / 100 x adx_14 / 100 (the DI spread weighted by ADX)
--     momentum   in [-1, 1]: (rsi_14 - 50) / 50, (stoch_slowk - 50) / 50,
--                tanh(ln(1 + roc_10 / 100) / (rv_close_to_close_24 x sqrt 10)) (the 10-bar log
--                return in units of its standard deviation under the 24-bar volatility; null when
--                that volatility is 0)
--     risk       per-bar volatility of the log price: rv_close_to_close_24, rv_parkinson_24,
--                rv_garman_klass_24 and atr_14 / close x sqrt(pi / 8) (the expected range of
--                Brownian motion over a bar is sqrt(8 / pi) sigma, Feller 1951); higher is
--                riskier: fct_symbol_scores scores its negation
--     liquidity  -ln(mean cost), the cost of trading as a fraction of the price estimated by:
--                half the Corwin-Schultz spread of the hour, half the mean quoted book spread
--                (book_spread_bps_mean / 2e4), the Amihud price move per 1e6 quote traded
--                (amihud_illiquidity_24) and the move of 1e6 quote through the 50-bps book on a
--                uniform-depth approximation, 0.005 x 1e6 / ((bid + ask depth within 50 bps) / 2)
--                (a lower bound of the depth when the 20 fetched levels end inside 50 bps); the
--                book measures exist only for the hours with snapshots (int_market_structure_1h);
--                null when the mean cost is 0 (no measurable cost: -ln undefined)
--     sentiment  int_signal_sentiment_1h.sentiment of the bar's hour (the reliability-weighted
--                sentiment of the signals first received in it, in [-1, 1]); null without one.
--                Its confidences are also multiplied by that row's confidence, and
--                sentiment_batch_ids = that row's input_batch_ids (its signals' batches; '{}'
--                without one).
--   <component>[_primary]_confidence = (defined measures / measures of the component)
--     x bar_completeness x lookback_coverage, and 0 when the value is null, where
--     bar_completeness = minute_count / 60 of the scored bar and lookback_coverage = bars in the
--     24 hours ending at score_time / 24 (a young contract, a gap or a late listing lowers it).
-- An absent input lowers the confidence and never becomes a 0-valued measure.
--
-- An incremental run reads the window's rows of each input by key and, per contract, the last
-- {{ frame_bars - 1 }} bars of int_candles_1h before the window (a backward index range scan):
-- bounded by the window, whatever the history length.

with window_bars as (
    select symbol, bucket_start, minute_count, is_complete, turnover_quote, batch_ids
    from {{ ref("int_candles_1h") }}
    where {{ in_build_window("bucket_start") }}
),

-- the window's bars and the {{ frame_bars - 1 }} before it that the frames below reach: the 24 hours of
-- turnover and the {{ frame_bars }}-bar data window (the 24-bar volatility and Amihud frames and the
-- returns they use)
lookback_bars as (
    select symbol, bucket_start, turnover_quote, batch_ids
    from window_bars
    {%- if is_incremental() %}
    union all
    select prior_bars.symbol, prior_bars.bucket_start, prior_bars.turnover_quote, prior_bars.batch_ids
    from (select distinct symbol from window_bars) as window_symbols
    cross join lateral (
        select candles.symbol, candles.bucket_start, candles.turnover_quote, candles.batch_ids
        from {{ ref("int_candles_1h") }} as candles
        where candles.symbol = window_symbols.symbol
          and candles.bucket_start < {{ window_start() }}
        order by candles.bucket_start desc
        limit {{ frame_bars - 1 }}
    ) as prior_bars
    {%- endif %}
),

bar_lookbacks as (
    select
        symbol,
        bucket_start,
        (sum(turnover_quote) over turnover_24h)::double precision as turnover_quote_24h,
        count(*) over turnover_24h as lookback_bar_count,
        least(min(bucket_start) over data_frame, bucket_start - interval '23 hours') as data_window_start,
        zmart_fn.sorted_distinct(zmart_fn.array_cat_agg(batch_ids) over data_frame) as input_batch_ids
    from lookback_bars
    window
        symbol_bars as (partition by symbol order by bucket_start),
        turnover_24h as (symbol_bars range between interval '23 hours' preceding and current row),
        data_frame as (symbol_bars rows between {{ frame_bars - 1 }} preceding and current row)
),

bar_inputs as (
    select
        bars.symbol,
        bars.bucket_start,
        bars.is_complete,
        bars.minute_count / 60.0::double precision as bar_completeness,
        lookbacks.lookback_bar_count,
        lookbacks.lookback_bar_count / 24.0::double precision as lookback_coverage,
        lookbacks.turnover_quote_24h,
        lookbacks.data_window_start,
        lookbacks.input_batch_ids,
        moving_averages.close,
        moving_averages.sma_20,
        momentum.rsi_14,
        momentum.stoch_slowk,
        momentum.roc_10,
        macd.macd_hist,
        directional_movement.adx_14,
        directional_movement.plus_di_14,
        directional_movement.minus_di_14,
        volatility.atr_14,
        volatility.rv_close_to_close_24,
        volatility.rv_parkinson_24,
        volatility.rv_garman_klass_24,
        liquidity.corwin_schultz_spread,
        liquidity.amihud_illiquidity_24,
        market_structure.book_spread_bps_mean,
        (market_structure.bid_depth_quote_50bps_mean + market_structure.ask_depth_quote_50bps_mean) / 2 as book_depth_quote_50bps,
        signal_sentiment.sentiment as signal_sentiment,
        signal_sentiment.confidence as signal_confidence,
        signal_sentiment.input_batch_ids as signal_batch_ids
    from window_bars as bars
    inner join bar_lookbacks as lookbacks
        on lookbacks.symbol = bars.symbol and lookbacks.bucket_start = bars.bucket_start
    {%- for model, alias in [
        ("int_indicators_1h_moving_averages", "moving_averages"),
        ("int_indicators_1h_momentum", "momentum"),
        ("int_indicators_1h_macd", "macd"),
        ("int_indicators_1h_directional_movement", "directional_movement"),
        ("int_indicators_1h_volatility", "volatility"),
        ("int_liquidity_1h", "liquidity"),
    ] %}
    inner join {{ ref(model) }} as {{ alias }}
        on {{ alias }}.symbol = bars.symbol and {{ alias }}.bucket_start = bars.bucket_start
        and {{ in_build_window(alias ~ ".bucket_start") }}
    {%- endfor %}
    left join {{ ref("int_market_structure_1h") }} as market_structure
        on market_structure.symbol = bars.symbol and market_structure.bucket_start = bars.bucket_start
        and {{ in_build_window("market_structure.bucket_start") }}
    -- the signals first received during the bar (known at score_time): no row, no sentiment
    left join {{ ref("int_signal_sentiment_1h") }} as signal_sentiment
        on signal_sentiment.symbol = bars.symbol and signal_sentiment.bucket_start = bars.bucket_start
        and {{ in_build_window("signal_sentiment.bucket_start") }}
),

measure_means as (
    -- each component's primary measure, and the mean and count of its defined measures
    select
        bar_inputs.*,
        {%- for name, c in components.items() %}
        {%- if "primary" in c %}
        {{ c["primary"] }} as {{ name }}_primary,
        {%- endif %}
        {{ mean_of_defined(c["measures"]) }} as {{ name }}_mean,
        {{ defined_count(c["measures"]) }} as {{ name }}_defined{{ "," if not loop.last }}
        {%- endfor %}
    from bar_inputs
),

component_values as (
    select
        measure_means.*,
        {%- for name, c in components.items() %}
        {%- if c["combine"] == "negative_log_mean" %}
        case when {{ name }}_mean > 0 then -ln({{ name }}_mean) end as {{ name }}{{ "," if not loop.last }}
        {%- else %}
        {{ name }}_mean as {{ name }}{{ "," if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from measure_means
)

select
    symbol,
    bucket_start,
    bucket_start + interval '1 hour' as score_time,
    is_complete,
    bar_completeness,
    lookback_bar_count,
    lookback_coverage,
    close,
    sma_20,
    rsi_14,
    turnover_quote_24h,
    {%- for name, c in components.items() %}
    {%- if "primary" in c %}
    {{ name }}_primary,
    case when {{ name }}_primary is not null then bar_completeness * lookback_coverage{{ " * " ~ c["confidence_factor"] if "confidence_factor" in c }} else 0 end as {{ name }}_primary_confidence,
    {%- endif %}
    {{ name }},
    case when {{ name }} is not null
        then {{ name }}_defined / {{ c["measures"] | length }}.0 * bar_completeness * lookback_coverage{{ " * " ~ c["confidence_factor"] if "confidence_factor" in c }} else 0
    end as {{ name }}_confidence,
    {%- endfor %}
    data_window_start,
    bucket_start + interval '1 hour' as data_window_end,
    {%- for name, c in components.items() if "batch_ids" in c %}
    coalesce({{ c["batch_ids"] }}, '{}'::bigint[]) as {{ name }}_batch_ids,
    {%- endfor %}
    input_batch_ids
from component_values
