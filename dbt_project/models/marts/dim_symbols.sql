{%- set tracked = tracked_contract_attributes() -%}
{%- set p = symbol_master_parameters() -%}
{%- set rv = "rv_close_to_close_" ~ indicator_parameters()["realized_volatility_period"] -%}
-- One row per contract ever seen: its current version in dim_symbols_history (the attributes of
-- its latest snapshot; a delisted contract keeps the ones it last had), its sector, and the
-- classes and eligibility flags the universe selection reads, as of the latest snapshot
-- (classified_at). A contract is live when the latest snapshot lists it with status Open.
--
-- Every lookup is by key, so the cost follows the number of contracts, not the history: the
-- current versions come from the (small) history table, the 24h statistics from the primary key
-- (symbol, snapshot_time) of the contract's last snapshot, the latest 1h bar's volatility and bar
-- count by an index probe on (symbol, bucket_start) per contract.

with versions as (
    select
        symbol,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from {{ ref("dim_symbols_history") }}
    group by symbol
),

current_versions as (
    select history.*
    from {{ ref("dim_symbols_history") }} as history
    where history.valid_to is null
),

classified_at as (
    select max(last_observed_at) as classified_at from current_versions
),

described as (
    select
        current_versions.*,
        versions.first_seen_at as first_seen_at_ever,
        versions.last_seen_at as last_seen_at_ever,
        last_snapshot.batch_id as snapshot_batch_id,
        -- lineage: the snapshot that opened the current version and the last one (mark price,
        -- turnover, open interest)
        {{ merge_batch_ids(["current_versions.input_batch_ids", "array[last_snapshot.batch_id]"]) }} as symbol_batch_ids,
        last_snapshot.mark_price,
        -- KuCoin serves an inverse contract's 24h turnover in the base coin and its volume in
        -- lots of 1 USD: the USD turnover is the lot volume
        case when current_versions.is_inverse then last_snapshot.volume_24h_base else last_snapshot.turnover_24h_quote end as turnover_24h_quote,
        -- open interest in lots x quote value of a lot (linear: multiplier x mark price; inverse: 1 USD)
        case
            when current_versions.is_inverse then last_snapshot.open_interest_lots * current_versions.lot_usd_value
            else last_snapshot.open_interest_lots * current_versions.lot_base_quantity * last_snapshot.mark_price
        end as open_interest_quote,
        latest_bar.bar_count,
        latest_volatility.bucket_start as volatility_bucket_start,
        latest_volatility.{{ rv }} * sqrt(24.0 * 365.0) as realized_volatility_annualized,
        classified_at.classified_at
    from current_versions
    inner join versions on versions.symbol = current_versions.symbol
    cross join classified_at
    inner join {{ ref("stg_kucoin__contracts") }} as last_snapshot
        on last_snapshot.symbol = current_versions.symbol
        and last_snapshot.snapshot_time = versions.last_seen_at
    left join lateral (
        select bars.bar_number as bar_count
        from {{ ref("int_indicators_1h_moving_averages") }} as bars
        where bars.symbol = current_versions.symbol
        order by bars.bucket_start desc
        limit 1
    ) as latest_bar on true
    left join lateral (
        select volatility.bucket_start, volatility.{{ rv }}
        from {{ ref("int_indicators_1h_volatility") }} as volatility
        where volatility.symbol = current_versions.symbol
        order by volatility.bucket_start desc
        limit 1
    ) as latest_volatility on true
),

flagged as (
    select
        described.*,
        coalesce(sectors.sector, 'unknown') as sector,
        sectors.sector is not null as is_sector_known,
        extract(epoch from described.classified_at - described.listed_at) / 86400.0 as listing_age_days,
        described.is_listed and described.status = 'Open' as is_live,
        not described.is_inverse as is_linear,
        coalesce(described.classified_at - described.listed_at >= interval '{{ p["min_listing_age_days"] }} days', false) as is_listing_age_met,
        coalesce(described.bar_count >= {{ p["min_history_bars"] }}, false) as has_enough_history
    from described
    left join {{ ref("symbol_sectors") }} as sectors on sectors.base_currency = described.base_currency
),

latest_clusters as (
    select symbol, cluster_id, cluster_size, as_of as cluster_as_of
    from {{ ref("int_correlation_clusters_1d") }}
    where as_of = (select max(as_of) from {{ ref("int_correlation_clusters_1d") }})
)

select
    symbol,
    {% for column in tracked %}{{ column }},
    {% endfor %}
    valid_from,
    first_seen_at_ever as first_seen_at,
    last_seen_at_ever as last_seen_at,
    is_live,
    snapshot_batch_id,
    sector,
    is_sector_known,
    mark_price,
    turnover_24h_quote,
    {{ tier_of("turnover_24h_quote", p["liquidity_tiers_usd"]) }} as liquidity_class,
    open_interest_quote,
    {{ tier_of("open_interest_quote", p["open_interest_tiers_usd"]) }} as size_class,
    volatility_bucket_start,
    realized_volatility_annualized,
    {{ tier_of("realized_volatility_annualized", p["volatility_tiers_annualized"]) }} as volatility_class,
    listing_age_days,
    coalesce(bar_count, 0) as bar_count,
    is_linear,
    is_listing_age_met,
    has_enough_history,
    is_live and is_linear and is_listing_age_met and has_enough_history and is_sector_known as is_eligible,
    classified_at,
    latest_clusters.cluster_id,
    latest_clusters.cluster_size,
    latest_clusters.cluster_as_of,
    symbol_batch_ids as input_batch_ids
from flagged
left join latest_clusters using (symbol)
