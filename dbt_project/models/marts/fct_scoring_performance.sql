{%- set p = scoring_performance_parameters() -%}
{%- set max_horizon = p["max_horizon"] -%}
{%- set quantiles = p["quantiles"] -%}
{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["algorithm_version", "horizon_hours", "score_time"],
        incremental_predicates=[shifted_window_delete_predicate("score_time", 1 - max_horizon, max_horizon + 1)],
        on_schema_change="fail",
        post_hook="analyze {{ this }}",
        indexes=[
            {"columns": ["algorithm_version", "horizon_hours", "score_time"], "unique": true},
            {"columns": ["score_time"]},
        ],
    )
}}
{%- set rows_start = hours_after(build_window_start(), 1 - max_horizon) -%}
{%- set rows_end = hours_after(window_end(), max_horizon + 1) -%}
{%- set group_columns = "algorithm_version, horizon_hours, score_time" -%}
-- How well each scoring algorithm version's composite_score predicted the forward returns of
-- int_forward_returns_1h: one row per version, horizon and score_time, over the eligible scores
-- (is_eligible) of that version and score_time that have a forward return, with alphalens'
-- definitions (alphalens-reloaded 0.5.1, factor = composite_score, one horizon at a time):
--   ic                    Pearson's correlation of composite_score and forward_return
--   rank_ic               Spearman's: Pearson's of their average ranks (alphalens' IC:
--                         factor_information_coefficient, scipy.stats.spearmanr)
--   quantile_<k>_mean_return  mean forward_return of quantile k of {{ quantiles }} (alphalens
--                         quantize_factor(quantiles={{ quantiles }}) = pandas.qcut of the scores
--                         themselves, then mean_return_by_quantile(by_date=True, demeaned=False))
--   quantile_spread       quantile {{ quantiles }} mean - quantile 1 mean (top minus bottom; alphalens-reloaded's
--                         compute_mean_returns_spread halves it, the return of a long-short book
--                         with half its capital on each side)
--   rank_autocorrelation  factor_rank_autocorrelation(period = horizon): Pearson's correlation,
--                         over the symbols eligible at both, of the average ranks at score_time and
--                         at score_time - horizon, each ranked among all eligible scores of its time
-- Nulls where a statistic is undefined: a correlation of fewer than two symbols or of a constant
-- side, a quantile with no symbol, every quantile of a score_time whose qcut edges are not unique
-- (where alphalens raises "Bin edges must be unique", or drops the time with max_loss > 0).
--
-- Window: every row any of whose inputs is in the window: the score_times whose forward returns
-- the window completes and those whose lagged ranks it rebuilt, i.e.
-- [window_start - {{ max_horizon - 1 }} hours, window_end + {{ max_horizon + 1 }} hours), reading the
-- scores from {{ max_horizon }} hours earlier. All the versions in fct_symbol_scores are evaluated.

with eligible_scores as (
    select algorithm_version, score_time, symbol, composite_score, input_batch_ids
    from {{ ref("fct_symbol_scores") }}
    where is_eligible
      and score_time >= {{ hours_after(rows_start, -max_horizon) }}
      and score_time < {{ rows_end }}
),

ranked_scores as (
    -- each score's average rank among the eligible scores of its version and score_time (the
    -- ranks of factor_rank_autocorrelation), and how many there are
    select
        algorithm_version,
        score_time,
        symbol,
        composite_score,
        input_batch_ids,
        {{ average_rank("composite_score", "algorithm_version, score_time") }} as factor_rank,
        count(*) over (partition by algorithm_version, score_time) as eligible_count
    from eligible_scores
),

score_returns as (
    -- the rebuilt score_times' eligible scores with their forward return over each horizon
    -- (null: no bar at the horizon's end)
    select
        ranked_scores.algorithm_version,
        forward_returns.horizon_hours,
        ranked_scores.score_time,
        ranked_scores.symbol,
        ranked_scores.composite_score,
        ranked_scores.eligible_count,
        forward_returns.forward_return,
        {{ merge_batch_ids(["ranked_scores.input_batch_ids", "forward_returns.input_batch_ids"]) }} as input_batch_ids
    from ranked_scores
    inner join {{ ref("int_forward_returns_1h") }} as forward_returns
        on forward_returns.symbol = ranked_scores.symbol
        and forward_returns.score_time = ranked_scores.score_time
    where ranked_scores.score_time >= {{ rows_start }}
      and forward_returns.score_time >= {{ rows_start }}
      and forward_returns.score_time < {{ rows_end }}
),

evaluated_scores as (
    -- alphalens' factor_data of the horizon: the scores with a forward return (get_clean_factor
    -- drops the others), with their average ranks
    select
        {{ group_columns }},
        symbol,
        composite_score,
        forward_return,
        {{ average_rank("composite_score", group_columns) }} as score_rank,
        {{ average_rank("forward_return", group_columns) }} as return_rank
    from score_returns
    where forward_return is not null
),

sorted_scores as (
    -- each group's scores in ascending order (1-based: position j + 1 holds numpy's j-th)
    select {{ group_columns }}, array_agg(composite_score order by composite_score) as scores
    from evaluated_scores
    group by {{ group_columns }}
),

quantile_positions as (
    -- numpy.quantile's virtual index (method linear) of each qcut probability: (n - 1) x p_k,
    -- with j = floor(virtual index), g its fraction, and the j-th and (j + 1)-th scores
    -- (positions past the last score read the last one)
    select
        {{ group_columns }},
        k,
        virtual_index - floor(virtual_index) as fraction,
        scores[least(floor(virtual_index)::integer, cardinality(scores) - 1) + 1] as lower_score,
        scores[least(floor(virtual_index)::integer + 1, cardinality(scores) - 1) + 1] as upper_score
    from (
        select
            sorted_scores.*,
            probabilities.k,
            (cardinality(sorted_scores.scores) - 1)::double precision * probabilities.probability as virtual_index
        from sorted_scores
        cross join (
            values
            {%- for probability in p["quantile_probabilities"] %}
                ({{ loop.index0 }}, {{ probability }}::double precision){{ "," if not loop.last }}
            {%- endfor %}
        ) as probabilities (k, probability)
    ) as indexed
),

quantile_edges as (
    -- pandas.qcut's edges: numpy's _lerp of the j-th and (j + 1)-th scores (a + (b - a) g for
    -- g < 0.5, else b - (b - a)(1 - g)). Array indexing, not a self-join by position: a join
    -- on the group's keys alone would pair every score with every other (n^2 rows per group).
    select
        {{ group_columns }},
        k,
        case
            when fraction >= 0.5 then upper_score - (upper_score - lower_score) * (1 - fraction)
            else lower_score + (upper_score - lower_score) * fraction
        end as edge
    from quantile_positions
),

quantile_bins as (
    -- qcut refuses edges that are not all distinct (ties, a single symbol): no quantiles then
    select {{ group_columns }}, array_agg(edge order by k) as edges
    from quantile_edges
    group by {{ group_columns }}
    having count(distinct edge) = {{ quantiles + 1 }}
),

quantized_scores as (
    -- quantile = the number of edges below the score (pandas' searchsorted of right-closed bins),
    -- 1 for the lowest score (include_lowest)
    select
        evaluated_scores.*,
        case
            when quantile_bins.edges is null then null
            when evaluated_scores.composite_score = quantile_bins.edges[1] then 1
            else (select count(*) from unnest(quantile_bins.edges) as edge where edge < evaluated_scores.composite_score)
        end as factor_quantile
    from evaluated_scores
    left join quantile_bins using (algorithm_version, horizon_hours, score_time)
),

horizon_statistics as (
    select
        {{ group_columns }},
        count(*) as symbol_count,
        {{ pearson_correlation("forward_return", "composite_score", "symbol") }} as ic,
        {{ pearson_correlation("return_rank", "score_rank", "symbol") }} as rank_ic,
        avg(forward_return order by symbol) as mean_forward_return,
        {%- for k in range(1, quantiles + 1) %}
        avg(forward_return order by symbol) filter (where factor_quantile = {{ k }}) as quantile_{{ k }}_mean_return{{ "," if not loop.last }}
        {%- endfor %}
    from quantized_scores
    group by {{ group_columns }}
),

rank_autocorrelations as (
    select
        current_ranks.algorithm_version,
        horizons.horizon_hours,
        current_ranks.score_time,
        count(*) as autocorrelation_symbol_count,
        {{ pearson_correlation("current_ranks.factor_rank", "lagged_ranks.factor_rank", "current_ranks.symbol") }} as rank_autocorrelation
    from ranked_scores as current_ranks
    cross join unnest(array[{{ p["horizons"] | join(", ") }}]) as horizons (horizon_hours)
    inner join ranked_scores as lagged_ranks
        on lagged_ranks.algorithm_version = current_ranks.algorithm_version
        and lagged_ranks.symbol = current_ranks.symbol
        and lagged_ranks.score_time = current_ranks.score_time - make_interval(hours => horizons.horizon_hours)
    where current_ranks.score_time >= {{ rows_start }}
    group by current_ranks.algorithm_version, horizons.horizon_hours, current_ranks.score_time
),

performance_groups as (
    -- lineage: the batches of the group's eligible scores and of their forward-return bars
    select {{ group_columns }}, eligible_count, {{ union_batch_ids("input_batch_ids") }} as input_batch_ids
    from score_returns
    group by {{ group_columns }}, eligible_count
)

select
    performance_groups.algorithm_version,
    performance_groups.horizon_hours,
    performance_groups.score_time,
    performance_groups.score_time + make_interval(hours => performance_groups.horizon_hours) as horizon_end,
    performance_groups.eligible_count::integer as eligible_count,
    coalesce(horizon_statistics.symbol_count, 0)::integer as symbol_count,
    horizon_statistics.ic,
    horizon_statistics.rank_ic,
    horizon_statistics.mean_forward_return,
    {%- for k in range(1, quantiles + 1) %}
    horizon_statistics.quantile_{{ k }}_mean_return,
    {%- endfor %}
    horizon_statistics.quantile_{{ quantiles }}_mean_return - horizon_statistics.quantile_1_mean_return as quantile_spread,
    coalesce(rank_autocorrelations.autocorrelation_symbol_count, 0)::integer as autocorrelation_symbol_count,
    rank_autocorrelations.rank_autocorrelation,
    performance_groups.input_batch_ids
from performance_groups
left join horizon_statistics using (algorithm_version, horizon_hours, score_time)
left join rank_autocorrelations using (algorithm_version, horizon_hours, score_time)
