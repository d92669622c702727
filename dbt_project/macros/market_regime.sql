{#-
    Market regime (int_market_regime_1h), from the var `market_regime` (dbt_project.yml),
    validated before any SQL is produced:
      symbol                       the contract whose trend and volatility define the regime (XBTUSDTM)
      trend_hours                  the trend is ln(close / close trend_hours hours earlier)
      trend_threshold              |trend| at or beyond which the market trends (a log return, > 0)
      volatility_lookback_hours    the trailing frame of the volatility percentile, in hours
      high_volatility_percentile   percentile at or above which volatility is high, in (0, 1]
      min_volatility_observations  the fewest volatility values the frame needs for a percentile
-#}

{% macro market_regime_parameters() %}
    {%- set raw = var("market_regime", none) -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error("var market_regime is missing or not a mapping of symbol, trend_hours, trend_threshold, volatility_lookback_hours, high_volatility_percentile, min_volatility_observations (see the vars block of dbt_project.yml)") }}
    {%- endif -%}
    {%- set symbol = raw.get("symbol") -%}
    {%- if symbol is not string or modules.re.match("^[A-Z0-9]{2,40}$", symbol) is none -%}
        {{ exceptions.raise_compiler_error("var market_regime.symbol=" ~ symbol ~ " is malformed: expected a KuCoin contract id such as XBTUSDTM") }}
    {%- endif -%}
    {%- set trend_hours = _check_period("market_regime.trend_hours", raw.get("trend_hours"), 1) -%}
    {%- set lookback = _check_period("market_regime.volatility_lookback_hours", raw.get("volatility_lookback_hours"), 1) -%}
    {%- set min_obs = _check_period("market_regime.min_volatility_observations", raw.get("min_volatility_observations"), 1) -%}
    {%- if min_obs > lookback -%}
        {{ exceptions.raise_compiler_error("var market_regime.min_volatility_observations=" ~ min_obs ~ " exceeds market_regime.volatility_lookback_hours=" ~ lookback ~ ": every regime would be unknown") }}
    {%- endif -%}
    {%- set threshold = number_var("market_regime.trend_threshold", raw.get("trend_threshold"), 0, 1, "()", "a log return") -%}
    {%- set percentile = number_var("market_regime.high_volatility_percentile", raw.get("high_volatility_percentile"), 0, 1, "(]", "a fraction") -%}
    {{ return({"symbol": symbol, "trend_hours": trend_hours, "trend_threshold": threshold, "volatility_lookback_hours": lookback,
               "high_volatility_percentile": percentile, "min_volatility_observations": min_obs}) }}
{% endmacro %}
