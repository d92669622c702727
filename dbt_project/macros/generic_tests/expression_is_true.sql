{#- Every row satisfies `expression` (a boolean SQL expression over the model's columns);
    a null result counts as a failure. Usable on a model or on a column (the expression is
    written out in full either way; column_name only places the test in the docs). -#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}
