{% macro get_incremental_window_delete_insert_sql(arg_dict) %}
    {#- incremental_strategy="window_delete_insert" (dbt resolves a strategy x to the macro
        get_incremental_x_sql): dbt's delete+insert, with each incremental_predicates entry
        rendered now, at execution. The entries (window_delete_predicate, bucket_delete_predicate,
        shifted_window_delete_predicate, ...) hold the window bounds as Jinja, because config()
        is rendered while parsing, when the window is not read (macros/window.sql); rendered
        then, the bounds of the parse would be baked into the node. -#}
    {%- set predicates = [] -%}
    {%- for predicate in arg_dict["incremental_predicates"] or [] -%}
        {%- do predicates.append(render(predicate)) -%}
    {%- endfor -%}
    {%- if not predicates -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy window_delete_insert needs incremental_predicates confining the delete to the window,"
            ~ " e.g. window_delete_predicate('bucket_start')") }}
    {%- endif -%}
    {%- do arg_dict.update({"incremental_predicates": predicates}) -%}
    {{ return(get_incremental_delete_insert_sql(arg_dict)) }}
{% endmacro %}
