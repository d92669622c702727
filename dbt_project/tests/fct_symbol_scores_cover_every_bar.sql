-- Every 1h bar of the build window has a score of the configured algorithm version, and every
-- score of that version in the window scores an existing bar.
with window_bars as (
    select symbol, bucket_start
    from {{ ref("int_candles_1h") }}
    where bucket_start >= {{ window_start() }} and bucket_start < {{ window_end() }}
),

window_scores as (
    select symbol, bucket_start
    from {{ ref("fct_symbol_scores") }}
    where bucket_start >= {{ window_start() }} and bucket_start < {{ window_end() }}
      and algorithm_version = '{{ scoring_algorithm_version() }}'
)

select
    coalesce(window_bars.symbol, window_scores.symbol) as symbol,
    coalesce(window_bars.bucket_start, window_scores.bucket_start) as bucket_start,
    window_bars.symbol is not null as has_bar,
    window_scores.symbol is not null as has_score
from window_bars
full outer join window_scores
    on window_scores.symbol = window_bars.symbol
    and window_scores.bucket_start = window_bars.bucket_start
where window_bars.symbol is null or window_scores.symbol is null
