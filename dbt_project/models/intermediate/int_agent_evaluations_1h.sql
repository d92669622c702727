{%- set p = agents_parameters() -%}
{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["agent", "symbol", "score_time"],
        incremental_predicates=[window_delete_predicate("score_time", shift="1 hour")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["agent", "symbol", "score_time"], "unique": true},
            {"columns": ["symbol", "score_time"]},
            {"columns": ["score_time"]},
        ],
    )
}}
-- Four agents evaluate every contract at the end of each of its 1h bars (score_time =
-- bucket_start + 1 hour, as fct_symbol_scores), each from its own family of inputs only, so
-- their errors are as independent as the inputs:
--   technical         int_indicators_1h_moving_averages, _macd, _momentum, _directional_movement
--     trend       = tanh((close / sma_20 - 1) / {{ p["trend_scale"] }})            (agents.trend_scale)
--     momentum    = (rsi_14 - 50) / 50
--     macd        = tanh((macd_hist / close) / {{ p["macd_scale"] }})              (agents.macd_scale)
--     directional = (plus_di_14 - minus_di_14) / (plus_di_14 + minus_di_14)        (Wilder's DMI; null when both 0)
--   market_structure  int_market_structure_1h (only contracts with order-book snapshots)
--     depth_imbalance = imbalance_10bps_mean, touch_imbalance = imbalance_level_1_mean,
--     order_flow      = (buy_quote_volume - sell_quote_volume) / (buy_quote_volume + sell_quote_volume)
--   risk              int_indicators_1h_volatility, int_returns_1h, int_liquidity_1h
--     risk_adjusted_return = tanh(log_return_24 / (rv_close_to_close_24 x sqrt(24)))   (a 24h t-statistic)
--     band_position        = -clamp((close - bb_middle) / (bb_upper - bb_middle), -1, 1) (stretched = risky)
--     liquidity            = 1 - 2 min(1, corwin_schultz_spread / {{ p["spread_ceiling"] }}) (agents.spread_ceiling; the spread is >= 0)
--   sentiment         int_signal_sentiment_1h: score = sentiment, confidence = its confidence
-- A sub-score whose inputs are missing (warm-up, no book, a zero denominator) is null; score =
-- mean of the defined sub-scores, confidence = (defined / all) x (1 - their population
-- stddev) (macros/agents.sql agent_evaluation); an agent with none abstains (null score,
-- confidence 0, recommendation 'abstain'). Recommendation: buy when score >= {{ p["recommendation_threshold"] }},
-- sell when <= -{{ p["recommendation_threshold"] }}, else hold (agents.recommendation_threshold).
-- input_batch_ids (lineage, macros/lineage.sql): the load batches of the rows the agent read at
-- the bar: technical and risk the bar's own (int_candles_1h.batch_ids; their indicators' and
-- returns' lookbacks are reached through those models' (symbol, bucket_start) key), market_structure
-- int_market_structure_1h.batch_ids, sentiment int_signal_sentiment_1h.input_batch_ids ('{}'
-- without that row).
-- Window: the bars of the window (int_returns_1h, one row per 1h bar) and their inputs, by key.

with window_bars as (
    select
        returns.symbol,
        returns.bucket_start,
        returns.log_return_24::double precision as log_return_24,
        {{ bar_batch_ids("returns.symbol", "returns.bucket_start") }} as bar_batch_ids
    from {{ ref("int_returns_1h") }} as returns
    where {{ in_build_window("returns.bucket_start") }}
),

technical_inputs as (
    select
        window_bars.symbol,
        window_bars.bucket_start,
        moving_averages.close::double precision as close,
        moving_averages.sma_20::double precision as sma_20,
        momentum.rsi_14::double precision as rsi_14,
        macd.macd_hist::double precision as macd_hist,
        directional_movement.plus_di_14::double precision as plus_di_14,
        directional_movement.minus_di_14::double precision as minus_di_14,
        window_bars.bar_batch_ids as input_batch_ids
    from window_bars
    {{ bar_join("int_indicators_1h_moving_averages", "moving_averages") }}
    {{ bar_join("int_indicators_1h_momentum", "momentum") }}
    {{ bar_join("int_indicators_1h_macd", "macd") }}
    {{ bar_join("int_indicators_1h_directional_movement", "directional_movement") }}
),

market_structure_inputs as (
    select
        window_bars.symbol,
        window_bars.bucket_start,
        market_structure.imbalance_10bps_mean::double precision as imbalance_10bps_mean,
        market_structure.imbalance_level_1_mean::double precision as imbalance_level_1_mean,
        market_structure.buy_quote_volume::double precision as buy_quote_volume,
        market_structure.sell_quote_volume::double precision as sell_quote_volume,
        market_structure.batch_ids as input_batch_ids
    from window_bars
    {{ bar_join("int_market_structure_1h", "market_structure") }}
),

risk_inputs as (
    select
        window_bars.symbol,
        window_bars.bucket_start,
        volatility.close::double precision as close,
        window_bars.log_return_24,
        volatility.rv_close_to_close_24::double precision as rv_close_to_close_24,
        volatility.bb_middle::double precision as bb_middle,
        volatility.bb_upper::double precision as bb_upper,
        liquidity.corwin_schultz_spread::double precision as corwin_schultz_spread,
        window_bars.bar_batch_ids as input_batch_ids
    from window_bars
    {{ bar_join("int_indicators_1h_volatility", "volatility") }}
    {{ bar_join("int_liquidity_1h", "liquidity") }}
),

sentiment_inputs as (
    select
        window_bars.symbol,
        window_bars.bucket_start,
        sentiment.sentiment,
        sentiment.confidence,
        sentiment.event_count,
        sentiment.signal_count,
        sentiment.source_count,
        sentiment.total_weight,
        sentiment.input_batch_ids
    from window_bars
    {{ bar_join("int_signal_sentiment_1h", "sentiment") }}
)

{{ agent_evaluation(
    "technical", "technical_inputs",
    ["close", "sma_20", "rsi_14", "macd_hist", "plus_di_14", "minus_di_14"],
    {
        "trend": "tanh((close / nullif(sma_20, 0) - 1) / " ~ p["trend_scale"] ~ ")",
        "momentum": "(rsi_14 - 50) / 50",
        "macd": "tanh((macd_hist / nullif(close, 0)) / " ~ p["macd_scale"] ~ ")",
        "directional": "(plus_di_14 - minus_di_14) / nullif(plus_di_14 + minus_di_14, 0)",
    },
) }}
union all
{{ agent_evaluation(
    "market_structure", "market_structure_inputs",
    ["imbalance_10bps_mean", "imbalance_level_1_mean", "buy_quote_volume", "sell_quote_volume"],
    {
        "depth_imbalance": "imbalance_10bps_mean",
        "touch_imbalance": "imbalance_level_1_mean",
        "order_flow": "(buy_quote_volume - sell_quote_volume) / nullif(buy_quote_volume + sell_quote_volume, 0)",
    },
) }}
union all
{{ agent_evaluation(
    "risk", "risk_inputs",
    ["close", "log_return_24", "rv_close_to_close_24", "bb_middle", "bb_upper", "corwin_schultz_spread"],
    {
        "risk_adjusted_return": "tanh(log_return_24 / nullif(rv_close_to_close_24 * sqrt(24), 0))",
        "band_position": "-" ~ clamp_unit("(close - bb_middle) / nullif(bb_upper - bb_middle, 0)"),
        "liquidity": "1 - 2 * " ~ clamp_unit("corwin_schultz_spread / " ~ p["spread_ceiling"]),
    },
) }}
union all
{{ agent_evaluation(
    "sentiment", "sentiment_inputs",
    ["sentiment", "confidence", "event_count", "signal_count", "source_count", "total_weight"],
    {"sentiment": "sentiment"},
    confidence="sentiment_inputs.confidence",
) }}
