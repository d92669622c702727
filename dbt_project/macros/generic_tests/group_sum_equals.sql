{#- Within each group of `group_by_columns`, the values of `column_name` sum to `expected`
    (within `tolerance`): e.g. the weights of a scoring version sum to 1. -#}
{% test group_sum_equals(model, column_name, group_by_columns, expected=1, tolerance=0.000000001) %}
    {%- set groups_csv = group_by_columns | join(", ") -%}
    select {{ groups_csv }}, sum({{ column_name }}) as total
    from {{ model }}
    group by {{ groups_csv }}
    having abs(sum({{ column_name }}) - {{ expected }}) > {{ tolerance }}
{% endtest %}
