-- Every 1h bar of the build window has a score of every active algorithm version (seed
-- scoring_algorithms, status not 'retired'), and every such score in the window scores an
-- existing bar.
with window_bars as (
    select candles.symbol, candles.bucket_start, algorithms.algorithm_version
    from {{ ref("int_candles_1h") }} as candles
    cross join {{ ref("scoring_algorithms") }} as algorithms
    where candles.bucket_start >= {{ window_start() }} and candles.bucket_start < {{ window_end() }}
      and algorithms.status <> 'retired'
),

window_scores as (
    select scores.symbol, scores.bucket_start, scores.algorithm_version
    from {{ ref("fct_symbol_scores") }} as scores
    inner join {{ ref("scoring_algorithms") }} as algorithms
        on algorithms.algorithm_version = scores.algorithm_version
        and algorithms.status <> 'retired'
    where scores.bucket_start >= {{ window_start() }} and scores.bucket_start < {{ window_end() }}
)

select
    coalesce(window_bars.symbol, window_scores.symbol) as symbol,
    coalesce(window_bars.bucket_start, window_scores.bucket_start) as bucket_start,
    coalesce(window_bars.algorithm_version, window_scores.algorithm_version) as algorithm_version,
    window_bars.symbol is not null as has_bar,
    window_scores.symbol is not null as has_score
from window_bars
full outer join window_scores
    on window_scores.symbol = window_bars.symbol
    and window_scores.bucket_start = window_bars.bucket_start
    and window_scores.algorithm_version = window_bars.algorithm_version
where window_bars.symbol is null or window_scores.symbol is null
