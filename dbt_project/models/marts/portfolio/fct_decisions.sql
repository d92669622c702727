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

with window_evaluations as (
    select evaluation_id, as_of, algorithm_version
    from {{ ref("stg_portfolio__evaluations") }}
    -- scored_bucket_start (= as_of - 1 hour) in the window, written so the index on as_of applies
    where as_of >= {{ build_window_start() }} + interval '1 hour'
      and as_of < {{ window_end() }} + interval '1 hour'
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
    decisions.details
from window_evaluations
inner join {{ ref("stg_portfolio__decisions") }} as decisions
    on decisions.evaluation_id = window_evaluations.evaluation_id
