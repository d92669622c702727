{#-
    Schemas are named exactly as configured (staging, intermediate, marts), not prefixed with
    the target schema as dbt does by default: every environment is its own database, and the
    Dagster asset keys and downstream readers (the portfolio manager reads marts.fct_symbol_scores)
    rely on the plain names. Nodes without a configured schema fall back to the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
