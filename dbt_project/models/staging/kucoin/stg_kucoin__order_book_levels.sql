-- One row per level of an order-book snapshot; level 1 is the best bid or ask.
select
    symbol,
    observed_at,
    sequence as book_sequence,
    side,
    level,
    price,
    size_lots,
    depth as requested_depth,
    batch_id
from {{ source('raw', 'order_book_levels') }}
