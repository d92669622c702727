{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["evaluation_id", "constraint_name"],
        incremental_predicates=[window_delete_predicate("as_of")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["evaluation_id", "constraint_name"], "unique": true},
            {"columns": ["as_of"]},
        ],
    )
}}
-- Whether each formed evaluation of a policy met its constraints: one row per evaluation and
-- constraint, recomputed from the composition and the dbt inputs at as_of, independently of the
-- manager's screening audit:
--   exactly_ten               holdings, limit 10, passed when equal;
--   weights_sum_to_one        sum of the weights (numeric, exact), limit 1, passed when |sum - 1| <= 1e-12
--                             (the tolerance of the database trigger);
--   sector_cap                the most holdings of one sector (seed symbol_sectors by the base
--                             currency of the dim_symbols_history row valid at as_of; a holding of
--                             unknown sector is its own sector, as the manager counts it), <= the cap;
--   max_pairwise_correlation  the largest correlation of two holdings in int_return_correlations_30d's
--                             complete window ending at the start of as_of's UTC day (the one known at
--                             as_of), <= the limit; null (passed) when no pair has a measured correlation;
--   min_turnover_24h_quote    the least turnover_quote_24h of the holdings in fct_symbol_scores at
--                             score_time = as_of, >= the limit;
--   min_listing_age_hours     the least (as_of - coalesce(listed_at, first_seen_at)) / 1 hour of the
--                             holdings' dim_symbols_history rows valid at as_of, >= the limit.
-- For the two minimums a holding without the value (no score row, no master row) fails the rule;
-- measured_value is the minimum over the holdings that have it.
-- The limit is the evaluation's policy's row of seed portfolio_policies for the regime of
-- int_market_regime_1h for the hour ending at as_of (an hour without a regime row, or labelled
-- unknown, uses the neutral row). is_relaxed says the manager recorded relaxing the rule at the
-- evaluation: passed is still measured against the policy's limit, so a relaxation shows as a
-- failed rule that was declared. Windowed on as_of (evaluations with as_of in the build window);
-- every input is read by key (ten holdings, 45 pairs per evaluation), bounded whatever the history.

with evaluations as (
    select
        evaluations.evaluation_id,
        evaluations.algorithm_version,
        evaluations.as_of,
        evaluations.policy,
        evaluations.relaxations,
        {{ evaluation_batch_ids("evaluations.as_of", "evaluations.algorithm_version") }} as score_batch_ids
    from {{ ref("stg_portfolio__evaluations") }} as evaluations
    where evaluations.outcome = 'formed' and evaluations.policy is not null and {{ in_build_window("evaluations.as_of") }}
),

regimes as (
    select
        evaluations.evaluation_id,
        coalesce(regime.regime, 'unknown') as regime
    from evaluations
    left join {{ ref("int_market_regime_1h") }} as regime on regime.bucket_start = evaluations.as_of - interval '1 hour'
),

limits as (
    select
        evaluations.*,
        regimes.regime,
        policies.regime as policy_regime,
        policies.sector_cap,
        policies.max_pairwise_correlation,
        policies.min_turnover_24h_quote,
        policies.min_listing_age_hours
    from evaluations
    inner join regimes using (evaluation_id)
    left join {{ ref("portfolio_policies") }} as policies
        on policies.policy = evaluations.policy
        and policies.regime = case regimes.regime when 'unknown' then 'neutral' else regimes.regime end
),

holdings as (
    select
        evaluations.evaluation_id,
        evaluations.as_of,
        composition.symbol,
        composition.weight,
        scores.turnover_quote_24h,
        extract(epoch from evaluations.as_of - coalesce(history.listed_at, history.first_seen_at)) / 3600 as listing_age_hours,
        case when sectors.sector is null then 'unknown:' || composition.symbol else sectors.sector end as sector_key,
        history.input_batch_ids as master_batch_ids
    from evaluations
    inner join {{ ref("stg_portfolio__composition") }} as composition using (evaluation_id)
    left join {{ ref("fct_symbol_scores") }} as scores
        on scores.symbol = composition.symbol and scores.score_time = evaluations.as_of
        and scores.algorithm_version = evaluations.algorithm_version
    left join lateral (
        -- the row in force: the latest starting at or before as_of (one index row, read backwards)
        select history.listed_at, history.first_seen_at, history.base_currency, history.input_batch_ids
        from {{ ref("dim_symbols_history") }} as history
        where history.symbol = composition.symbol
          and {{ valid_at("evaluations.as_of", "history") }}
        order by history.valid_from desc
        limit 1
    ) as history on true
    left join {{ ref("symbol_sectors") }} as sectors on sectors.base_currency = history.base_currency
),

holding_measures as (
    select
        evaluation_id,
        count(*) as holding_count,
        sum(weight) as weight_sum,
        min(turnover_quote_24h) as min_turnover,
        count(turnover_quote_24h) = count(*) as turnover_known,
        min(listing_age_hours) as min_listing_age,
        count(listing_age_hours) = count(*) as listing_age_known,
        {{ union_batch_ids("master_batch_ids") }} as master_batch_ids
    from holdings
    group by evaluation_id
),

sector_counts as (
    select evaluation_id, max(holding_count) as max_sector_holdings
    from (
        select evaluation_id, sector_key, count(*) as holding_count
        from holdings
        group by evaluation_id, sector_key
    ) as per_sector
    group by evaluation_id
),

pair_correlations as (
    select first_holding.evaluation_id, max(correlations.correlation) as max_correlation
    from holdings as first_holding
    inner join holdings as second_holding
        on second_holding.evaluation_id = first_holding.evaluation_id and first_holding.symbol < second_holding.symbol
    inner join {{ ref("int_return_correlations_30d") }} as correlations
        on correlations.symbol_a = first_holding.symbol and correlations.symbol_b = second_holding.symbol
        and correlations.as_of = date_bin(interval '1 day', first_holding.as_of, timestamptz '2000-01-01 00:00:00+00')
        and correlations.is_complete
    group by first_holding.evaluation_id
),

measured as (
    select
        limits.*,
        holding_measures.holding_count,
        holding_measures.weight_sum,
        holding_measures.min_turnover,
        holding_measures.turnover_known,
        holding_measures.min_listing_age,
        holding_measures.listing_age_known,
        holding_measures.master_batch_ids,
        coalesce(sector_counts.max_sector_holdings, 0) as max_sector_holdings,
        pair_correlations.max_correlation
    from limits
    left join holding_measures using (evaluation_id)
    left join sector_counts using (evaluation_id)
    left join pair_correlations using (evaluation_id)
),

constraint_rows as (
    select
        measured.*,
        checks.constraint_name,
        checks.limit_value,
        checks.measured_value,
        checks.passed
    from measured
    cross join lateral (
        values
            ('exactly_ten', 10::double precision, coalesce(holding_count, 0)::double precision, coalesce(holding_count, 0) = 10),
            ('weights_sum_to_one', 1::double precision, weight_sum::double precision, coalesce(abs(weight_sum - 1) <= 1e-12, false)),
            ('sector_cap', sector_cap::double precision, max_sector_holdings::double precision, max_sector_holdings <= sector_cap),
            ('max_pairwise_correlation', max_pairwise_correlation, max_correlation, max_correlation is null or max_correlation <= max_pairwise_correlation),
            ('min_turnover_24h_quote', min_turnover_24h_quote, min_turnover::double precision,
                coalesce(turnover_known and min_turnover >= min_turnover_24h_quote, false)),
            ('min_listing_age_hours', min_listing_age_hours, min_listing_age::double precision,
                coalesce(listing_age_known and min_listing_age >= min_listing_age_hours, false))
    ) as checks (constraint_name, limit_value, measured_value, passed)
)

select
    evaluation_id,
    algorithm_version,
    as_of,
    policy,
    regime,
    policy_regime,
    constraint_name,
    limit_value,
    measured_value,
    coalesce(passed, false) as passed,
    constraint_name = any(relaxations) as is_relaxed,
    -- lineage: the scores the evaluation ranked and its holdings' symbol-master rows
    {{ merge_batch_ids(["score_batch_ids", "master_batch_ids"]) }} as input_batch_ids
from constraint_rows
