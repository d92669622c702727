-- One row per holding of an evaluation.
select
    evaluation_id,
    symbol,
    position::integer as position,
    weight,
    composite_score
from {{ source('portfolio', 'composition') }}
