{#- Every 1h bar of the build window (`bars`, int_candles_1h) has exactly one row in `model` per
    forward-return horizon of var scoring_performance, at score_time = its bucket_start + 1 hour and
    with its close (has_a_row_per_bar, horizon by horizon), and the window has no row of another
    horizon. -#}
{% test has_a_row_per_score_time_and_horizon(model, bars) %}
    {%- set horizons = scoring_performance_parameters()["horizons"] -%}
    {%- for horizon in horizons %}
    select {{ horizon }} as horizon_hours, mismatches.*
    from (
        {{ test_has_a_row_per_bar(
            "(select symbol, score_time - interval '1 hour' as bucket_start, close from " ~ model
            ~ " where horizon_hours = " ~ horizon ~ ") as rows_of_the_horizon", bars) }}
    ) as mismatches
    union all
    {%- endfor %}
    select horizon_hours, symbol, score_time - interval '1 hour', null, close, null
    from {{ model }}
    where score_time > {{ window_start() }} and score_time <= {{ window_end() }}
      and horizon_hours not in ({{ horizons | join(", ") }})
{% endtest %}
