{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key="decision_id",
        incremental_predicates=[window_delete_predicate("as_of", shift="1 hour")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["decision_id"], "unique": true},
            {"columns": ["as_of", "algorithm_version"]},
        ],
    )
}}
-- Every decision of the portfolio manager with its evaluation's time and algorithm version.
-- Windowed like the scores: the evaluations of the hour buckets [window_start, window_end)
-- (as_of = bucket end). Decisions are records the manager never rewrites.
-- The consensus columns are the int_agent_consensus_1h row of the decision's symbol at
-- score_time = as_of as the manager copied it (orchestration/portfolio/manager.py), not a re-read
-- of the model: its score and confidence are taken out of the copy, typed.

with window_evaluations as (
    select
        evaluations.evaluation_id,
        evaluations.as_of,
        evaluations.algorithm_version,
        {{ evaluation_batch_ids("evaluations.as_of", "evaluations.algorithm_version") }} as input_batch_ids
    from {{ ref("stg_portfolio__evaluations") }} as evaluations
    -- scored_bucket_start (= as_of - 1 hour) in the window, written so the index on as_of applies
    where evaluations.as_of >= {{ build_window_start() }} + interval '1 hour'
      and evaluations.as_of < {{ window_end() }} + interval '1 hour'
)

select
    decisions.decision_id,
    decisions.evaluation_id,
    window_evaluations.as_of,
    window_evaluations.algorithm_version,
    decisions.symbol,
    decisions.action,
    decisions.reason,
    decisions.composite_score,
    decisions.score_rank,
    decisions.details,
    decisions.override_id,
    decisions.consensus_status,
    (decisions.consensus ->> 'consensus_score')::double precision as consensus_score,
    (decisions.consensus ->> 'consensus_confidence')::double precision as consensus_confidence,
    decisions.consensus,
    decisions.votes,
    -- lineage: every decision of an evaluation rests on the whole ranking it read
    window_evaluations.input_batch_ids
from window_evaluations
inner join {{ ref("stg_portfolio__decisions") }} as decisions
    on decisions.evaluation_id = window_evaluations.evaluation_id
