{#-
    Parameters of the liquidity estimators (int_liquidity_1h), from the var `liquidity`
    (dbt_project.yml), validated before any SQL is produced: a malformed value fails the
    invocation with a message naming it.

    min_pairs     the fewest pairs an hour needs for its Corwin-Schultz estimates (pairs of
                  consecutive minutes, at most 59 in an hour) and its Roll estimates (pairs of
                  consecutive minute price changes, at most 58); below it they are null.
    rolling_bars  the frame, in 1h bars, of the rolling Amihud mean, turnover and open-interest
                  turnover; column names carry it (turnover_quote_24, ...), so changing it means
                  --full-refresh of int_liquidity_1h and renaming its YAML columns. Changing
                  min_pairs changes values only: rebuild the model with --full-refresh too.
-#}

{% macro liquidity_parameters() %}
    {%- set raw = var("liquidity", none) -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error("var liquidity is missing or not a mapping of min_pairs, rolling_bars (see the vars block of dbt_project.yml)") }}
    {%- endif -%}
    {%- set min_pairs = integer_var("liquidity.min_pairs", raw.get("min_pairs"), 2, 58,
                                    "a sample covariance needs two pairs; an hour holds at most 58 pairs of minute price changes") -%}
    {{ return({"min_pairs": min_pairs, "rolling_bars": _check_period("liquidity.rolling_bars", raw.get("rolling_bars"), 2)}) }}
{% endmacro %}
