-- One row per load: what it fetched, inserted, found unchanged or quarantined.
select
    batch_id,
    asset,
    partition_key,
    window_start,
    window_end,
    source,
    run_id,
    status,
    request_count,
    rows_in,
    rows_inserted,
    rows_unchanged,
    rows_quarantined,
    checksum,
    started_at,
    finished_at,
    extract(epoch from finished_at - started_at)::double precision as duration_seconds,
    error
from {{ source('raw', 'load_batches') }}
