{%- set p = agents_parameters() -%}
{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "score_time"],
        incremental_predicates=[window_delete_predicate("score_time", shift="1 hour")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "score_time"], "unique": true},
            {"columns": ["score_time"]},
        ],
    )
}}
-- The agents' consensus per contract and score_time (the contract the portfolio manager reads).
-- Agent i's weight w_i = accuracy_weight_i (int_agent_accuracy_1h at as_of = score_time: only
-- outcomes known then) x confidence_i, in [0, 1); 0 for an abstaining agent. Over the agents:
--   consensus_score      = sum(w_i s_i) / sum(w_i), in [-1, 1]; null when sum(w_i) = 0 (no
--                          agent with a proven edge has a view)
--   agreement            = the largest of the total weights recommending buy, hold and sell,
--                          over sum(w_i): the share of the weight on the weighted-majority
--                          recommendation, in [1/3, 1]; null when sum(w_i) = 0
--   consensus_confidence = agreement x (1 - prod(1 - w_i)), in [0, 1); 0 when sum(w_i) = 0
--   is_disputed          = an agent of weight >= {{ p["dispute_weight_floor"] }} (var agents.dispute_weight_floor)
--                          recommends buy and another of weight >= {{ p["dispute_weight_floor"] }} sell
--   recommendation       = buy / hold / sell of consensus_score by var agents.recommendation_threshold
--                          ({{ p["recommendation_threshold"] }}), 'abstain' when it is null; a dispute does not change it
--   votes                = every agent's score, confidence, recommendation, accuracy and weight
--   input_batch_ids      = the union of the agents' int_agent_evaluations_1h.input_batch_ids (lineage,
--                          macros/lineage.sql); the accuracies (int_agent_accuracy_1h at (agent, as_of =
--                          score_time)) are declared as a lineage reference (YAML meta.lineage), resolved at trace time
-- Window: the score_times of the window's bars, from their evaluations and the accuracy rows at them.

with weighted_votes as (
    select
        evaluations.symbol,
        evaluations.score_time,
        evaluations.bucket_start,
        evaluations.agent,
        evaluations.score,
        evaluations.confidence,
        evaluations.recommendation,
        evaluations.input_batch_ids,
        accuracy.shrunk_accuracy,
        accuracy.accuracy_weight * evaluations.confidence as weight
    from {{ ref("int_agent_evaluations_1h") }} as evaluations
    inner join {{ ref("int_agent_accuracy_1h") }} as accuracy
        on accuracy.agent = evaluations.agent
        and accuracy.as_of = evaluations.score_time
    where evaluations.score_time > {{ build_window_start() }} and evaluations.score_time <= {{ window_end() }}
      and accuracy.as_of > {{ build_window_start() }} and accuracy.as_of <= {{ window_end() }}
),

symbol_hours as (
    select
        symbol,
        score_time,
        min(bucket_start) as bucket_start,
        sum(weight order by agent) as total_weight,
        sum(weight * score order by agent) filter (where weight > 0) as weighted_score_sum,
        greatest(
            coalesce(sum(weight order by agent) filter (where recommendation = 'buy'), 0),
            coalesce(sum(weight order by agent) filter (where recommendation = 'hold'), 0),
            coalesce(sum(weight order by agent) filter (where recommendation = 'sell'), 0)
        ) as majority_weight,
        exp(sum(ln(1 - weight) order by agent)) as none_informative,
        bool_or(recommendation = 'buy' and weight >= {{ p["dispute_weight_floor"] }})
            and bool_or(recommendation = 'sell' and weight >= {{ p["dispute_weight_floor"] }}) as is_disputed,
        count(*) filter (where recommendation <> 'abstain') as voting_agent_count,
        count(*) filter (where weight > 0) as weighted_agent_count,
        jsonb_object_agg(agent, jsonb_build_object(
            'score', score, 'confidence', confidence, 'recommendation', recommendation,
            'accuracy', shrunk_accuracy, 'weight', weight
        )) as votes,
        {{ union_batch_ids("input_batch_ids") }} as input_batch_ids
    from weighted_votes  -- sums in agent order, so every run rounds alike
    group by symbol, score_time
),

consensus as (
    select
        symbol,
        score_time,
        bucket_start,
        weighted_score_sum / nullif(total_weight, 0) as consensus_score,
        majority_weight / nullif(total_weight, 0) as agreement,
        none_informative,
        is_disputed,
        total_weight,
        voting_agent_count,
        weighted_agent_count,
        votes,
        input_batch_ids
    from symbol_hours
)

select
    symbol,
    score_time,
    bucket_start,
    consensus_score,
    coalesce(agreement * (1 - none_informative), 0) as consensus_confidence,
    agreement,
    is_disputed,
    {{ agent_recommendation("consensus_score") }} as recommendation,
    total_weight,
    voting_agent_count,
    weighted_agent_count,
    votes,
    input_batch_ids
from consensus
