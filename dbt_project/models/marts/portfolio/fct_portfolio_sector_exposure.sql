{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["algorithm_version", "as_of", "sector"],
        incremental_predicates=[window_delete_predicate("as_of")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["algorithm_version", "as_of", "sector"], "unique": true},
            {"columns": ["as_of"]},
        ],
    )
}}
-- Sector exposure of each formed portfolio: one row per formed evaluation of fct_portfolio_history
-- (algorithm_version x as_of) and sector it holds, with the summed weight (numeric, exact: the
-- sector weights of an evaluation sum to exactly 1), the number of holdings and their symbols.
--
-- A holding's sector is that of its base currency (seed symbol_sectors) in the point-in-time
-- symbol master: the marts.dim_symbols_history row of the symbol in force at as_of (valid_at), so
-- a later change of a contract's spec does not rewrite past exposures. The row is taken whether or
-- not the contract was listed then (a holding kept after its delisting keeps the sector of its last
-- spec; universe_as_of would drop it). A holding without a row in force (before the contract's
-- first snapshot and listing) or whose base currency the seed does not classify is 'unknown':
-- nothing is dropped, so the weights still sum to 1.
--
-- Windowed on as_of like fct_portfolio_history (the evaluations with as_of in [window_start,
-- window_end)); every value is read by key (the history's as_of index, one row of
-- dim_symbols_history's (symbol, valid_from) index per holding, however many versions the contract
-- has), so an hourly run reads the same rows whatever the history length. A contract first snapshotted after an evaluation that held it
-- is back-dated to its listing in dim_symbols_history; windows built before that snapshot keep
-- 'unknown' until they are rebuilt (as a full refresh would).

with holdings as (
    select algorithm_version, as_of, symbol, weight, input_batch_ids
    from {{ ref("fct_portfolio_history") }}
    where {{ in_build_window("as_of") }}
),

holding_sectors as (
    select
        holdings.algorithm_version,
        holdings.as_of,
        holdings.symbol,
        holdings.weight,
        coalesce(sectors.sector, 'unknown') as sector,
        {{ merge_batch_ids(["holdings.input_batch_ids", "history.input_batch_ids"]) }} as input_batch_ids
    from holdings
    left join lateral (
        -- the row in force: the latest starting at or before as_of (one index row, read backwards)
        select history.base_currency, history.input_batch_ids
        from {{ ref("dim_symbols_history") }} as history
        where history.symbol = holdings.symbol
          and {{ valid_at("holdings.as_of", "history") }}
        order by history.valid_from desc
        limit 1
    ) as history on true
    left join {{ ref("symbol_sectors") }} as sectors on sectors.base_currency = history.base_currency
)

select
    algorithm_version,
    as_of,
    sector,
    sum(weight) as weight,
    count(*)::integer as holding_count,
    array_agg(symbol order by symbol) as symbols,
    -- lineage: the holdings' fct_portfolio_history rows and their symbol-master rows
    {{ union_batch_ids("input_batch_ids") }} as input_batch_ids
from holding_sectors
group by algorithm_version, as_of, sector
