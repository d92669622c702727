{% macro get_where_subquery(relation) -%}
    {#- dbt's get_where_subquery (the relation a data test reads, filtered by its `where` config),
        with the placeholders __window_start__ and __window_end__ replaced by window_start() and
        window_end() (timestamptz literals, '-infinity' / 'infinity' when unset). A test's config
        is rendered while parsing, when the window is not read (macros/window.sql); this runs at
        execution. -#}
    {%- set where = config.get("where", "") -%}
    {%- if where -%}
        {%- set where = where | replace("__window_start__", window_start() ~ "") | replace("__window_end__", window_end() ~ "") -%}
        {%- do return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
