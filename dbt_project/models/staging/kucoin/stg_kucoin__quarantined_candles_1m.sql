-- One row per 1-minute candle record refused at load or moved out of raw.candles_1m by the GX
-- gate, with the rule it broke.
select
    quarantine_id,
    batch_id,
    stage,
    rule,
    detail,
    symbol,
    open_time,
    record,
    quarantined_at
from {{ source('quarantine', 'candles_1m') }}
