{#-
    Scoring performance: forward returns (int_forward_returns_1h) and the factor statistics of
    the composite scores (fct_scoring_performance), with alphalens' definitions
    (alphalens-reloaded 0.5.1: utils.compute_forward_returns, utils.quantize_factor,
    performance.factor_information_coefficient, mean_return_by_quantile,
    factor_rank_autocorrelation) on hourly UTC timestamps, 24/7.

    Parameters come from the var `scoring_performance` (dbt_project.yml), validated before any
    SQL is produced: a malformed value fails the invocation with a message naming it.

    The window. A forward return at score_time t over h hours reads the bar closing at t and the
    one closing at t + h, so a run whose window holds the bars starting in
    [window_start, window_end) completes the rows whose horizon ends in it: it rebuilds the
    score_times [window_start - (H - 1) hours, window_end + 1 hour) for H the longest horizon,
    reading the bars starting in [window_start - H hours, window_end + H hours) (those after
    the window exist when an earlier window is rebuilt). A row whose horizon has not closed yet
    has a null forward return until the run of the window holding its last bar.
-#}

{% macro scoring_performance_parameters() %}
    {%- set raw = var("scoring_performance", none) -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error("var scoring_performance is missing or not a mapping of forward_return_horizons, quantiles (see the vars block of dbt_project.yml)") }}
    {%- endif -%}
    {%- set horizons = raw.get("forward_return_horizons") -%}
    {%- if horizons is string or horizons is not iterable or horizons | length == 0 -%}
        {{ exceptions.raise_compiler_error("var scoring_performance.forward_return_horizons=" ~ horizons ~ " is malformed: expected a non-empty list of integers (hours) >= 1") }}
    {%- endif -%}
    {%- for value in horizons -%}
        {%- do _check_period("scoring_performance.forward_return_horizons", value, 1) -%}
    {%- endfor -%}
    {%- if horizons | unique | list | length != horizons | length -%}
        {{ exceptions.raise_compiler_error("var scoring_performance.forward_return_horizons=" ~ horizons ~ " lists a value twice") }}
    {%- endif -%}
    {%- set quantiles = integer_var("scoring_performance.quantiles", raw.get("quantiles"), 2, 100) -%}
    {{ return({
        "horizons": horizons | sort,
        "max_horizon": horizons | max,
        "quantiles": quantiles,
        "quantile_probabilities": _qcut_probabilities(quantiles),
    }) }}
{% endmacro %}

{% macro _qcut_probabilities(quantiles) %}
    {#- The probabilities pandas.qcut(x, quantiles) takes the edges at (pandas 3.1,
        reshape/tile.py): numpy.linspace(0, 1, quantiles + 1), i.e. k x (1 / quantiles) in
        binary floating point, each moved to the next double up when quantiles x it is not k
        ("round up rather than to nearest if not representable in base 2"): for 5 quantiles
        0, 0.2, 0.4, 0.6000000000000002, 0.8, 1. The next double up of p in [2^-(e+1), 2^-e) is
        p + 2^-(e+53). -#}
    {%- set probabilities = [] -%}
    {%- for k in range(quantiles + 1) -%}
        {%- set p = 1.0 if k == quantiles else k * (1 / quantiles) -%}
        {%- if quantiles * p != k -%}
            {%- set ulp = namespace(value=2.0 ** -53) -%}
            {%- for e in range(1, 64) -%}
                {%- if p < 2.0 ** -e -%}
                    {%- set ulp.value = 2.0 ** (-e - 53) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- set p = p + ulp.value -%}
        {%- endif -%}
        {%- do probabilities.append(p) -%}
    {%- endfor -%}
    {{ return(probabilities) }}
{% endmacro %}

{% macro shifted_window_delete_predicate(column, start_hours, end_hours) -%}
    {#- An incremental_predicates entry (see window_delete_predicate) for a model whose rebuilt
        rows are [window_start + start_hours, window_end + end_hours) of `column`. -#}
    {{ return("DBT_INTERNAL_DEST." ~ column ~ " >= {{ window_start() }} + interval '" ~ start_hours ~ " hours'"
              ~ " and DBT_INTERNAL_DEST." ~ column ~ " < {{ window_end() }} + interval '" ~ end_hours ~ " hours'") }}
{%- endmacro %}

{% macro hours_after(moment, hours) -%}
    ({{ moment }} + interval '{{ hours }} hours')
{%- endmacro %}

{% macro average_rank(value, partition_by) -%}
    {#- Window expression: the rank of `value` within `partition_by`, 1 = lowest, ties sharing the
        mean of their positions (pandas rank(method="average"), scipy.stats.rankdata). -#}
    (rank() over (partition by {{ partition_by }} order by {{ value }})
        + (count(*) over (partition by {{ partition_by }}, {{ value }}) - 1) / 2.0)::double precision
{%- endmacro %}

{% macro pearson_correlation(y, x, order_by) -%}
    {#- Aggregate: Pearson's correlation of x and y (PostgreSQL corr) over non-null pairs, null
        when either side is constant, which includes fewer than two pairs (numpy and pandas give
        NaN there; corr's running sums could leave a rounding residue instead of an exact zero
        variance). The pairs are accumulated in `order_by` order, so every run rounds alike. -#}
    case when min({{ x }}) < max({{ x }}) and min({{ y }}) < max({{ y }}) then corr({{ y }}, {{ x }} order by {{ order_by }}) end
{%- endmacro %}
