{#- The rows of each `partition_by` group are validity intervals [valid_from, valid_to) that
    tile time without gaps or overlaps: ordered by valid_from, each row's valid_to is the next
    row's valid_from, and only the last row is open (valid_to null). Fails on every row that
    breaks it. -#}
{% test has_contiguous_intervals(model, partition_by, valid_from="valid_from", valid_to="valid_to") %}
    select *
    from (
        select
            {{ partition_by }},
            {{ valid_from }},
            {{ valid_to }},
            lead({{ valid_from }}) over (partition by {{ partition_by }} order by {{ valid_from }}) as next_valid_from
        from {{ model }}
    ) as intervals
    where {{ valid_to }} is distinct from next_valid_from
        or {{ valid_to }} <= {{ valid_from }}
{% endtest %}
