{{ config(materialized="view") }}
{%- set p = indicator_parameters() -%}
-- Every indicator of a 1h bar in one row: int_candles_1h's bars joined to the indicator families
-- (int_indicators_1h_moving_averages, _macd, _momentum, _directional_movement, _volatility,
-- _volume) and int_returns_1h, on (symbol, bucket_start). A view: nothing to keep in step, and a
-- query for some hours reads only those rows of each family (through their unique indexes).
-- The families' recursion states are left out.

select
    bars.symbol,
    bars.bucket_start,
    bars.close,
    moving_averages.bar_number,
    returns.hours_since_previous_bar,
    {%- for h in p["return_horizons"] %}
    returns.simple_return_{{ h }},
    returns.log_return_{{ h }},
    {%- endfor %}
    {%- for n in p["sma_periods"] %}
    moving_averages.sma_{{ n }},
    {%- endfor %}
    {%- for n in p["ema_periods"] %}
    moving_averages.ema_{{ n }},
    {%- endfor %}
    {%- for n in p["wma_periods"] %}
    moving_averages.wma_{{ n }},
    {%- endfor %}
    macd.macd,
    macd.macd_signal,
    macd.macd_hist,
    momentum.rsi_{{ p["rsi_period"] }},
    momentum.stoch_slowk,
    momentum.stoch_slowd,
    momentum.roc_{{ p["roc_period"] }},
    directional_movement.adx_{{ p["adx_period"] }},
    directional_movement.plus_di_{{ p["adx_period"] }},
    directional_movement.minus_di_{{ p["adx_period"] }},
    volatility.atr_{{ p["atr_period"] }},
    volatility.bb_upper,
    volatility.bb_middle,
    volatility.bb_lower,
    volatility.rv_close_to_close_{{ p["realized_volatility_period"] }},
    volatility.rv_parkinson_{{ p["realized_volatility_period"] }},
    volatility.rv_garman_klass_{{ p["realized_volatility_period"] }},
    volume.obv,
    volume.mfi_{{ p["mfi_period"] }},
    volume.vwap_{{ p["vwap_period"] }},
    volume.volume_zscore_{{ p["volume_zscore_period"] }}
from {{ ref("int_candles_1h") }} as bars
inner join {{ ref("int_indicators_1h_moving_averages") }} as moving_averages
    on moving_averages.symbol = bars.symbol and moving_averages.bucket_start = bars.bucket_start
inner join {{ ref("int_indicators_1h_macd") }} as macd
    on macd.symbol = bars.symbol and macd.bucket_start = bars.bucket_start
inner join {{ ref("int_indicators_1h_momentum") }} as momentum
    on momentum.symbol = bars.symbol and momentum.bucket_start = bars.bucket_start
inner join {{ ref("int_indicators_1h_directional_movement") }} as directional_movement
    on directional_movement.symbol = bars.symbol and directional_movement.bucket_start = bars.bucket_start
inner join {{ ref("int_indicators_1h_volatility") }} as volatility
    on volatility.symbol = bars.symbol and volatility.bucket_start = bars.bucket_start
inner join {{ ref("int_indicators_1h_volume") }} as volume
    on volume.symbol = bars.symbol and volume.bucket_start = bars.bucket_start
inner join {{ ref("int_returns_1h") }} as returns
    on returns.symbol = bars.symbol and returns.bucket_start = bars.bucket_start
