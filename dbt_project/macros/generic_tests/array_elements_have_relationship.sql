{#- Every element of the array column `column_name` exists in `field` of `to` (a relationships
    test for array columns such as lineage batch ids). -#}
{% test array_elements_have_relationship(model, column_name, to, field) %}
    with elements as (
        select distinct element
        from {{ model }}
        cross join lateral unnest({{ column_name }}) as element
    )
    select elements.element
    from elements
    left join {{ to }} as parent on parent.{{ field }} = elements.element
    where parent.{{ field }} is null
{% endtest %}
