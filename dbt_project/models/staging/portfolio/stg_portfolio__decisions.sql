-- One row per symbol considered at an evaluation.
select
    decision_id,
    evaluation_id,
    symbol,
    action,
    reason,
    composite_score,
    score_rank,
    details,
    -- V0010: the override that made the decision and the symbol's consensus as the manager read it
    override_id,
    consensus_status,
    consensus,
    votes
from {{ source('portfolio', 'decisions') }}
