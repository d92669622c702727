{#-
    Rolling return correlations (int_return_comoments_1d -> int_return_correlations_30d).

    Parameters from the var `correlations` (dbt_project.yml), validated before any SQL is
    produced: window_days, the length of the window in UTC days ending at as_of, and
    min_observations, the fewest common 1-hour returns a pair needs for a correlation
    (pandas' min_periods). Changing window_days changes every row of
    int_return_correlations_30d: rebuild it with --full-refresh.
-#}

{% macro correlation_parameters() %}
    {%- set raw = var("correlations", none) -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error("var correlations is missing or not a mapping of window_days, min_observations (see the vars block of dbt_project.yml)") }}
    {%- endif -%}
    {%- set window_days = _check_period("correlations.window_days", raw.get("window_days"), 1) -%}
    {#- Pearson's r needs two observations; more than the window can hold would null every row -#}
    {%- set min_observations = _check_period("correlations.min_observations", raw.get("min_observations"), 2) -%}
    {%- if min_observations > window_days * 24 -%}
        {{ exceptions.raise_compiler_error(
            "var correlations.min_observations=" ~ min_observations ~ " exceeds the " ~ window_days * 24
            ~ " hours of a " ~ window_days ~ "-day window (correlations.window_days): every correlation would be null") }}
    {%- endif -%}
    {{ return({"window_days": window_days, "min_observations": min_observations}) }}
{% endmacro %}

{% macro correlation_sums() %}
    {#- The sufficient statistics of a pair (int_return_comoments_1d stores each as cum_<name>). -#}
    {{ return(["n", "sum_a", "sum_b", "sum_aa", "sum_bb", "sum_ab"]) }}
{% endmacro %}

{% macro returns_complete_through() -%}
    {#- The end of the hours whose 1h returns are final: the build window's end (Dagster asks only
        for closed hours), or the end of the latest bar of int_returns_1h when that is later (a
        rebuilt earlier window with the later hours already built) or there is no window end (a
        full refresh over the whole history). One probe of the bucket_start index. A UTC day is
        complete once this reaches its end. -#}
    {%- set latest_bar = "(select max(bucket_start) + interval '1 hour' from " ~ ref("int_returns_1h") ~ ")" -%}
    {%- if window_bounds()[1] is none -%}
        {{ latest_bar }}
    {%- else -%}
        greatest({{ window_end() }}, {{ latest_bar }})
    {%- endif -%}
{%- endmacro %}
