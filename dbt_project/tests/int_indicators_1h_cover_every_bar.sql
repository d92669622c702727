-- Every 1h bar of the build window has exactly one indicator row, and every indicator row a bar.
with window_bars as (
    select symbol, bucket_start, close
    from {{ ref("int_candles_1h") }}
    where bucket_start >= {{ window_start() }} and bucket_start < {{ window_end() }}
),

window_indicators as (
    select symbol, bucket_start, close
    from {{ ref("int_indicators_1h") }}
    where bucket_start >= {{ window_start() }} and bucket_start < {{ window_end() }}
)

select
    coalesce(window_bars.symbol, window_indicators.symbol) as symbol,
    coalesce(window_bars.bucket_start, window_indicators.bucket_start) as bucket_start,
    window_bars.close as bar_close,
    window_indicators.close as indicator_close
from window_bars
full outer join window_indicators
    on window_indicators.symbol = window_bars.symbol
    and window_indicators.bucket_start = window_bars.bucket_start
where window_bars.symbol is null
   or window_indicators.symbol is null
   or window_indicators.close is distinct from window_bars.close
