-- One row per funding settlement of a perpetual.
select
    symbol,
    funding_time,
    funding_rate,
    batch_id
from {{ source('raw', 'funding_rates') }}
