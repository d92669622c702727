{#- Every 1h bar of the build window (int_candles_1h) has exactly one row in `model`, with the same
    close, and every row of the window has a bar: the indicator models cover the bars exactly. -#}
{% test has_a_row_per_bar(model, bars) %}
    with window_bars as (
        select symbol, bucket_start, close
        from {{ bars }}
        where bucket_start >= {{ window_start() }} and bucket_start < {{ window_end() }}
    ),

    window_rows as (
        select symbol, bucket_start, close, count(*) over (partition by symbol, bucket_start) as copies
        from {{ model }}
        where bucket_start >= {{ window_start() }} and bucket_start < {{ window_end() }}
    )

    select
        coalesce(window_bars.symbol, window_rows.symbol) as symbol,
        coalesce(window_bars.bucket_start, window_rows.bucket_start) as bucket_start,
        window_bars.close as bar_close,
        window_rows.close as row_close,
        window_rows.copies
    from window_bars
    full outer join window_rows
        on window_rows.symbol = window_bars.symbol
        and window_rows.bucket_start = window_bars.bucket_start
    where window_bars.symbol is null
       or window_rows.symbol is null
       or window_rows.close is distinct from window_bars.close
       or window_rows.copies > 1
{% endtest %}
