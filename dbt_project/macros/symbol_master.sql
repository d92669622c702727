{#-
    The point-in-time symbol master (marts.dim_symbols_history, marts.dim_symbols).

    tracked_contract_attributes(): the columns of stg_kucoin__contracts whose change starts a new
    version of a contract (spec, status, listing and expiry). The 24h statistics, prices and open
    interest change with every snapshot and are not tracked.

    valid_at(as_of, alias): the predicate "the history row `alias` is in force at `as_of`"
    (valid_from <= as_of < valid_to, valid_to null = still in force).

    universe_as_of(as_of): the contracts the exchange listed at `as_of` (a SQL timestamptz
    expression), one row each with the attributes in force then. A contract delisted since is
    in it for the times it was listed (no survivorship); before a contract's first snapshot its
    first snapshot's spec applies from its listing time on.

    symbol_master_parameters(): the var `symbol_master` validated (classification thresholds,
    eligibility minimums and the correlation-cluster edge rule); a malformed value fails the
    invocation naming it.
-#}

{% macro tracked_contract_attributes() %}
    {{ return([
        "unified_symbol", "contract_type", "status", "base_currency", "quote_currency", "settle_currency",
        "is_inverse", "multiplier", "lot_base_quantity", "lot_usd_value", "lot_size", "tick_size",
        "max_leverage", "funding_interval", "listed_at", "expires_at",
    ]) }}
{% endmacro %}

{% macro valid_at(as_of, alias) -%}
    ({{ alias }}.valid_from <= {{ as_of }} and ({{ alias }}.valid_to is null or {{ as_of }} < {{ alias }}.valid_to))
{%- endmacro %}

{% macro universe_as_of(as_of) %}
    select history.*
    from {{ ref("dim_symbols_history") }} as history
    where {{ valid_at(as_of, "history") }}
        and history.is_listed
{% endmacro %}

{% macro symbol_master_parameters() %}
    {%- set raw = var("symbol_master", none) -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error("var symbol_master is missing or not a mapping (see the vars block of dbt_project.yml)") }}
    {%- endif -%}
    {%- set p = {} -%}
    {%- for name in ["liquidity_tiers_usd", "open_interest_tiers_usd", "volatility_tiers_annualized"] -%}
        {%- set tiers = raw.get(name) -%}
        {%- if tiers is not mapping -%}
            {{ exceptions.raise_compiler_error("var symbol_master." ~ name ~ " is missing or not a mapping of high, medium") }}
        {%- endif -%}
        {%- for tier in ["high", "medium"] -%}
            {%- do number_var("symbol_master." ~ name ~ "." ~ tier, tiers.get(tier), 0) -%}
        {%- endfor -%}
        {%- if tiers["medium"] >= tiers["high"] -%}
            {{ exceptions.raise_compiler_error("var symbol_master." ~ name ~ ": medium=" ~ tiers["medium"] ~ " must be below high=" ~ tiers["high"]) }}
        {%- endif -%}
        {%- do p.update({name: {"high": tiers["high"] | float, "medium": tiers["medium"] | float}}) -%}
    {%- endfor -%}
    {%- for name in ["min_listing_age_days", "min_history_bars"] -%}
        {%- do p.update({name: integer_var("symbol_master." ~ name, raw.get(name), 0)}) -%}
    {%- endfor -%}
    {%- set threshold = number_var("symbol_master.cluster_min_correlation", raw.get("cluster_min_correlation"), -1, 1, "[]") -%}
    {%- do p.update({"cluster_min_correlation": threshold | float}) -%}
    {%- set overlap = integer_var("symbol_master.cluster_min_observations", raw.get("cluster_min_observations"), 2, none,
                                  "a correlation needs two observations") -%}
    {%- do p.update({"cluster_min_observations": overlap}) -%}
    {{ return(p) }}
{% endmacro %}

{% macro tier_of(value, tiers) -%}
    {#- 'high' / 'medium' / 'low' by the thresholds (lower bounds, inclusive); 'unknown' for null -#}
    case
        when {{ value }} is null then 'unknown'
        when {{ value }} >= {{ tiers["high"] }} then 'high'
        when {{ value }} >= {{ tiers["medium"] }} then 'medium'
        else 'low'
    end
{%- endmacro %}
