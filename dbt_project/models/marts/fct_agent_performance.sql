{%- set p = agents_parameters() -%}
{%- set h = p["outcome_horizon_hours"] -%}
{%- set first_day, end_day = agent_performance_days() -%}
{%- set first_day = first_day if is_incremental() else none -%}
{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["agent", "score_date"],
        incremental_predicates=[agent_performance_delete_predicate()],
        on_schema_change="fail",
        post_hook="analyze {{ this }}",
        indexes=[
            {"columns": ["agent", "score_date"], "unique": true},
            {"columns": ["score_date"]},
        ],
    )
}}
-- Each agent's track record per UTC day of its score_times, judged ex post by the forward
-- returns of int_forward_returns_1h at H = {{ h }} hours (var agents.outcome_horizon_hours): every
-- outcome known by now, unlike int_agent_accuracy_1h, which only counts those known at the time.
--   calls = buy and sell recommendations; resolved = calls with a forward return; hit = sign x
--   forward_return > 0; mean forward return of the buys and of the sells (resolved ones);
--   ic = Pearson's correlation of score and forward_return over the day's scored evaluations
--   with a forward return, pooled over all the day's contracts and hours (alphalens'
--   factor_information_coefficient is per period and Spearman's; this is the Pearson IC of
--   fct_scoring_performance, pooled by day); null when either side is constant or with fewer
--   than two pairs (macros/scoring_performance.sql pearson_correlation);
--   mean_consensus_weight = the mean weight int_agent_consensus_1h gave the agent (0 when
--   abstaining) over its evaluations of the day;
--   input_batch_ids = the union over the day's evaluations of their own input_batch_ids (the rows
--   the agent read, int_agent_evaluations_1h) and of their forward returns' (the return's two bars).
-- Window: the days holding a score_time in [window_start + 1 - {{ h }} hours, window_end + 1 hour), whose
-- evaluations or forward returns the window built, from those days' rows only.

with day_evaluations as (
    select
        evaluations.agent,
        (evaluations.score_time at time zone 'UTC')::date as score_date,
        evaluations.symbol,
        evaluations.score_time,
        evaluations.score,
        evaluations.recommendation,
        forward_returns.forward_return::double precision as forward_return,
        -- the pairs of the IC: both sides defined
        case when forward_returns.forward_return is not null then evaluations.score end as ic_score,
        case when evaluations.score is not null then forward_returns.forward_return::double precision end as ic_forward_return,
        (consensus.votes -> evaluations.agent ->> 'weight')::double precision as consensus_weight,
        {{ merge_batch_ids(["evaluations.input_batch_ids", "forward_returns.input_batch_ids"]) }} as input_batch_ids
    from {{ ref("int_agent_evaluations_1h") }} as evaluations
    left join {{ ref("int_forward_returns_1h") }} as forward_returns
        on forward_returns.symbol = evaluations.symbol
        and forward_returns.score_time = evaluations.score_time
        and forward_returns.horizon_hours = {{ h }}
        -- the days' bounds on the joined tables too, so that their score_time indexes are range-scanned
        and {{ in_days("forward_returns.score_time", first_day, end_day) }}
    left join {{ ref("int_agent_consensus_1h") }} as consensus
        on consensus.symbol = evaluations.symbol
        and consensus.score_time = evaluations.score_time
        and {{ in_days("consensus.score_time", first_day, end_day) }}
    where {{ in_days("evaluations.score_time", first_day, end_day) }}
)

select
    agent,
    score_date,
    count(*) as evaluation_count,
    count(*) filter (where recommendation = 'abstain') as abstention_count,
    count(*) filter (where recommendation in ('buy', 'sell')) as call_count,
    count(*) filter (where recommendation in ('buy', 'sell') and forward_return is not null) as resolved_count,
    count(*) filter (where recommendation = 'buy' and forward_return > 0 or recommendation = 'sell' and forward_return < 0) as hit_count,
    (count(*) filter (where recommendation = 'buy' and forward_return > 0 or recommendation = 'sell' and forward_return < 0))::double precision
        / nullif(count(*) filter (where recommendation in ('buy', 'sell') and forward_return is not null), 0) as hit_rate,
    avg(forward_return order by symbol, score_time) filter (where recommendation = 'buy') as mean_forward_return_buy,
    avg(forward_return order by symbol, score_time) filter (where recommendation = 'sell') as mean_forward_return_sell,
    count(ic_score) as ic_observation_count,
    {{ pearson_correlation("ic_forward_return", "ic_score", "symbol, score_time") }} as ic,
    avg(consensus_weight order by symbol, score_time) as mean_consensus_weight,
    {{ union_batch_ids("input_batch_ids") }} as input_batch_ids
-- the averages accumulate in (symbol, score_time) order, so every run rounds alike
from day_evaluations
group by agent, score_date
