-- One row per contract ever seen, described by its latest snapshot. A contract is live when
-- it is in the latest snapshot of all (the exchange still lists it) with status Open.
--
-- raw.contracts grows by a snapshot of every contract per fetch, so instead of scanning it the
-- symbols are enumerated by a loose index scan (one primary-key probe per symbol) and each
-- symbol's first and latest snapshots are looked up through the index.

with recursive contract_symbols as (
    (
        select symbol
        from {{ ref("stg_kucoin__contracts") }}
        order by symbol
        limit 1
    )
    union all
    select (
        select next_contract.symbol
        from {{ ref("stg_kucoin__contracts") }} as next_contract
        where next_contract.symbol > contract_symbols.symbol
        order by next_contract.symbol
        limit 1
    )
    from contract_symbols
    where contract_symbols.symbol is not null
),

latest_snapshot as (
    select max(snapshot_time) as snapshot_time
    from {{ ref("stg_kucoin__contracts") }}
)

select
    contract_symbols.symbol,
    latest.unified_symbol,
    latest.contract_type,
    latest.base_currency,
    latest.quote_currency,
    latest.settle_currency,
    latest.is_inverse,
    latest.multiplier,
    latest.lot_base_quantity,
    latest.lot_usd_value,
    latest.lot_size,
    latest.tick_size,
    latest.max_leverage,
    latest.funding_interval,
    latest.status,
    latest.listed_at,
    latest.expires_at,
    earliest.snapshot_time as first_seen_at,
    latest.snapshot_time as last_seen_at,
    latest.snapshot_time = latest_snapshot.snapshot_time and latest.status = 'Open' as is_live,
    latest.batch_id as snapshot_batch_id
from contract_symbols
cross join lateral (
    select
        snapshots.unified_symbol,
        snapshots.contract_type,
        snapshots.base_currency,
        snapshots.quote_currency,
        snapshots.settle_currency,
        snapshots.is_inverse,
        snapshots.multiplier,
        snapshots.lot_base_quantity,
        snapshots.lot_usd_value,
        snapshots.lot_size,
        snapshots.tick_size,
        snapshots.max_leverage,
        snapshots.funding_interval,
        snapshots.status,
        snapshots.listed_at,
        snapshots.expires_at,
        snapshots.snapshot_time,
        snapshots.batch_id
    from {{ ref("stg_kucoin__contracts") }} as snapshots
    where snapshots.symbol = contract_symbols.symbol
    order by snapshots.snapshot_time desc
    limit 1
) as latest
cross join lateral (
    select snapshots.snapshot_time
    from {{ ref("stg_kucoin__contracts") }} as snapshots
    where snapshots.symbol = contract_symbols.symbol
    order by snapshots.snapshot_time
    limit 1
) as earliest
cross join latest_snapshot
