{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["symbol", "valid_from"],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "valid_from"], "unique": true},
            {"columns": ["valid_to"]},
        ],
    )
}}
{%- set tracked = tracked_contract_attributes() -%}
-- Point-in-time symbol master: one row per contract per validity interval [valid_from, valid_to)
-- of its tracked attributes (spec, status, listing and expiry) and of whether the exchange
-- lists it. A new row starts at the first snapshot that shows a change; a contract missing from
-- a snapshot (delisted) gets a row with is_listed false from that snapshot on, carrying the
-- attributes it last had. valid_to is null for each contract's current row.
--
-- Incremental by snapshot, not by hour window: a run folds in the snapshots taken after the
-- latest one already folded in (a range scan of raw.contracts' snapshot_time index, ~700 rows per
-- hourly snapshot), continuing from each contract's current row. Snapshots are appended in time
-- order (the contracts asset snapshots "now"); a snapshot loaded with an earlier time than one
-- already folded in needs --full-refresh. The build window vars do not apply.

with
{% if is_incremental() %}
current_versions as (
    select * from {{ this }} where valid_to is null
),
{% endif %}

new_snapshots as (
    select *
    from {{ ref("stg_kucoin__contracts") }}
    {% if is_incremental() %}
    where snapshot_time > coalesce((select max(last_observed_at) from current_versions), '-infinity'::timestamptz)
    {% endif %}
),

-- each snapshot and the load batch that fetched it
new_snapshot_times as (
    select snapshot_time, min(batch_id) as batch_id from new_snapshots group by snapshot_time
),

-- every contract to follow through the new snapshots: those with a current row (observed from
-- before the first new snapshot: '-infinity') and those appearing for the first time
followed_symbols as (
    select symbol, min(first_observed_at) as first_observed_at
    from (
        select symbol, min(snapshot_time) as first_observed_at from new_snapshots group by symbol
        {% if is_incremental() %}
        union all
        select symbol, '-infinity'::timestamptz from current_versions
        {% endif %}
    ) as appearances
    group by symbol
),

-- one observation per contract and new snapshot from its first appearance: listed with the
-- snapshot's attributes, or absent (attributes null, filled below); plus the current row carried
-- from the previous run. The first observation of a never-seen contract is back-dated to its
-- listing time (the spec before the first snapshot is taken to be the first snapshot's).
observations as (
    select
        followed_symbols.symbol,
        snapshot_times.snapshot_time as observed_at,
        case
            when snapshot_times.snapshot_time = followed_symbols.first_observed_at
                then least(listed.listed_at, snapshot_times.snapshot_time)
            else snapshot_times.snapshot_time
        end as valid_from,
        listed.symbol is not null as is_listed,
        listed.symbol is not null as has_attributes,
        case when listed.symbol is not null then snapshot_times.snapshot_time end as first_seen_at,
        case when listed.symbol is not null then snapshot_times.snapshot_time end as last_seen_at,
        snapshot_times.batch_id,
        {% for column in tracked %}listed.{{ column }}{{ "," if not loop.last }}
        {% endfor %}
    from followed_symbols
    inner join new_snapshot_times as snapshot_times
        on snapshot_times.snapshot_time >= followed_symbols.first_observed_at
    left join new_snapshots as listed
        on listed.symbol = followed_symbols.symbol
        and listed.snapshot_time = snapshot_times.snapshot_time
    {% if is_incremental() %}
    union all
    select
        symbol,
        last_observed_at as observed_at,
        valid_from,
        is_listed,
        true as has_attributes,
        first_seen_at,
        last_seen_at,
        batch_id,
        {% for column in tracked %}{{ column }}{{ "," if not loop.last }}
        {% endfor %}
    from current_versions
    {% endif %}
),

-- an absent observation takes the attributes of the latest observation that has them
attribute_groups as (
    select
        observations.*,
        count(*) filter (where has_attributes) over (partition by symbol order by observed_at) as attribute_group
    from observations
),

filled as (
    select
        attribute_groups.symbol,
        attribute_groups.observed_at,
        attribute_groups.valid_from,
        attribute_groups.is_listed,
        attribute_groups.first_seen_at,
        attribute_groups.last_seen_at,
        attribute_groups.batch_id,
        {% for column in tracked %}source.{{ column }},
        {% endfor %}
        md5(row(attribute_groups.is_listed, {% for column in tracked %}source.{{ column }}{{ ", " if not loop.last }}{% endfor %})::text) as version_hash
    from attribute_groups
    inner join attribute_groups as source
        on source.symbol = attribute_groups.symbol
        and source.attribute_group = attribute_groups.attribute_group
        and source.has_attributes
),

-- gaps and islands: a new version starts where the hash differs from the previous observation's
islands as (
    select
        filled.*,
        sum(changed) over (partition by symbol order by observed_at) as version_number
    from (
        select
            filled.*,
            case when version_hash is distinct from lag(version_hash) over (partition by symbol order by observed_at) then 1 else 0 end as changed
        from filled
    ) as filled
),

versions as (
    select
        symbol,
        min(valid_from) as valid_from,
        bool_and(is_listed) as is_listed,
        {% for column in tracked %}{{ "bool_and" if column == "is_inverse" else "min" }}({{ column }}) as {{ column }},
        {% endfor %}
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        max(observed_at) as last_observed_at,
        (array_agg(batch_id order by observed_at))[1] as batch_id,
        min(version_hash) as version_hash
    from islands
    group by symbol, version_number
)

select
    symbol,
    valid_from,
    lead(valid_from) over (partition by symbol order by valid_from) as valid_to,
    is_listed,
    {% for column in tracked %}{{ column }},
    {% endfor %}
    is_listed and status = 'Open' as is_tradable,
    first_seen_at,
    last_seen_at,
    last_observed_at,
    batch_id,
    -- lineage: the snapshot that opened the version (every attribute of the row is its)
    array[batch_id]::bigint[] as input_batch_ids,
    version_hash
from versions
