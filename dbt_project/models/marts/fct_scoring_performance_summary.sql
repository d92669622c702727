{{ config(materialized="view") }}
-- One row per scoring algorithm version and horizon over the whole history of
-- fct_scoring_performance (a view: nothing to rebuild per window, and it reads a few rows per
-- hour and version). Over the score_times with a defined statistic, accumulated in time order:
--   mean, sample standard deviation (n - 1), ratio mean / std (ICIR, alphalens' "Risk-Adjusted
--   IC"), t-statistic mean / (std / sqrt(n)) (scipy.stats.ttest_1samp against 0, as alphalens'
--   IC table) and the share of score_times with a positive value, for ic and rank_ic; the means
--   of quantile_spread and rank_autocorrelation.
-- The t-statistic treats the score_times as independent; at a horizon of h hours consecutive
-- forward returns overlap by h - 1 hours, so it overstates significance for h > 1 (no
-- overlap correction, like alphalens). Null when undefined: std with fewer than 2 values, ratio
-- and t-statistic with a null or zero std.

{%- set statistics = ["ic", "rank_ic"] %}

with summary as (
    select
        algorithm_version,
        horizon_hours,
        count(*) as score_time_count,
        count(ic) as ic_count,
        min(score_time) filter (where ic is not null) as first_ic_score_time,
        max(score_time) filter (where ic is not null) as last_ic_score_time,
        {%- for statistic in statistics %}
        avg({{ statistic }} order by score_time) as mean_{{ statistic }},
        stddev_samp({{ statistic }} order by score_time) as {{ statistic }}_std,
        (count(*) filter (where {{ statistic }} > 0))::double precision / nullif(count({{ statistic }}), 0) as {{ statistic }}_hit_rate,
        {%- endfor %}
        count(quantile_spread) as quantile_spread_count,
        avg(quantile_spread order by score_time) as mean_quantile_spread,
        count(rank_autocorrelation) as rank_autocorrelation_count,
        avg(rank_autocorrelation order by score_time) as mean_rank_autocorrelation,
        {{ union_batch_ids("input_batch_ids") }} as input_batch_ids
    from {{ ref("fct_scoring_performance") }}
    group by algorithm_version, horizon_hours
)

select
    algorithm_version,
    horizon_hours,
    score_time_count::integer as score_time_count,
    ic_count::integer as ic_count,
    first_ic_score_time,
    last_ic_score_time,
    {%- for statistic in statistics %}
    mean_{{ statistic }},
    {{ statistic }}_std,
    mean_{{ statistic }} / nullif({{ statistic }}_std, 0) as {{ statistic }}_ir,
    mean_{{ statistic }} / nullif({{ statistic }}_std / sqrt(ic_count), 0) as {{ statistic }}_t_stat,
    {{ statistic }}_hit_rate,
    {%- endfor %}
    quantile_spread_count::integer as quantile_spread_count,
    mean_quantile_spread,
    rank_autocorrelation_count::integer as rank_autocorrelation_count,
    mean_rank_autocorrelation,
    input_batch_ids
from summary
