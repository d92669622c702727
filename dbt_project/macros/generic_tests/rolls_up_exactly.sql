{#- Each bucket of `model` (a rollup of timeframe `bucket`, e.g. '4 hours') holds exactly the sums
    of the rows of `shorter` (the next shorter timeframe) that fall in it, and every such row has
    its bucket: `sums` maps each checked column of `model` to its aggregate over `shorter`
    (default: the sum of the same column). Numeric sums must match to the last digit. Scoped to
    the buckets overlapping the build window. -#}
{% test rolls_up_exactly(model, shorter, bucket, sums, shorter_time_column="bucket_start") %}
    {%- set seconds = bucket_seconds(bucket) -%}
    {%- set columns = sums.keys() | list | sort -%}
    with buckets as (
        select symbol, bucket_start, {{ columns | join(", ") }}
        from {{ model }}
        where bucket_start >= {{ window_bucket_start(seconds) }} and bucket_start < {{ bucket_window_end(seconds) }}
    ),

    shorter_sums as (
        select
            symbol,
            {{ bucket_of(shorter_time_column, bucket) }} as bucket_start,
            {%- for column in columns %}
            {{ sums[column] }} as {{ column }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ shorter }}
        where {{ shorter_time_column }} >= {{ window_bucket_start(seconds) }} and {{ shorter_time_column }} < {{ bucket_window_end(seconds) }}
        group by 1, 2
    )

    select
        coalesce(buckets.symbol, shorter_sums.symbol) as symbol,
        coalesce(buckets.bucket_start, shorter_sums.bucket_start) as bucket_start,
        {%- for column in columns %}
        buckets.{{ column }} as {{ column }},
        shorter_sums.{{ column }} as {{ column }}_of_shorter{{ "," if not loop.last }}
        {%- endfor %}
    from buckets
    full outer join shorter_sums
        on shorter_sums.symbol = buckets.symbol
        and shorter_sums.bucket_start = buckets.bucket_start
    where buckets.symbol is null
       or shorter_sums.symbol is null
       {%- for column in columns %}
       or buckets.{{ column }} is distinct from shorter_sums.{{ column }}
       {%- endfor %}
{% endtest %}
