-- One row per public trade; taker_side is the side of the aggressing order.
select
    symbol,
    trade_id,
    traded_at,
    ts_ns,
    sequence as trade_sequence,
    price,
    size_lots,
    taker_side,
    maker_order_id,
    taker_order_id,
    batch_id
from {{ source('raw', 'trades') }}
