{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["algorithm_version", "as_of", "symbol"],
        incremental_predicates=[window_delete_predicate("as_of")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["algorithm_version", "as_of", "symbol"], "unique": true},
            {"columns": ["as_of"]},
        ],
    )
}}
{%- set benchmark = portfolio_benchmark_symbol() -%}
-- What each formed portfolio earned: one row per formed evaluation and held symbol, over the
-- holding hour [as_of, as_of + 1 hour) (the weights are set at as_of, from the scores of the hour
-- before, and held until the next evaluation).
--
-- Prices are last-trade marks from intermediate.int_candles_1h: the price at time t is the close of
-- the contract's latest 1h bar ending at or before t. Normally that is close-to-close,
--   symbol_return = close(bar starting at as_of) / close(bar ending at as_of) - 1
-- (empyrical.simple_returns, i.e. pandas pct_change). When a bar is missing:
--   no_bar_in_hour  no bar starts at as_of (no trade in the hour): the mark is unchanged, return 0;
--   after_gap       the bar ending at as_of is missing: the start mark is the close of the last bar
--                   before the gap, so the return includes the gap's move (which earlier hours
--                   carried as 0): compounded returns still equal the price change;
--   no_price        no bar before as_of at all (not listed yet): return null, and so is the
--                   evaluation's portfolio_return. Nothing is renormalised or dropped.
-- portfolio_return = sum of weight x symbol_return (weights sum to 1, no cash). The benchmark
-- ({{ benchmark }}, var portfolio_benchmark_symbol) gets the same rule, for beta.
-- turnover = sum over symbols of |w_t - w_t-1| / 2 against the version's previous formed
-- evaluation (a symbol not held counts with weight 0; the drift of the weights over the hour is
-- not included); null for its first portfolio. adds / removes count the symbols entering / leaving.
--
-- Windowed on the holding hour: the evaluations with as_of in [window_start, window_end), i.e.
-- those whose holding-hour bar is in the window. An evaluation enters once its hour is loaded (the
-- latest 1h bar of all contracts starts at or after as_of), so the latest evaluation, whose hour is
-- still running, is not in the history yet.
-- Every value is read by key (index probes on int_candles_1h and portfolio.*): no carried state,
-- and an hourly run reads the same rows whatever the history length.

with window_evaluations as (
    select
        evaluations.evaluation_id,
        evaluations.as_of,
        evaluations.algorithm_version,
        {{ evaluation_batch_ids("evaluations.as_of", "evaluations.algorithm_version") }} as score_batch_ids
    from {{ ref("stg_portfolio__evaluations") }} as evaluations
    where evaluations.outcome = 'formed'
      and {{ in_build_window("evaluations.as_of") }}
      and evaluations.as_of <= (select max(bucket_start) from {{ ref("int_candles_1h") }})
),

previous_evaluations as (
    -- the version's previous formed evaluation (null before its first portfolio)
    select
        window_evaluations.evaluation_id,
        (
            -- order by ... limit 1, not max(): a backward probe of the (as_of, algorithm_version)
            -- index that stops at the first match whatever the history length (the planner may
            -- aggregate every earlier row for max() once the table's statistics change)
            select previous.evaluation_id
            from {{ ref("stg_portfolio__evaluations") }} as previous
            where previous.algorithm_version = window_evaluations.algorithm_version
              and previous.outcome = 'formed'
              and previous.as_of < window_evaluations.as_of
            order by previous.as_of desc
            limit 1
        ) as previous_evaluation_id
    from window_evaluations
),

holdings as (
    select window_evaluations.evaluation_id, window_evaluations.as_of, holdings.symbol, holdings.position, holdings.weight
    from window_evaluations
    inner join {{ ref("stg_portfolio__composition") }} as holdings
        on holdings.evaluation_id = window_evaluations.evaluation_id
),

priced_symbols as (
    -- every holding, and the benchmark, of each evaluation
    select evaluation_id, as_of, symbol from holdings
    union
    select evaluation_id, as_of, '{{ benchmark }}' from window_evaluations
),

marks as materialized (
    -- the latest bars starting before / at as_of: the ones ending at or before as_of / as_of + 1 hour
    -- (materialized: each probe runs once, however often its result is referenced)
    select
        priced_symbols.evaluation_id,
        priced_symbols.as_of,
        priced_symbols.symbol,
        (
            select max(candles.bucket_start) from {{ ref("int_candles_1h") }} as candles
            where candles.symbol = priced_symbols.symbol and candles.bucket_start < priced_symbols.as_of
        ) as start_bar_start,
        (
            select max(candles.bucket_start) from {{ ref("int_candles_1h") }} as candles
            where candles.symbol = priced_symbols.symbol and candles.bucket_start <= priced_symbols.as_of
        ) as end_bar_start
    from priced_symbols
),

marked_prices as materialized (
    -- the two closes, by key
    select
        marks.evaluation_id,
        marks.as_of,
        marks.symbol,
        marks.start_bar_start,
        marks.end_bar_start,
        (
            select candles.close from {{ ref("int_candles_1h") }} as candles
            where candles.symbol = marks.symbol and candles.bucket_start = marks.start_bar_start
        ) as start_price,
        (
            select candles.close from {{ ref("int_candles_1h") }} as candles
            where candles.symbol = marks.symbol and candles.bucket_start = marks.end_bar_start
        ) as end_price,
        {{ merge_batch_ids([bar_batch_ids("marks.symbol", "marks.start_bar_start"), bar_batch_ids("marks.symbol", "marks.end_bar_start")]) }} as price_batch_ids
    from marks
),

symbol_returns as (
    select
        evaluation_id,
        symbol,
        start_bar_start,
        end_bar_start,
        start_price,
        end_price,
        end_price / start_price - 1 as symbol_return,
        price_batch_ids,
        case
            when start_bar_start is null then 'no_price'
            when end_bar_start < as_of then 'no_bar_in_hour'
            when start_bar_start < as_of - interval '1 hour' then 'after_gap'
            else 'close_to_close'
        end as return_status
    from marked_prices
),

holding_returns as (
    select
        holdings.evaluation_id,
        holdings.as_of,
        holdings.symbol,
        holdings.position,
        holdings.weight,
        symbol_returns.start_bar_start,
        symbol_returns.end_bar_start,
        symbol_returns.start_price,
        symbol_returns.end_price,
        symbol_returns.symbol_return,
        symbol_returns.return_status,
        symbol_returns.price_batch_ids,
        holdings.weight::double precision * symbol_returns.symbol_return as contribution
    from holdings
    inner join symbol_returns
        on symbol_returns.evaluation_id = holdings.evaluation_id
        and symbol_returns.symbol = holdings.symbol
),

evaluation_returns as (
    select
        evaluation_id,
        -- summed in a fixed order (by position), so every build gives the same bits
        case when count(symbol_return) = count(*) then sum(contribution order by position) end as portfolio_return,
        count(*) filter (where return_status = 'no_bar_in_hour')::integer as holdings_without_bar_in_hour,
        count(*) filter (where return_status = 'no_price')::integer as holdings_without_price
    from holding_returns
    group by evaluation_id
),

weight_changes as (
    -- the holdings against those of the previous formed evaluation, symbol by symbol
    select
        coalesce(current_holdings.evaluation_id, previous_holdings.evaluation_id) as evaluation_id,
        abs(coalesce(current_holdings.weight, 0) - coalesce(previous_holdings.weight, 0)) as weight_change,
        previous_holdings.symbol is null as is_added,
        current_holdings.symbol is null as is_removed
    from holdings as current_holdings
    full outer join (
        select previous_evaluations.evaluation_id, previous_weights.symbol, previous_weights.weight
        from previous_evaluations
        inner join {{ ref("stg_portfolio__composition") }} as previous_weights
            on previous_weights.evaluation_id = previous_evaluations.previous_evaluation_id
    ) as previous_holdings
        on previous_holdings.evaluation_id = current_holdings.evaluation_id
        and previous_holdings.symbol = current_holdings.symbol
),

rebalances as (
    select
        previous_evaluations.evaluation_id,
        previous_evaluations.previous_evaluation_id,
        case when previous_evaluations.previous_evaluation_id is not null then sum(weight_changes.weight_change) / 2 end as turnover,
        count(*) filter (where weight_changes.is_added)::integer as adds,
        count(*) filter (where weight_changes.is_removed)::integer as removes
    from previous_evaluations
    inner join weight_changes on weight_changes.evaluation_id = previous_evaluations.evaluation_id
    group by previous_evaluations.evaluation_id, previous_evaluations.previous_evaluation_id
)

select
    window_evaluations.algorithm_version,
    window_evaluations.as_of,
    holding_returns.symbol,
    window_evaluations.evaluation_id,
    holding_returns.position,
    holding_returns.weight,
    holding_returns.start_bar_start,
    holding_returns.end_bar_start,
    holding_returns.start_price,
    holding_returns.end_price,
    holding_returns.symbol_return,
    holding_returns.return_status,
    holding_returns.contribution,
    evaluation_returns.portfolio_return,
    evaluation_returns.holdings_without_bar_in_hour,
    evaluation_returns.holdings_without_price,
    '{{ benchmark }}'::text as benchmark_symbol,
    benchmark.symbol_return as benchmark_return,
    benchmark.return_status as benchmark_return_status,
    rebalances.previous_evaluation_id,
    rebalances.turnover,
    rebalances.adds,
    rebalances.removes,
    -- lineage: the scores the evaluation ranked, the holding's two price bars and the benchmark's
    {{ merge_batch_ids(["window_evaluations.score_batch_ids", "holding_returns.price_batch_ids", "benchmark.price_batch_ids"]) }} as input_batch_ids
from window_evaluations
inner join holding_returns on holding_returns.evaluation_id = window_evaluations.evaluation_id
inner join evaluation_returns on evaluation_returns.evaluation_id = window_evaluations.evaluation_id
inner join rebalances on rebalances.evaluation_id = window_evaluations.evaluation_id
inner join symbol_returns as benchmark
    on benchmark.evaluation_id = window_evaluations.evaluation_id
    and benchmark.symbol = '{{ benchmark }}'
