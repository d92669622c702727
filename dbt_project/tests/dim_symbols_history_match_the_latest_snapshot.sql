{%- set tracked = tracked_contract_attributes() -%}
-- The universe as of the latest snapshot (macros/symbol_master.sql: universe_as_of) is exactly
-- the contracts that snapshot lists, each with the snapshot's tracked attributes. Reads one
-- snapshot (~700 rows by the snapshot_time index), whatever the history length.
with latest_snapshot as (
    select *
    from {{ ref("stg_kucoin__contracts") }}
    where snapshot_time = (select max(snapshot_time) from {{ ref("stg_kucoin__contracts") }})
),

universe as (
    {{ universe_as_of("(select max(snapshot_time) from " ~ ref("stg_kucoin__contracts") ~ ")") }}
)

select
    coalesce(latest_snapshot.symbol, universe.symbol) as symbol,
    latest_snapshot.symbol is not null as in_snapshot,
    universe.symbol is not null as in_universe
from latest_snapshot
full outer join universe on universe.symbol = latest_snapshot.symbol
where latest_snapshot.symbol is null
    or universe.symbol is null
    or row({% for column in tracked %}latest_snapshot.{{ column }}{{ ", " if not loop.last }}{% endfor %})
        is distinct from row({% for column in tracked %}universe.{{ column }}{{ ", " if not loop.last }}{% endfor %})
