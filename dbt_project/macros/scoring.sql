{#- Parameters of the score model (the indicator parameters are in indicator_parameters.sql). -#}

{% macro score_components() %}
    {#- The components fct_symbol_scores computes, each ranked cross-sectionally per score_time.
        seeds/scoring_algorithm_weights.csv weighs a subset of these per algorithm version; a new
        component is a column in fct_symbol_scores plus its name here. -#}
    {{ return(["liquidity", "momentum", "trend"]) }}
{% endmacro %}

{% macro scoring_algorithm_version() %}
    {#- The var scoring_algorithm_version, validated: it is inlined into SQL, and it must name a
        weight set of the seed (checked against the seed once it is loaded). -#}
    {%- set version = var("scoring_algorithm_version", "v1") -%}
    {%- if version is not string or modules.re.match("^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", version) is none -%}
        {{ exceptions.raise_compiler_error(
            "var scoring_algorithm_version='" ~ version ~ "' is malformed: expected a version name such as v1 "
            ~ "(letters, digits, '.', '_' or '-'), as listed in seeds/scoring_algorithm_weights.csv") }}
    {%- endif -%}
    {%- set weights = ref("scoring_algorithm_weights") -%}  {#- outside `execute`: parsing records the dependency -#}
    {%- if execute -%}
        {%- if adapter.get_relation(weights.database, weights.schema, weights.identifier) is not none -%}
            {%- set found = run_query("select count(*) from " ~ weights ~ " where algorithm_version = '" ~ version ~ "'") -%}
            {%- if found.columns[0].values()[0] == 0 -%}
                {{ exceptions.raise_compiler_error(
                    "var scoring_algorithm_version='" ~ version ~ "' has no weights in seed scoring_algorithm_weights "
                    ~ "(add its rows to seeds/scoring_algorithm_weights.csv and run dbt seed)") }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(version) }}
{% endmacro %}
