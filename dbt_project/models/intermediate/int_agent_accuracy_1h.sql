{%- set p = agents_parameters() -%}
{%- set h, l, k = p["outcome_horizon_hours"], p["accuracy_lookback_hours"], p["accuracy_prior_strength"] -%}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["agent", "as_of"],
        incremental_predicates=[window_delete_predicate("as_of", shift="1 hour")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["agent", "as_of"], "unique": true},
            {"columns": ["as_of"]},
        ],
    )
}}
-- Each agent's directional accuracy at every evaluation hour as_of (a score_time of
-- int_agent_evaluations_1h), judged only by outcomes known at as_of. A buy (+1) or sell (-1)
-- evaluated at score_time s is resolved by the forward return of int_forward_returns_1h at (s,
-- H = {{ h }} hours, var agents.outcome_horizon_hours), known from s + H on; it is a hit when
-- sign x forward_return > 0 (a zero return is a miss). Holds and abstentions are not calls; a
-- call without a forward return (a gap, a delisting) is never resolved. At as_of the record
-- counts the calls resolved in (as_of - L, as_of], L = {{ l }} hours (var agents.accuracy_lookback_hours),
-- i.e. evaluated at s in (as_of - L - H, as_of - H]:
--   hit_rate         = hits / resolved (null when nothing resolved)
--   shrunk_accuracy  = (hits + k/2) / (resolved + k), k = {{ k }} (var agents.accuracy_prior_strength):
--                      the posterior mean under a Beta(k/2, k/2) prior centred on a coin flip
--   accuracy_weight  = max(0, 2 x shrunk_accuracy - 1), the agent's edge over a coin flip
-- Window: the as_of hours of the window's score_times (window_start, window_end], reading the
-- evaluations and forward returns of the {{ l }} hours before them, {{ h }} hours earlier: bounded by
-- the lookback whatever the history length.

with as_of_hours as (
    select distinct score_time as as_of
    from {{ ref("int_agent_evaluations_1h") }}
    where score_time > {{ build_window_start() }} and score_time <= {{ window_end() }}
),

agents as (
    select agent from unnest(array['{{ agents_list() | join("', '") }}']) as agent
),

resolved_calls as (
    select
        evaluations.agent,
        evaluations.score_time + interval '{{ h }} hours' as resolved_at,
        (case evaluations.recommendation when 'buy' then 1 else -1 end) * forward_returns.forward_return > 0 as is_hit
    from {{ ref("int_agent_evaluations_1h") }} as evaluations
    inner join {{ ref("int_forward_returns_1h") }} as forward_returns
        on forward_returns.symbol = evaluations.symbol
        and forward_returns.score_time = evaluations.score_time
        and forward_returns.horizon_hours = {{ h }}
    where evaluations.recommendation in ('buy', 'sell')
      and forward_returns.forward_return is not null
      and evaluations.score_time > {{ build_window_start() }} - interval '{{ l + h }} hours'
      and evaluations.score_time <= {{ window_end() }} - interval '{{ h }} hours'
      and forward_returns.score_time > {{ build_window_start() }} - interval '{{ l + h }} hours'
      and forward_returns.score_time <= {{ window_end() }} - interval '{{ h }} hours'
),

records as (
    select
        agents.agent,
        as_of_hours.as_of,
        count(resolved_calls.is_hit) as resolved_count,
        count(*) filter (where resolved_calls.is_hit) as hit_count
    from as_of_hours
    cross join agents
    left join resolved_calls
        on resolved_calls.agent = agents.agent
        and resolved_calls.resolved_at > as_of_hours.as_of - interval '{{ l }} hours'
        and resolved_calls.resolved_at <= as_of_hours.as_of
    group by agents.agent, as_of_hours.as_of
)

select
    agent,
    as_of,
    resolved_count,
    hit_count,
    hit_count::double precision / nullif(resolved_count, 0) as hit_rate,
    (hit_count + {{ k }} / 2.0)::double precision / (resolved_count + {{ k }}) as shrunk_accuracy,
    greatest(0, 2 * (hit_count + {{ k }} / 2.0)::double precision / (resolved_count + {{ k }}) - 1) as accuracy_weight
from records
