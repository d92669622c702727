{%- set p = signals_parameters() -%}
{%- set h = p["outcome_horizon_hours"] -%}
{%- set lookback = p["reliability_lookback_hours"] -%}
{%- set k = p["reliability_prior_strength"] -%}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["source", "as_of"],
        incremental_predicates=[window_delete_predicate("as_of")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["source", "as_of"], "unique": true},
            {"columns": ["as_of"]},
        ],
    )
}}
-- How reliable each source was, hour by hour, judged only by what was known at as_of.
--
-- A signal received in the hour starting at b is judged by the forward return from the close
-- of that hour's bar over {{ h }} hours (var signals.outcome_horizon_hours):
--   forward_return = int_forward_returns_1h.forward_return at score_time = b + 1 hour, horizon {{ h }},
-- known from horizon_end = b + {{ 1 + h }} hours on. A directional signal (long/short) is a hit
-- when direction_sign x forward_return > 0 (a zero return is a miss); neutral signals and
-- signals without a forward return (gap, delisting) are not resolved.
--
-- At as_of (a whole hour), over the signals of the source received in
-- [as_of - {{ lookback }} hours, as_of) (var signals.reliability_lookback_hours):
--   resolved_count = those resolved with horizon_end <= as_of, hit_count = their hits,
--   hit_rate = hit_count / resolved_count (null when none is resolved),
--   shrunk_hit_rate = (hit_count + k / 2) / (resolved_count + k), k = {{ k }}: the posterior mean
--     of the hit probability under a Beta(k/2, k/2) prior (var signals.reliability_prior_strength),
--   reliability_weight = max(0, 2 x shrunk_hit_rate - 1): the edge over a coin, the weight
--     int_signal_sentiment_1h gives the source (0 for a noise or contrarian source, and for one
--     without resolved history),
--   median_delivery_latency_seconds = the median (percentile_cont 0.5) of received_at - published_at.
--
-- Rows: each source and whole hour as_of from the hour after the first signal received (of any
-- source) up to {{ 1 + h }} hours after the hour of the last one (when its outcome is known),
-- where the source received at least one signal in the lookback. Window: the as_of hours in the build window;
-- a run reads the signals received in [window_start - {{ lookback }} hours, window_end) and their
-- forward returns, whatever the history length.

with bounds as (
    select
        date_trunc('hour', min(received_at)) + interval '1 hour' as first_as_of,
        date_trunc('hour', max(received_at)) + interval '{{ 1 + h }} hours' as last_as_of
    from {{ ref("stg_signals__signals") }}
),

hours as (
    select as_of
    from bounds
    cross join lateral generate_series(
        greatest(bounds.first_as_of, {{ build_window_start() }}),
        least(bounds.last_as_of, {{ window_end() }} - interval '1 hour'),
        interval '1 hour'
    ) as as_of
),

window_signals as (
    select
        signals.source,
        signals.received_at,
        signals.delivery_latency_seconds,
        date_trunc('hour', signals.received_at) + interval '{{ 1 + h }} hours' as horizon_end,
        case when signals.direction_sign <> 0 and forward.forward_return is not null
             then (signals.direction_sign * forward.forward_return > 0)::int end as hit
    from {{ ref("stg_signals__signals") }} as signals
    left join {{ ref("int_forward_returns_1h") }} as forward
        on forward.symbol = signals.symbol
        and forward.score_time = date_trunc('hour', signals.received_at) + interval '1 hour'
        and forward.horizon_hours = {{ h }}
    where signals.is_known_symbol
      and signals.received_at >= {{ build_window_start() }} - interval '{{ lookback }} hours'
      and signals.received_at < {{ window_end() }}
),

counted as (
    select
        window_signals.source,
        hours.as_of,
        count(*) as signal_count,
        count(window_signals.hit) filter (where window_signals.horizon_end <= hours.as_of) as resolved_count,
        coalesce(sum(window_signals.hit) filter (where window_signals.horizon_end <= hours.as_of), 0) as hit_count,
        percentile_cont(0.5) within group (order by window_signals.delivery_latency_seconds) as median_delivery_latency_seconds
    from hours
    inner join window_signals
        on window_signals.received_at >= hours.as_of - interval '{{ lookback }} hours'
        and window_signals.received_at < hours.as_of
    group by window_signals.source, hours.as_of
),

shrunk as (
    select
        *,
        (hit_count + {{ k }} / 2.0)::double precision / (resolved_count + {{ k }}) as shrunk_hit_rate
    from counted
)

select
    source,
    as_of,
    signal_count,
    resolved_count,
    hit_count,
    hit_count::double precision / nullif(resolved_count, 0) as hit_rate,
    shrunk_hit_rate,
    greatest(0, 2 * shrunk_hit_rate - 1) as reliability_weight,
    median_delivery_latency_seconds
from shrunk
