{%- set p = scoring_performance_parameters() -%}
{%- set max_horizon = p["max_horizon"] -%}
{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "score_time", "horizon_hours"],
        incremental_predicates=[shifted_window_delete_predicate("score_time", 1 - max_horizon, 1)],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "score_time", "horizon_hours"], "unique": true},
            {"columns": ["score_time"]},
        ],
    )
}}
{%- set rows_start = hours_after(build_window_start(), 1 - max_horizon) -%}
{%- set rows_end = hours_after(window_end(), 1) -%}
-- Forward returns of each contract's 1h closes over {{ p["horizons"] | join(", ") }} hours (var
-- scoring_performance.forward_return_horizons), at the score_times of fct_symbol_scores (the end
-- of each 1h bar, score_time = bucket_start + 1 hour):
--   forward_return = close of the bar ending at score_time + h / close of the bar ending at score_time - 1
-- alphalens' compute_forward_returns (prices.pct_change(h).shift(-h), evaluated as p[t + h] / p[t] - 1),
-- on the hourly grid. Unlike alphalens, which forward-fills prices first, a missing bar at
-- score_time + h (a gap, a delisting, an hour not built yet) gives a null, not the last price
-- before it: the exchange did not report that hour, and a delisted contract's settlement is not
-- in the candles. A close of 0 gives a null (undefined return).
--
-- Window: the rows whose horizon ends in the window's bars, i.e. score_times
-- [window_start - {{ max_horizon - 1 }} hours, window_end + 1 hour) (macros/scoring_performance.sql).

with lookahead_bars as (
    -- the bars closing at the rebuilt score_times and up to {{ max_horizon }} hours after them
    select symbol, bucket_start + interval '1 hour' as closes_at, close, batch_ids
    from {{ ref("int_candles_1h") }}
    where bucket_start >= {{ hours_after(build_window_start(), -max_horizon) }}
      and bucket_start < {{ hours_after(window_end(), max_horizon) }}
),

horizons as (
    select horizon_hours
    from unnest(array[{{ p["horizons"] | join(", ") }}]) as horizon_hours
)

select
    score_bars.symbol,
    score_bars.closes_at as score_time,
    horizons.horizon_hours,
    score_bars.closes_at + make_interval(hours => horizons.horizon_hours) as horizon_end,
    score_bars.close,
    horizon_bars.close as horizon_end_close,
    horizon_bars.close / nullif(score_bars.close, 0) - 1 as forward_return,
    -- the two bars' batches (the horizon bar's only when it exists)
    {{ merge_batch_ids(["score_bars.batch_ids", "horizon_bars.batch_ids"]) }} as input_batch_ids
from lookahead_bars as score_bars
cross join horizons
left join lookahead_bars as horizon_bars
    on horizon_bars.symbol = score_bars.symbol
    and horizon_bars.closes_at = score_bars.closes_at + make_interval(hours => horizons.horizon_hours)
where score_bars.closes_at >= {{ rows_start }}
  and score_bars.closes_at < {{ rows_end }}
