{#- Parameters of the portfolio history and analytics marts (fct_portfolio_history,
    fct_portfolio_analytics). -#}

{% macro portfolio_benchmark_symbol() %}
    {#- The contract whose hourly return is the benchmark of beta (var portfolio_benchmark_symbol,
        default XBTUSDTM, BTC's USDT-margined perpetual), validated: it is inlined into SQL. -#}
    {%- set symbol = var("portfolio_benchmark_symbol", "XBTUSDTM") -%}
    {%- if symbol is not string or modules.re.match("^[A-Z0-9][A-Z0-9_.-]{0,39}$", symbol) is none -%}
        {{ exceptions.raise_compiler_error(
            "var portfolio_benchmark_symbol='" ~ symbol ~ "' is malformed: expected a KuCoin futures contract id such as XBTUSDTM") }}
    {%- endif -%}
    {{ return(symbol) }}
{% endmacro %}

{% macro portfolio_periods_per_year() %}
    {#- Hourly returns of a 24/7 market: 365 days x 24 hours (empyrical's `annualization`). -#}
    {{ return(365 * 24) }}
{% endmacro %}

{% macro portfolio_analytics_periods() %}
    {#- The periods fct_portfolio_analytics reports, as (name, length in hours): the whole history
        (none) and trailing windows ending at the version's latest holding hour. -#}
    {{ return([("all", none), ("30d", 30 * 24), ("7d", 7 * 24), ("24h", 24)]) }}
{% endmacro %}

{% macro portfolio_tail_cutoffs() %}
    {#- VaR / CVaR cutoffs (empyrical's `cutoff`): the column suffix and the lower-tail probability. -#}
    {{ return([("95", 0.05), ("99", 0.01)]) }}
{% endmacro %}

{% macro decision_impact_horizons() %}
    {#- The horizons fct_decision_impact measures a decision over, as (name, length in hours):
        the column suffix of forward_return_<name> / edge_<name> and the hours after as_of. -#}
    {{ return([("1h", 1), ("24h", 24), ("7d", 7 * 24)]) }}
{% endmacro %}
