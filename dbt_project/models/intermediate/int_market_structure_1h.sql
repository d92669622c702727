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
{%- set p = market_structure_parameters() -%}
{%- set bands, min_pairs = p["depth_bands_bps"], p["kyle_lambda_min_pairs"] -%}
-- Market structure of each contract per UTC hour, from the order-book snapshots
-- (int_order_book_snapshots), the ticker snapshots (stg_kucoin__tickers) and the trades
-- (stg_kucoin__trades) of the hour: one row per contract and hour with at least one of them.
--   book and ticker spreads: means of the snapshots' quoted spreads, (ask - bid) / mid x 1e4;
--   depths, imbalances: means over the hour's book snapshots that have both sides (a lower bound
--       where some snapshot did not reach the band: <side>_reaches_Nbps_count says how many did);
--   taker volumes: the trades' quote notional (linear lots x lot_base_quantity x price, inverse
--       lots x 1 USD; spec in force at the trade) summed per taker side, numeric (exact);
--   Kyle's lambda (Kyle 1985, "Continuous auctions and insider trading", Econometrica 53(6); the
--       trade-by-trade regression of Hasbrouck 2007, "Empirical Market Microstructure", ch. 5):
--       the OLS slope, with intercept, of r_i = ln(p_i / p_(i-1)) on q_i = +quote notional of
--       trade i when its taker bought, - when it sold, over the hour's valid pairs (i-1, i):
--           lambda = sum((q_i - mean q)(r_i - mean r)) / sum((q_i - mean q)^2)   (regr_slope)
--       reported per 1e6 units of quote notional (log return per million quote, i.e. x 1e6).
--       Null with fewer than {{ min_pairs }} valid pairs, or when every q_i is equal (no variance).
--
-- Valid pairs: consecutive stored trades of the contract (in exchange time, then sequence) of the
-- same hour, loaded by the same batch, from a batch that refused none of its trades. KuCoin's
-- sequence numbers are not consecutive between consecutive trades (the recorded
-- /api/v1/trade/history payloads step by 48 and 160; the simulator numbers trades
-- minute x 10000 + rank, jumping at every minute), so they cannot show a missing trade. A batch
-- holds one response of the last 100 trades per contract, a contiguous stretch of the tape, so
-- between two of its stored trades nothing is missing unless the batch refused a trade. Pairs
-- across two batches are not used: the store cannot tell whether the second response reached back
-- to the first (the overlap is deduplicated away), and it costs one pair per snapshot. Pairs
-- across an hour boundary are not used either, so every hour depends on its own rows only and a
-- window rebuilds exactly its hours.

with window_books as (
    select *
    from {{ ref("int_order_book_snapshots") }}
    where {{ in_build_window("observed_at") }}
),

book_hours as (
    -- float means in a fixed order: the same bits whichever plan reads the rows
    select
        symbol,
        bucket_start,
        count(*)::integer as book_snapshot_count,
        avg(quoted_spread_bps order by observed_at, book_sequence) as book_spread_bps_mean,
        {%- for band in bands %}
        {%- for side in book_sides() %}
        avg({{ side }}_depth_quote_{{ band }}bps) as {{ side }}_depth_quote_{{ band }}bps_mean,
        avg({{ side }}_depth_base_{{ band }}bps) as {{ side }}_depth_base_{{ band }}bps_mean,
        count(*) filter (where {{ side }}_reaches_{{ band }}bps)::integer as {{ side }}_reaches_{{ band }}bps_count,
        {%- endfor %}
        avg(imbalance_{{ band }}bps order by observed_at, book_sequence) as imbalance_{{ band }}bps_mean,
        {%- endfor %}
        avg(imbalance_level_1 order by observed_at, book_sequence) as imbalance_level_1_mean,
        zmart_fn.array_cat_agg(batch_ids) as batch_ids
    from window_books
    group by symbol, bucket_start
),

window_tickers as (
    select
        symbol,
        {{ bucket_of("observed_at", "1 hour") }} as bucket_start,
        observed_at,
        sequence,
        (best_ask - best_bid) / ((best_bid + best_ask) / 2.0::double precision) * 1e4 as quoted_spread_bps,
        batch_id
    from {{ ref("stg_kucoin__tickers") }}
    where {{ in_build_window("observed_at") }}
),

ticker_hours as (
    select
        symbol,
        bucket_start,
        count(*)::integer as ticker_snapshot_count,
        avg(quoted_spread_bps order by observed_at, sequence) as ticker_spread_bps_mean,
        array_agg(batch_id) as batch_ids
    from window_tickers
    group by symbol, bucket_start
),

window_trades as (
    select
        symbol,
        {{ bucket_of("traded_at", "1 hour") }} as bucket_start,
        traded_at,
        trade_id,
        ts_ns,
        trade_sequence,
        price,
        size_lots,
        taker_side,
        batch_id
    from {{ ref("stg_kucoin__trades") }}
    where {{ in_build_window("traded_at") }}
),

spec_intervals as (
    {{ contract_spec_intervals("window_trades") }}
),

converted_trades as (
    -- each trade's quote notional with the contract spec in force at the trade
    select
        window_trades.symbol,
        window_trades.bucket_start,
        window_trades.trade_id,
        window_trades.ts_ns,
        window_trades.trade_sequence,
        window_trades.price,
        window_trades.taker_side,
        {{ lots_in_quote("window_trades.size_lots", "window_trades.price", "spec_intervals") }} as quote_notional,
        window_trades.batch_id,
        spec_intervals.batch_id as contract_batch_id
    from window_trades
    inner join spec_intervals on {{ in_spec_interval("window_trades", "traded_at") }}
),

tape as (
    select
        converted_trades.*,
        lag(price) over symbol_hour_tape as previous_price,
        lag(batch_id) over symbol_hour_tape as previous_batch_id
    from converted_trades
    window symbol_hour_tape as (partition by symbol, bucket_start order by ts_ns, trade_sequence, trade_id)
),

clean_batches as (
    -- the window's trade batches that refused none of their records (a probe of the ledger each)
    select window_batches.batch_id
    from (select distinct batch_id from window_trades) as window_batches
    inner join {{ ref("stg_kucoin__load_batches") }} as batches on batches.batch_id = window_batches.batch_id
    where batches.rows_quarantined = 0
),

pairs as (
    select
        tape.*,
        coalesce(tape.previous_batch_id = tape.batch_id, false)
            and tape.batch_id in (select batch_id from clean_batches) as is_valid_pair,
        ln(tape.price / tape.previous_price) as log_return,
        (case when tape.taker_side = 'buy' then 1 else -1 end * tape.quote_notional)::double precision as signed_quote_notional
    from tape
),

trade_hours as (
    select
        symbol,
        bucket_start,
        count(*)::integer as trade_count,
        coalesce(sum(quote_notional) filter (where taker_side = 'buy'), 0) as buy_quote_volume,
        coalesce(sum(quote_notional) filter (where taker_side = 'sell'), 0) as sell_quote_volume,
        count(*) filter (where is_valid_pair)::integer as kyle_lambda_pair_count,
        regr_slope(log_return, signed_quote_notional order by ts_ns, trade_sequence, trade_id)
            filter (where is_valid_pair) * 1e6 as kyle_lambda_slope_per_million_quote,
        array_agg(batch_id) || array_agg(contract_batch_id) as batch_ids
    from pairs
    group by symbol, bucket_start
),

symbol_hours as (
    select symbol, bucket_start from book_hours
    union
    select symbol, bucket_start from ticker_hours
    union
    select symbol, bucket_start from trade_hours
)

select
    symbol_hours.symbol,
    symbol_hours.bucket_start,
    coalesce(book_hours.book_snapshot_count, 0) as book_snapshot_count,
    book_hours.book_spread_bps_mean,
    coalesce(ticker_hours.ticker_snapshot_count, 0) as ticker_snapshot_count,
    ticker_hours.ticker_spread_bps_mean,
    {%- for band in bands %}
    {%- for side in book_sides() %}
    book_hours.{{ side }}_depth_quote_{{ band }}bps_mean,
    book_hours.{{ side }}_depth_base_{{ band }}bps_mean,
    coalesce(book_hours.{{ side }}_reaches_{{ band }}bps_count, 0) as {{ side }}_reaches_{{ band }}bps_count,
    {%- endfor %}
    book_hours.imbalance_{{ band }}bps_mean,
    {%- endfor %}
    book_hours.imbalance_level_1_mean,
    coalesce(trade_hours.trade_count, 0) as trade_count,
    coalesce(trade_hours.buy_quote_volume, 0) as buy_quote_volume,
    coalesce(trade_hours.sell_quote_volume, 0) as sell_quote_volume,
    coalesce(trade_hours.kyle_lambda_pair_count, 0) as kyle_lambda_pair_count,
    case
        when trade_hours.kyle_lambda_pair_count >= {{ min_pairs }} then trade_hours.kyle_lambda_slope_per_million_quote
    end as kyle_lambda_per_million_quote,
    zmart_fn.sorted_distinct(
        coalesce(book_hours.batch_ids, '{}') || coalesce(ticker_hours.batch_ids, '{}') || coalesce(trade_hours.batch_ids, '{}')
    ) as batch_ids
from symbol_hours
left join book_hours on book_hours.symbol = symbol_hours.symbol and book_hours.bucket_start = symbol_hours.bucket_start
left join ticker_hours on ticker_hours.symbol = symbol_hours.symbol and ticker_hours.bucket_start = symbol_hours.bucket_start
left join trade_hours on trade_hours.symbol = symbol_hours.symbol and trade_hours.bucket_start = symbol_hours.bucket_start
