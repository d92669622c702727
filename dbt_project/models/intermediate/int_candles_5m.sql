{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "bucket_start"],
        incremental_predicates=[window_delete_predicate("bucket_start")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "bucket_start"], "unique": true},
            {"columns": ["bucket_start"]},
        ],
    )
}}
-- 5-minute bars of each contract from its 1-minute candles, for the buckets of the build window
-- (UTC 5-minute buckets; a bucket without candles has no bar: gaps stay gaps). The first step of
-- the rollup chain 5m -> 15m -> 1h -> 4h -> 1d: volumes are converted here, once per minute and
-- in numeric, so that every longer timeframe is an exact sum (macros/rollups.sql).
--
-- Contract spec: the one in force at the end of the minute's UTC hour (the latest snapshot at or
-- before it, else the contract's earliest snapshot; macros/contract_specs.sql), the same for every
-- timeframe.
--   linear:  volume_base = lots x lot_base_quantity; turnover_quote = lots x lot_base_quantity x close
--   inverse: volume_base = lots x lot_usd_value / close; turnover_quote = lots x lot_usd_value
-- (close = the minute's close, the price the minute's volume is valued at).

with window_minutes as (
    select
        symbol,
        open_time,
        {{ bucket_of("open_time", "5 minutes") }} as bucket_start,
        {{ bucket_of("open_time", "1 hour") }} as hour_start,
        open,
        high,
        low,
        close,
        volume_lots,
        batch_id
    from {{ ref("stg_kucoin__candles_1m") }}
    where {{ in_build_window("open_time") }}
),

window_hours as (
    select distinct symbol, hour_start
    from window_minutes
),

hour_contract_specs as (
    -- the contract spec in force at the end of each hour, else the contract's earliest snapshot
    select
        window_hours.symbol,
        window_hours.hour_start,
        contract_in_force.snapshot_time,
        contract_in_force.is_inverse,
        contract_in_force.lot_base_quantity,
        contract_in_force.lot_usd_value,
        contract_in_force.batch_id
    from window_hours
    left join {{ contract_spec_in_force("window_hours.symbol", "window_hours.hour_start + interval '1 hour'") }} as contract_in_force on true
),

converted_minutes as (
    select
        window_minutes.symbol,
        window_minutes.bucket_start,
        window_minutes.open_time,
        window_minutes.open,
        window_minutes.high,
        window_minutes.low,
        window_minutes.close,
        window_minutes.volume_lots::numeric as volume_lots,
        {{ lots_in_base("window_minutes.volume_lots", "window_minutes.close", "specs") }} as volume_base,
        {{ lots_in_quote("window_minutes.volume_lots", "window_minutes.close", "specs") }} as turnover_quote,
        specs.is_inverse,
        specs.snapshot_time as contract_snapshot_time,
        specs.batch_id as contract_batch_id,
        window_minutes.batch_id
    from window_minutes
    inner join hour_contract_specs as specs
        on specs.symbol = window_minutes.symbol
        and specs.hour_start = window_minutes.hour_start
)

select
    symbol,
    bucket_start,
    bucket_start + interval '5 minutes' as bucket_end,
    (array_agg(open order by open_time))[1] as open,
    max(high) as high,
    min(low) as low,
    (array_agg(close order by open_time desc))[1] as close,
    sum(volume_lots) as volume_lots,
    sum(volume_base) as volume_base,
    sum(turnover_quote) as turnover_quote,
    count(*)::integer as minute_count,
    count(*) = 5 as is_complete,
    bool_or(is_inverse) as is_inverse,
    max(contract_snapshot_time) as contract_snapshot_time,
    zmart_fn.sorted_distinct(array_agg(batch_id) || array_agg(contract_batch_id)) as batch_ids
from converted_minutes
group by symbol, bucket_start
