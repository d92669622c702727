-- One row per portfolio evaluation (hour x algorithm version).
select
    evaluation_id,
    as_of,
    as_of - interval '1 hour' as scored_bucket_start,
    algorithm_version,
    run_id,
    universe_size,
    eligible_count,
    outcome,
    outcome_reason,
    score_batch_ids,
    policy,
    relaxations,
    created_at
from {{ source('portfolio', 'evaluations') }}
