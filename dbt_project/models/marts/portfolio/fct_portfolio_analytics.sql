{%- set periods = portfolio_analytics_periods() -%}
{%- set cutoffs = portfolio_tail_cutoffs() -%}
{%- set periods_per_year = portfolio_periods_per_year() -%}
-- Performance and risk of each algorithm version's hourly portfolio returns (fct_portfolio_history),
-- over its whole history and trailing windows ending at its latest holding hour, with empyrical's
-- (empyrical-reloaded 0.7.1, stats.py) definitions, annualisation A = {{ periods_per_year }} hourly
-- periods per year (365 x 24, a 24/7 market), risk-free rate and required return 0. r_1..r_n are
-- the period's portfolio returns in time order (hours whose portfolio_return is null are left out,
-- and counted in hours_without_return), W_t = prod_{s<=t} (1 + r_s):
--   cumulative_return   W_n - 1                                       (cum_returns_final)
--   annual_return       W_n ^ (A / n) - 1                             (annual_return, a CAGR)
--   annual_volatility   stddev_samp(r) x sqrt(A)                      (annual_volatility, ddof 1)
--   sharpe_ratio        avg(r) / stddev_samp(r) x sqrt(A)             (sharpe_ratio)
--   downside_deviation  sqrt(avg(min(r, 0)^2)) x sqrt(A)              (downside_risk)
--   sortino_ratio       avg(r) x A / downside_deviation               (sortino_ratio)
--   max_drawdown        min_t W_t / max(1, max_{s<=t} W_s) - 1        (max_drawdown; W_0 = 1 is the first peak)
--   calmar_ratio        annual_return / |max_drawdown|, max_drawdown < 0 (calmar_ratio)
--   value_at_risk_q     percentile_cont(c) of r, c = 0.05 / 0.01: linear interpolation between
--                       order statistics, numpy.percentile's default (value_at_risk)
--   conditional_value_at_risk_q
--                       mean of the floor((n - 1) c) + 1 lowest returns (conditional_value_at_risk;
--                       k computed in double precision, as Python's int((n - 1) * c))
--   beta                covar_pop(r, b) / var_pop(b) over the hours where the benchmark return b
--                       exists (beta: regr_slope); null when var_pop(b) < 1e-30, as empyrical
-- W_t = exp(sum_{s<=t} ln(1 + r_s)), a running sum in time order (prices are positive: 1 + r > 0).
-- An undefined ratio is null, never infinite: Sharpe when the returns do not vary (empyrical's
-- zero-dispersion std gives +-inf or nan), Sortino when no return is below 0, volatility, Sharpe,
-- Sortino and beta with fewer than two returns; annual_return (and Calmar) when W_n ^ (A / n)
-- exceeds the double range (-1 when it underflows, as numpy's power gives 0).
--
-- The current portfolio's diversification (latest evaluation's holdings and weights w_i, over the
-- hours of [period_start, period_end) in which every holding has a genuine 1h return,
-- intermediate.int_returns_1h simple_return_1 of adjacent bars; a trailing period's whole window,
-- also before the version's first evaluation): average_pairwise_correlation = mean over the N(N-1)/2 pairs
-- of Pearson's correlation (null if one is undefined: a constant series); diversification_ratio =
-- sum w_i sigma_i / sigma_p (Choueifaty & Coignard 2008), sigma = stddev_samp, p = the portfolio
-- sum_i w_i r_i of each of those hours. average_turnover = mean turnover of the period's
-- evaluations (fct_portfolio_history; the first portfolio has none). largest_sector /
-- largest_sector_weight: the sector of fct_portfolio_sector_exposure with the largest summed weight
-- in the latest evaluation (ties: the first sector name), the same on every period's row.
--
-- Rebuilt in full on every invocation: it summarises the whole history, which is small
-- (24 evaluations a day per version).

with evaluation_returns as (
    -- one row per evaluation of the history (its evaluation-level columns)
    select distinct on (algorithm_version, as_of)
        algorithm_version,
        as_of,
        evaluation_id,
        portfolio_return,
        benchmark_return,
        turnover
    from {{ ref("fct_portfolio_history") }}
    order by algorithm_version, as_of
),

versions as (
    select distinct on (algorithm_version)
        algorithm_version,
        min(as_of) over (partition by algorithm_version) as first_as_of,
        as_of as latest_as_of,
        evaluation_id as latest_evaluation_id
    from evaluation_returns
    order by algorithm_version, as_of desc
),

periods as (
    select
        versions.algorithm_version,
        periods.period,
        periods.period_hours,
        case
            when periods.period_hours is null then versions.first_as_of
            else versions.latest_as_of + interval '1 hour' - periods.period_hours * interval '1 hour'
        end as period_start,
        versions.latest_as_of + interval '1 hour' as period_end,
        versions.first_as_of,
        versions.latest_as_of,
        versions.latest_evaluation_id
    from versions
    cross join (
        values
        {%- for name, hours in periods %}
            ('{{ name }}', {{ hours if hours is not none else "null::integer" }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as periods (period, period_hours)
),

period_evaluations as (
    select
        periods.algorithm_version,
        periods.period,
        evaluation_returns.as_of,
        evaluation_returns.portfolio_return,
        evaluation_returns.benchmark_return,
        evaluation_returns.turnover
    from periods
    inner join evaluation_returns
        on evaluation_returns.algorithm_version = periods.algorithm_version
        and evaluation_returns.as_of >= periods.period_start
        and evaluation_returns.as_of < periods.period_end
),

evaluation_statistics as (
    select
        algorithm_version,
        period,
        min(as_of) as first_hour,
        count(*)::integer as evaluation_hours,
        count(*) filter (where portfolio_return is null)::integer as hours_without_return,
        avg(turnover) as average_turnover
    from period_evaluations
    group by algorithm_version, period
),

wealth_paths as (
    -- the period's returns in time order: ln W_t, its running peak (W_0 = 1 included), the final
    -- ln W_n, and each return's rank from the lowest
    select
        algorithm_version,
        period,
        portfolio_return,
        benchmark_return,
        log_wealth,
        greatest(0, max(log_wealth) over running) as log_peak,
        last_value(log_wealth) over whole_period as final_log_wealth,
        row_number() over (partition by algorithm_version, period order by portfolio_return) as return_rank,
        count(*) over (partition by algorithm_version, period) as return_count
    from (
        select
            algorithm_version,
            period,
            as_of,
            portfolio_return,
            benchmark_return,
            sum(ln(1 + portfolio_return)) over (
                partition by algorithm_version, period order by as_of rows between unbounded preceding and current row
            ) as log_wealth
        from period_evaluations
        where portfolio_return is not null
    ) as log_wealth_paths
    window
        running as (partition by algorithm_version, period order by as_of rows between unbounded preceding and current row),
        whole_period as (partition by algorithm_version, period order by as_of rows between unbounded preceding and unbounded following)
),

period_statistics as (
    select
        algorithm_version,
        period,
        count(*)::integer as return_hours,
        exp(max(final_log_wealth)) - 1 as cumulative_return,
        -- ln(W_n ^ (A / n))
        max(final_log_wealth) * {{ periods_per_year }} / count(*) as annual_log_return,
        avg(portfolio_return) as mean_return,
        stddev_samp(portfolio_return) as return_stddev,
        max(portfolio_return) = min(portfolio_return) as is_constant,
        sqrt(avg(least(portfolio_return, 0) ^ 2)) * sqrt({{ periods_per_year }}) as downside_deviation,
        min(exp(log_wealth - log_peak) - 1) as max_drawdown,
        {%- for suffix, cutoff in cutoffs %}
        percentile_cont({{ cutoff }}) within group (order by portfolio_return) as value_at_risk_{{ suffix }},
        avg(portfolio_return) filter (
            where return_rank <= floor((return_count - 1) * {{ cutoff }}::double precision) + 1
        ) as conditional_value_at_risk_{{ suffix }},
        {%- endfor %}
        case when var_pop(benchmark_return) >= 1e-30 then regr_slope(portfolio_return, benchmark_return) end as beta,
        count(benchmark_return)::integer as beta_hours
    from wealth_paths
    group by algorithm_version, period
),

return_statistics as (
    select
        *,
        case
            when annual_log_return > 709 then null  -- W_n ^ (A / n) beyond the double range
            when annual_log_return < -709 then -1.0::double precision  -- W_n ^ (A / n) underflows to 0
            else exp(annual_log_return) - 1
        end as annual_return
    from period_statistics
),

period_batches as (
    -- lineage: every fct_portfolio_history row (holding) of the period's evaluations
    select periods.algorithm_version, periods.period, {{ union_batch_ids("history.input_batch_ids") }} as input_batch_ids
    from periods
    inner join {{ ref("fct_portfolio_history") }} as history
        on history.algorithm_version = periods.algorithm_version
        and history.as_of >= periods.period_start
        and history.as_of < periods.period_end
    group by periods.algorithm_version, periods.period
),

largest_sectors as (
    select distinct on (versions.algorithm_version)
        versions.algorithm_version,
        exposure.sector as largest_sector,
        exposure.weight as largest_sector_weight
    from versions
    inner join {{ ref("fct_portfolio_sector_exposure") }} as exposure
        on exposure.algorithm_version = versions.algorithm_version
        and exposure.as_of = versions.latest_as_of
    order by versions.algorithm_version, exposure.weight desc, exposure.sector
),

latest_holdings as (
    select periods.algorithm_version, periods.period, periods.period_start, periods.period_end, history.symbol,
           history.weight::double precision as weight,
           count(*) over (partition by periods.algorithm_version, periods.period) as holding_count
    from periods
    inner join {{ ref("fct_portfolio_history") }} as history on history.evaluation_id = periods.latest_evaluation_id
),

holding_hour_returns as (
    -- the current holdings' genuine 1h returns (adjacent bars) in the period's hours
    select
        latest_holdings.algorithm_version,
        latest_holdings.period,
        latest_holdings.symbol,
        latest_holdings.weight,
        latest_holdings.holding_count,
        returns.bucket_start,
        returns.simple_return_1 as symbol_return
    from latest_holdings
    inner join {{ ref("int_returns_1h") }} as returns
        on returns.symbol = latest_holdings.symbol
        and returns.bucket_start >= latest_holdings.period_start
        and returns.bucket_start < latest_holdings.period_end
        and returns.hours_since_previous_bar = 1
),

sample_returns as (
    -- the hours in which every current holding has one
    select algorithm_version, period, symbol, weight, bucket_start, symbol_return
    from (
        select *, count(*) over (partition by algorithm_version, period, bucket_start) as holdings_with_return
        from holding_hour_returns
    ) as counted
    where holdings_with_return = holding_count
),

pair_correlations as (
    select first.algorithm_version, first.period, corr(first.symbol_return, second.symbol_return) as correlation
    from sample_returns as first
    inner join sample_returns as second
        on second.algorithm_version = first.algorithm_version
        and second.period = first.period
        and second.bucket_start = first.bucket_start
        and second.symbol > first.symbol
    group by first.algorithm_version, first.period, first.symbol, second.symbol
),

holding_volatilities as (
    select algorithm_version, period, sum(weight * volatility) as weighted_volatility, count(volatility) as holding_count
    from (
        select algorithm_version, period, symbol, max(weight) as weight, stddev_samp(symbol_return) as volatility
        from sample_returns
        group by algorithm_version, period, symbol
    ) as per_holding
    group by algorithm_version, period
),

current_portfolio_returns as (
    select algorithm_version, period, count(*)::integer as sample_hours, stddev_samp(portfolio_return) as volatility
    from (
        select algorithm_version, period, bucket_start, sum(weight * symbol_return) as portfolio_return
        from sample_returns
        group by algorithm_version, period, bucket_start
    ) as hourly
    group by algorithm_version, period
),

diversification as (
    select
        current_portfolio_returns.algorithm_version,
        current_portfolio_returns.period,
        current_portfolio_returns.sample_hours,
        correlations.average_pairwise_correlation,
        case
            when current_portfolio_returns.volatility > 0
                then holding_volatilities.weighted_volatility / current_portfolio_returns.volatility
        end as diversification_ratio
    from current_portfolio_returns
    inner join holding_volatilities
        on holding_volatilities.algorithm_version = current_portfolio_returns.algorithm_version
        and holding_volatilities.period = current_portfolio_returns.period
    left join (
        -- null unless every pair has a correlation
        select
            algorithm_version,
            period,
            case when count(correlation) = count(*) then avg(correlation) end as average_pairwise_correlation
        from pair_correlations
        group by algorithm_version, period
    ) as correlations
        on correlations.algorithm_version = current_portfolio_returns.algorithm_version
        and correlations.period = current_portfolio_returns.period
)

select
    periods.algorithm_version,
    periods.period,
    periods.period_hours,
    periods.period_start,
    periods.period_end,
    periods.first_as_of <= periods.period_start as is_period_covered,
    evaluation_statistics.first_hour,
    periods.latest_as_of,
    periods.latest_evaluation_id,
    evaluation_statistics.evaluation_hours,
    coalesce(return_statistics.return_hours, 0) as return_hours,
    evaluation_statistics.hours_without_return,
    return_statistics.cumulative_return,
    return_statistics.annual_return,
    return_statistics.return_stddev * sqrt({{ periods_per_year }}) as annual_volatility,
    case
        when not return_statistics.is_constant
            then return_statistics.mean_return / return_statistics.return_stddev * sqrt({{ periods_per_year }})
    end as sharpe_ratio,
    return_statistics.downside_deviation,
    case
        when return_statistics.return_hours >= 2 and return_statistics.downside_deviation > 0
            then return_statistics.mean_return * {{ periods_per_year }} / return_statistics.downside_deviation
    end as sortino_ratio,
    return_statistics.max_drawdown,
    case when return_statistics.max_drawdown < 0 then return_statistics.annual_return / abs(return_statistics.max_drawdown) end as calmar_ratio,
    {%- for suffix, cutoff in cutoffs %}
    return_statistics.value_at_risk_{{ suffix }},
    return_statistics.conditional_value_at_risk_{{ suffix }},
    {%- endfor %}
    return_statistics.beta,
    coalesce(return_statistics.beta_hours, 0) as beta_hours,
    diversification.average_pairwise_correlation,
    diversification.diversification_ratio,
    coalesce(diversification.sample_hours, 0) as diversification_hours,
    evaluation_statistics.average_turnover,
    largest_sectors.largest_sector,
    largest_sectors.largest_sector_weight,
    period_batches.input_batch_ids
from periods
inner join evaluation_statistics
    on evaluation_statistics.algorithm_version = periods.algorithm_version
    and evaluation_statistics.period = periods.period
left join return_statistics
    on return_statistics.algorithm_version = periods.algorithm_version
    and return_statistics.period = periods.period
left join diversification
    on diversification.algorithm_version = periods.algorithm_version
    and diversification.period = periods.period
left join largest_sectors on largest_sectors.algorithm_version = periods.algorithm_version
inner join period_batches
    on period_batches.algorithm_version = periods.algorithm_version
    and period_batches.period = periods.period
