{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["symbol", "bucket_start"],
        incremental_predicates=[window_delete_predicate("bucket_start")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "bucket_start"], "unique": true},
            {"columns": ["bucket_start"]},
        ],
    )
}}
-- Hourly bars of each contract from its 1-minute candles, for the hour buckets of the build
-- window. Buckets are UTC hours; an hour with no candle has no bar (gaps stay gaps).
-- Volumes and turnover use the contract spec in force at the bucket's end: the latest snapshot
-- taken at or before it, else (history loaded after the first snapshot) the earliest snapshot.
-- Volumes are summed per bucket, then converted once with the bucket's spec; float sums are
-- ordered by open_time so every rebuild of a bucket yields the same bits.

with window_minutes as (
    select
        symbol,
        date_bin(interval '1 hour', open_time, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
        open_time,
        open,
        high,
        low,
        close,
        volume_lots,
        batch_id
    from {{ ref("stg_kucoin__candles_1m") }}
    where {{ in_build_window("open_time") }}
),

hourly_bars as (
    select
        symbol,
        bucket_start,
        (array_agg(open order by open_time))[1] as open,
        max(high) as high,
        min(low) as low,
        (array_agg(close order by open_time desc))[1] as close,
        sum(volume_lots order by open_time) as volume_lots,
        sum(volume_lots * close order by open_time) as lots_times_close,
        sum(volume_lots / nullif(close, 0) order by open_time) as lots_per_close,
        count(*)::integer as minute_count,
        array_agg(distinct batch_id) as candle_batch_ids
    from window_minutes
    group by symbol, bucket_start
)

select
    hourly_bars.symbol,
    hourly_bars.bucket_start,
    hourly_bars.bucket_start + interval '1 hour' as bucket_end,
    hourly_bars.open,
    hourly_bars.high,
    hourly_bars.low,
    hourly_bars.close,
    hourly_bars.volume_lots,
    -- linear: lots x base units per lot; inverse: lots x 1 USD / price of each minute
    case
        when contract_in_force.is_inverse then contract_in_force.lot_usd_value * hourly_bars.lots_per_close
        else contract_in_force.lot_base_quantity * hourly_bars.volume_lots
    end as volume_base,
    -- linear: lots x base units per lot x price of each minute; inverse: lots x 1 USD
    case
        when contract_in_force.is_inverse then contract_in_force.lot_usd_value * hourly_bars.volume_lots
        else contract_in_force.lot_base_quantity * hourly_bars.lots_times_close
    end as turnover_quote,
    hourly_bars.minute_count,
    hourly_bars.minute_count = 60 as is_complete,
    contract_in_force.is_inverse,
    contract_in_force.snapshot_time as contract_snapshot_time,
    zmart_fn.sorted_distinct(hourly_bars.candle_batch_ids || contract_in_force.batch_id) as batch_ids
from hourly_bars
left join lateral (
    -- the contract spec in force at the bucket's end, else the earliest snapshot of the contract
    select candidates.snapshot_time, candidates.is_inverse, candidates.lot_base_quantity,
           candidates.lot_usd_value, candidates.batch_id
    from (
        (
            select 1 as preference, c.snapshot_time, c.is_inverse, c.lot_base_quantity, c.lot_usd_value, c.batch_id
            from {{ ref("stg_kucoin__contracts") }} as c
            where c.symbol = hourly_bars.symbol
              and c.snapshot_time <= hourly_bars.bucket_start + interval '1 hour'
            order by c.snapshot_time desc
            limit 1
        )
        union all
        (
            select 2 as preference, c.snapshot_time, c.is_inverse, c.lot_base_quantity, c.lot_usd_value, c.batch_id
            from {{ ref("stg_kucoin__contracts") }} as c
            where c.symbol = hourly_bars.symbol
            order by c.snapshot_time
            limit 1
        )
    ) as candidates
    order by candidates.preference
    limit 1
) as contract_in_force on true
