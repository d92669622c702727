{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["bucket_start"],
        incremental_predicates=[window_delete_predicate("bucket_start")],
        on_schema_change="fail",
        indexes=[{"columns": ["bucket_start"], "unique": true}],
    )
}}
{%- set p = market_regime_parameters() -%}
{%- set symbol, trend_hours, lookback = p["symbol"], p["trend_hours"], p["volatility_lookback_hours"] -%}
-- Market regime of each hour bucket h (one row per hour in which any contract has a 1h bar), from
-- {{ symbol }} (var market_regime.symbol):
--   trend = ln(close_h / close_{h - {{ trend_hours }}h}), the closes of the bars starting exactly at h and
--       {{ trend_hours }} hours earlier (null when either bar is missing: a gap is not bridged);
--   volatility = rv_close_to_close_24 of int_indicators_1h_volatility at h (population standard
--       deviation of the last 24 one-bar log returns);
--   volatility_percentile = the fraction of the {{ symbol }} volatility values at the hours in
--       (h - {{ lookback }}h, h] that are <= the value at h (the empirical CDF at h, in (0, 1]; h's own
--       value included), over volatility_observations such values; null when fewer than
--       {{ p["min_volatility_observations"] }} (var market_regime.min_volatility_observations).
-- Rule, first match: unknown when trend or volatility_percentile is null (no {{ symbol }} bar at h,
-- none {{ trend_hours }}h earlier, volatility warming up); risk_off when trend <= -{{ p["trend_threshold"] }} or
-- volatility_percentile >= {{ p["high_volatility_percentile"] }} (a falling or turbulent market); risk_on when trend >= {{ p["trend_threshold"] }}
-- (rising and calm); neutral otherwise. Incremental: rows are recomputed from their inputs (no
-- state carried), so a run reads the window's bars of {{ symbol }} plus {{ [trend_hours, lookback] | max }} hours before it.

with regime_hours as (
    select distinct bucket_start
    from {{ ref("int_candles_1h") }}
    where {{ in_build_window("bucket_start") }}
),

closes as (
    select bucket_start, close
    from {{ ref("int_candles_1h") }}
    where symbol = '{{ symbol }}'
      and bucket_start >= (select min(bucket_start) from regime_hours) - interval '{{ trend_hours }} hours'
      and bucket_start <= (select max(bucket_start) from regime_hours)
),

volatilities as (
    select bucket_start, rv_close_to_close_24 as volatility
    from {{ ref("int_indicators_1h_volatility") }}
    where symbol = '{{ symbol }}'
      and rv_close_to_close_24 is not null
      and bucket_start > (select min(bucket_start) from regime_hours) - interval '{{ lookback }} hours'
      and bucket_start <= (select max(bucket_start) from regime_hours)
),

measured as (
    select
        regime_hours.bucket_start,
        ln(current_close.close / nullif(earlier_close.close, 0))::double precision as trend,
        current_volatility.volatility,
        frame.observations as volatility_observations,
        frame.at_or_below::double precision / frame.observations as volatility_fraction
    from regime_hours
    left join closes as current_close on current_close.bucket_start = regime_hours.bucket_start
    left join closes as earlier_close on earlier_close.bucket_start = regime_hours.bucket_start - interval '{{ trend_hours }} hours'
    left join volatilities as current_volatility on current_volatility.bucket_start = regime_hours.bucket_start
    left join lateral (
        select count(*) as observations, count(*) filter (where lookback_rows.volatility <= current_volatility.volatility) as at_or_below
        from volatilities as lookback_rows
        where lookback_rows.bucket_start > regime_hours.bucket_start - interval '{{ lookback }} hours'
          and lookback_rows.bucket_start <= regime_hours.bucket_start
    ) as frame on true
),

labelled as (
    select
        bucket_start,
        trend,
        volatility,
        volatility_observations::integer as volatility_observations,
        case
            when volatility is not null and volatility_observations >= {{ p["min_volatility_observations"] }} then volatility_fraction
        end as volatility_percentile
    from measured
)

select
    bucket_start,
    '{{ symbol }}'::text as regime_symbol,
    trend,
    volatility,
    volatility_observations,
    volatility_percentile,
    case
        when trend is null or volatility_percentile is null then 'unknown'
        when trend <= -{{ p["trend_threshold"] }} or volatility_percentile >= {{ p["high_volatility_percentile"] }} then 'risk_off'
        when trend >= {{ p["trend_threshold"] }} then 'risk_on'
        else 'neutral'
    end as regime
from labelled
