{#-
    Indicator parameters, from the var `indicators` (dbt_project.yml), validated before any SQL
    is produced: a malformed value fails the invocation with a message naming it.

    Periods count 1h bars (the series is the bars that exist: a gap is skipped, not filled).
    Column names carry the periods (sma_20, rsi_14, ...), so changing a parameter changes the
    columns of its model: rebuild that model with --full-refresh and update its YAML.
-#}

{% macro indicator_parameters() %}
    {%- set raw = var("indicators", none) -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error("var indicators is missing or not a mapping (see the vars block of dbt_project.yml)") }}
    {%- endif -%}
    {%- set p = {} -%}
    {%- for name in ["sma_periods", "ema_periods", "wma_periods", "return_horizons"] -%}
        {%- set minimum = 1 if name == "return_horizons" else 2 -%}
        {%- set values = raw.get(name) -%}
        {%- if values is string or values is not iterable or values | length == 0 -%}
            {{ exceptions.raise_compiler_error("var indicators." ~ name ~ "=" ~ values ~ " is malformed: expected a non-empty list of integers >= " ~ minimum) }}
        {%- endif -%}
        {%- for value in values -%}
            {%- do _check_period("indicators." ~ name, value, minimum) -%}
        {%- endfor -%}
        {%- if values | unique | list | length != values | length -%}
            {{ exceptions.raise_compiler_error("var indicators." ~ name ~ "=" ~ values ~ " lists a value twice") }}
        {%- endif -%}
        {%- do p.update({name: values | sort}) -%}
    {%- endfor -%}
    {%- for name in ["rsi_period", "roc_period", "adx_period", "atr_period", "mfi_period", "vwap_period",
                     "realized_volatility_period", "volume_zscore_period"] -%}
        {%- do p.update({name: _check_period("indicators." ~ name, raw.get(name), 2)}) -%}
    {%- endfor -%}
    {%- for group, names in [("macd", ["fast_period", "slow_period", "signal_period"]),
                             ("stoch", ["fastk_period", "slowk_period", "slowd_period"])] -%}
        {%- set values = raw.get(group) -%}
        {%- if values is not mapping -%}
            {{ exceptions.raise_compiler_error("var indicators." ~ group ~ " is missing or not a mapping of " ~ names | join(", ")) }}
        {%- endif -%}
        {%- for name in names -%}
            {%- do p.update({group ~ "_" ~ name: _check_period("indicators." ~ group ~ "." ~ name, values.get(name), 1 if group == "stoch" else 2)}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if p["macd_fast_period"] >= p["macd_slow_period"] -%}
        {{ exceptions.raise_compiler_error("var indicators.macd: fast_period=" ~ p["macd_fast_period"] ~ " must be below slow_period=" ~ p["macd_slow_period"]) }}
    {%- endif -%}
    {%- set bbands = raw.get("bbands") -%}
    {%- if bbands is not mapping -%}
        {{ exceptions.raise_compiler_error("var indicators.bbands is missing or not a mapping of period, nbdev") }}
    {%- endif -%}
    {%- do p.update({"bbands_period": _check_period("indicators.bbands.period", bbands.get("period"), 2)}) -%}
    {%- set nbdev = number_var("indicators.bbands.nbdev", bbands.get("nbdev"), 0, none, "()", "a number of standard deviations") -%}
    {%- do p.update({"bbands_nbdev": nbdev | float}) -%}
    {{ return(p) }}
{% endmacro %}

{% macro _check_period(name, value, minimum) %}
    {{ return(integer_var(name, value, minimum, 10000)) }}
{% endmacro %}

{% macro score_indicator_columns() %}
    {#- The indicator columns the v1 score components read (int_score_components_1h; fct_symbol_scores carries them):
        trend from SMA(20), momentum from RSI(14). Fails when the vars no longer produce them. -#}
    {%- set p = indicator_parameters() -%}
    {%- if 20 not in p["sma_periods"] or p["rsi_period"] != 14 -%}
        {{ exceptions.raise_compiler_error(
            "fct_symbol_scores scores with sma_20 and rsi_14: var indicators.sma_periods must contain 20 and "
            ~ "indicators.rsi_period must be 14 (got " ~ p["sma_periods"] ~ " and " ~ p["rsi_period"] ~ ")") }}
    {%- endif -%}
    {{ return({"sma_period": 20, "rsi_period": 14}) }}
{% endmacro %}
