-- One row per symbol of a load: the span of open times it requested, the rows it received and
-- whether the symbol's data arrived whole.
select
    batch_id,
    symbol,
    span_start,
    span_end,
    rows_fetched,
    status,
    error
from {{ source('raw_ledger', 'load_batch_symbols') }}
