{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "observed_at", "book_sequence"],
        incremental_predicates=[window_delete_predicate("observed_at")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "observed_at", "book_sequence"], "unique": true},
            {"columns": ["observed_at"]},
        ],
    )
}}
{%- set bands = market_structure_parameters()["depth_bands_bps"] -%}
-- One row per order-book snapshot (stg_kucoin__order_book_levels: level 1 is the best price of its
-- side) observed in the build window: the touch, the quoted spread, and the depth, imbalance and
-- coverage of the bands {{ bands | join(", ") }} bps around the mid.
--   mid_price         = (best_bid + best_ask) / 2
--   quoted_spread_bps = (best_ask - best_bid) / mid_price x 1e4
--   distance of a level from the mid, in bps: (mid_price - price) / mid_price x 1e4 for a bid,
--                       (price - mid_price) / mid_price x 1e4 for an ask; a level is in band b when
--                       its distance is <= b (the edge included)
--   depth of a side in band b: the sum over its levels in the band, in quote currency (linear:
--                       lots x lot_base_quantity x price; inverse: lots x 1 USD) and in base (linear:
--                       lots x lot_base_quantity; inverse: lots x 1 USD / price), numeric, with the
--                       contract spec in force at observed_at (contract_spec_intervals,
--                       macros/contract_specs.sql)
--   imbalance_Nbps    = (bid lots - ask lots) / (bid lots + ask lots) in band N, in [-1, 1]; in lots,
--                       i.e. of base quantities for a linear contract (the multiplier cancels) and of
--                       quote notional for an inverse one (a lot is 1 USD); null when the band holds
--                       no level on either side (a spread wider than 2N bps)
--   imbalance_level_1 = the same with the sizes of the best bid and ask (queue imbalance)
--   <side>_reaches_Nbps: the side's deepest fetched level lies at or beyond the band's edge
--                       (distance >= N). When false the book was cut inside the band by the depth
--                       requested and the depth is a lower bound, unless the exchange's side has no
--                       more levels (then fewer levels than requested_depth were served).
-- A snapshot with an empty side has no mid: its spread, depths, imbalances and flags are null.
-- Every row depends only on its own levels: a window rebuilds the snapshots observed in it.

with window_levels as (
    select symbol, observed_at, book_sequence, side, level, price, size_lots, requested_depth, batch_id
    from {{ ref("stg_kucoin__order_book_levels") }}
    where {{ in_build_window("observed_at") }}
),

books as (
    select
        symbol,
        observed_at,
        book_sequence,
        {{ bucket_of("observed_at", "1 hour") }} as bucket_start,
        max(requested_depth) as requested_depth,
        count(*) filter (where side = 'bid')::integer as bid_levels,
        count(*) filter (where side = 'ask')::integer as ask_levels,
        max(price) filter (where side = 'bid' and level = 1) as best_bid,
        max(price) filter (where side = 'ask' and level = 1) as best_ask,
        max(size_lots) filter (where side = 'bid' and level = 1) as best_bid_size_lots,
        max(size_lots) filter (where side = 'ask' and level = 1) as best_ask_size_lots,
        array_agg(batch_id) as level_batch_ids
    from window_levels
    group by symbol, observed_at, book_sequence
),

spec_intervals as (
    {{ contract_spec_intervals("books") }}
),

book_specs as (
    select
        books.*,
        (books.best_bid + books.best_ask) / 2.0::double precision as mid_price,
        spec_intervals.snapshot_time as contract_snapshot_time,
        spec_intervals.is_inverse,
        spec_intervals.lot_base_quantity,
        spec_intervals.lot_usd_value,
        spec_intervals.batch_id as contract_batch_id
    from books
    inner join spec_intervals on {{ in_spec_interval("books", "observed_at") }}
),

converted_levels as (
    select
        window_levels.symbol,
        window_levels.observed_at,
        window_levels.book_sequence,
        window_levels.side,
        window_levels.size_lots::numeric as size_lots,
        {{ lots_in_quote("window_levels.size_lots", "window_levels.price", "book_specs") }} as size_quote,
        {{ lots_in_base("window_levels.size_lots", "window_levels.price", "book_specs") }} as size_base,
        case
            when window_levels.side = 'bid' then (book_specs.mid_price - window_levels.price) / book_specs.mid_price * 1e4
            else (window_levels.price - book_specs.mid_price) / book_specs.mid_price * 1e4
        end as distance_bps
    from window_levels
    inner join book_specs
        on book_specs.symbol = window_levels.symbol
        and book_specs.observed_at = window_levels.observed_at
        and book_specs.book_sequence = window_levels.book_sequence
),

band_depths as (
    -- numeric sums: exact, whatever the order the levels arrive in
    select
        symbol,
        observed_at,
        book_sequence,
        {%- for band in bands %}
        {%- for side in book_sides() %}
        coalesce(sum(size_quote) filter (where side = '{{ side }}' and distance_bps <= {{ band }}), 0) as {{ side }}_depth_quote_{{ band }}bps,
        coalesce(sum(size_base) filter (where side = '{{ side }}' and distance_bps <= {{ band }}), 0) as {{ side }}_depth_base_{{ band }}bps,
        coalesce(sum(size_lots) filter (where side = '{{ side }}' and distance_bps <= {{ band }}), 0) as {{ side }}_depth_lots_{{ band }}bps,
        {%- endfor %}
        {%- endfor %}
        {%- for side in book_sides() %}
        max(distance_bps) filter (where side = '{{ side }}') as {{ side }}_deepest_distance_bps{{ "," if not loop.last }}
        {%- endfor %}
    from converted_levels
    group by symbol, observed_at, book_sequence
)

select
    book_specs.symbol,
    book_specs.observed_at,
    book_specs.book_sequence,
    book_specs.bucket_start,
    book_specs.requested_depth,
    book_specs.bid_levels,
    book_specs.ask_levels,
    book_specs.best_bid,
    book_specs.best_ask,
    book_specs.best_bid_size_lots,
    book_specs.best_ask_size_lots,
    book_specs.mid_price,
    (book_specs.best_ask - book_specs.best_bid) / book_specs.mid_price * 1e4 as quoted_spread_bps,
    {%- for band in bands %}
    {%- for side in book_sides() %}
    case when book_specs.mid_price is not null then band_depths.{{ side }}_depth_quote_{{ band }}bps end as {{ side }}_depth_quote_{{ band }}bps,
    case when book_specs.mid_price is not null then band_depths.{{ side }}_depth_base_{{ band }}bps end as {{ side }}_depth_base_{{ band }}bps,
    band_depths.{{ side }}_deepest_distance_bps >= {{ band }} as {{ side }}_reaches_{{ band }}bps,
    {%- endfor %}
    (
        (band_depths.bid_depth_lots_{{ band }}bps - band_depths.ask_depth_lots_{{ band }}bps)
        / nullif(band_depths.bid_depth_lots_{{ band }}bps + band_depths.ask_depth_lots_{{ band }}bps, 0)
    )::double precision as imbalance_{{ band }}bps,
    {%- endfor %}
    (
        (book_specs.best_bid_size_lots::numeric - book_specs.best_ask_size_lots::numeric)
        / nullif(book_specs.best_bid_size_lots::numeric + book_specs.best_ask_size_lots::numeric, 0)
    )::double precision as imbalance_level_1,
    book_specs.is_inverse,
    book_specs.contract_snapshot_time,
    zmart_fn.sorted_distinct(book_specs.level_batch_ids || book_specs.contract_batch_id) as batch_ids
from book_specs
inner join band_depths
    on band_depths.symbol = book_specs.symbol
    and band_depths.observed_at = book_specs.observed_at
    and band_depths.book_sequence = book_specs.book_sequence
