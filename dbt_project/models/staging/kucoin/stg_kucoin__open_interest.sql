-- One row per 5-minute open-interest point, in lots.
select
    symbol,
    observed_at,
    open_interest_lots,
    batch_id
from {{ source('raw', 'open_interest') }}
