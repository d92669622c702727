-- One row per symbol considered at an evaluation.
select
    decision_id,
    evaluation_id,
    symbol,
    action,
    reason,
    composite_score,
    score_rank,
    details
from {{ source('portfolio', 'decisions') }}
