-- One row per contract and minute, as loaded; volume named for its unit (lots).
select
    symbol,
    open_time,
    open_time + interval '1 minute' as close_time,
    open,
    high,
    low,
    close,
    volume as volume_lots,
    batch_id
from {{ source('raw', 'candles_1m') }}
