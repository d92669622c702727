-- One row per ticker snapshot: last trade and best bid/ask, sizes named for their unit (lots).
select
    symbol,
    observed_at,
    ts_ns,
    sequence,
    last_price,
    last_size_lots,
    last_side,
    last_trade_id,
    best_bid,
    best_bid_size_lots,
    best_ask,
    best_ask_size_lots,
    batch_id
from {{ source('raw', 'tickers') }}
