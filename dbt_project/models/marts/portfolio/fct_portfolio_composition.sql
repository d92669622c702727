-- The current portfolio of each scoring algorithm version: the ten holdings of its latest
-- formed evaluation. (With one version in production, that is the ten rows of the current portfolio.)

with latest_evaluations as (
    select distinct on (algorithm_version)
        evaluation_id,
        as_of,
        algorithm_version
    from {{ ref("stg_portfolio__evaluations") }}
    where outcome = 'formed'
    order by algorithm_version, as_of desc
)

select
    latest_evaluations.evaluation_id,
    latest_evaluations.as_of,
    latest_evaluations.algorithm_version,
    holdings.symbol,
    holdings.position,
    holdings.weight,
    holdings.composite_score,
    -- lineage: the scores the evaluation ranked
    {{ evaluation_batch_ids("latest_evaluations.as_of", "latest_evaluations.algorithm_version") }} as input_batch_ids
from latest_evaluations
inner join {{ ref("stg_portfolio__composition") }} as holdings
    on holdings.evaluation_id = latest_evaluations.evaluation_id
