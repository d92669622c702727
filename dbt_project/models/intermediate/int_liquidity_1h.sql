{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "bucket_start"],
        incremental_predicates=[window_delete_predicate("bucket_start")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "bucket_start"], "unique": true},
            {"columns": ["bucket_start"]},
        ],
    )
}}
{%- set p = liquidity_parameters() -%}
{%- set min_pairs, n = p["min_pairs"], p["rolling_bars"] -%}
-- Liquidity and spread estimators of each contract's 1h bars (one row per int_candles_1h row), from
-- the bar's 1-minute candles (stg_kucoin__candles_1m), its turnover (int_candles_1h), its 1-bar
-- return (int_returns_1h) and the 5-minute open-interest points (stg_kucoin__open_interest).
-- Parameters from var liquidity: min_pairs = {{ min_pairs }}, rolling_bars = {{ n }}.
--
-- Corwin & Schultz (2012), "A Simple Way to Estimate Bid-Ask Spreads from Daily High and Low
-- Prices", J. Finance 67(2), 719-760, applied to the pairs of consecutive 1-minute candles t, t+1 of
-- the hour (both minutes present, both in the hour; at most 59 pairs), H and L the minute high / low:
--   beta  = ln(H_t / L_t)^2 + ln(H_t+1 / L_t+1)^2                (beta, the sum of the two one-period ranges)
--   gamma = ln(max(H_t, H_t+1) / min(L_t, L_t+1))^2            (gamma, the two-period range)
--   alpha = (sqrt(2 beta) - sqrt(beta)) / (3 - 2 sqrt 2) - sqrt(gamma / (3 - 2 sqrt 2))   (eq. 18)
--   S     = 2 (e^alpha - 1) / (1 + e^alpha)                     (eq. 14; a proportion of the price)
-- corwin_schultz_spread = the hour's mean of the pair estimates with negative ones set to 0 (the
-- paper's convention for its daily estimates); _signed = the mean without that clamp;
-- _negative_share = the share of pairs with S < 0. Taken as they are: a flat minute (H = L) has a
-- zero range (Corwin's code drops such days as no-trade days; a minute here had trades); no
-- overnight adjustment (the paper's close-to-open correction): the minutes are contiguous.
--
-- Roll (1984), "A Simple Implicit Measure of the Effective Bid-Ask Spread in an Efficient Market",
-- J. Finance 39(4), 1127-1139: cov(dp_t, dp_t-1) = -S^2 / 4, so S = 2 sqrt(-cov). Here
-- dp_t = ln(close_t / close_t-1), the log change between consecutive minutes of the hour (both
-- present), and the pairs (dp_t, dp_t-1) are those of three consecutive minutes t-2, t-1, t of the
-- hour (at most 58). roll_autocovariance = the sample covariance of the pairs,
-- sum((dp_t - mean dp_t)(dp_t-1 - mean dp_t-1)) / (pairs - 1), each mean over the pairs
-- (PostgreSQL covar_samp); roll_spread = 2 sqrt(-roll_autocovariance), null when the
-- autocovariance is >= 0 (no real solution: the estimator is undefined, not zero).
--
-- Both estimators are null when the hour has fewer than min_pairs pairs (their counts are always
-- reported): an hour with one candle, or with many missing minutes.
--
-- Amihud (2002), "Illiquidity and Stock Returns", J. Financial Markets 5, 31-56:
--   amihud_illiquidity = |r| / turnover_quote x 1e6, r = int_returns_1h.simple_return_1, i.e. the
--   absolute 1h return per million units of quote currency traded (USDT; USD for an inverse
--   contract). Null after a gap (the previous bar not exactly one hour before: r would span more
--   than the hour's trading) and when the hour traded nothing (turnover 0: undefined).
--   amihud_illiquidity_{{ n }} = the mean of the defined values of the last {{ n }} bars.
-- Turnover over the last {{ n }} bars: turnover_quote_{{ n }}, volume_lots_{{ n }} (exact numeric sums), and
--   open_interest_turnover_{{ n }} = volume_lots_{{ n }} / the mean of the open-interest points (lots) observed
--   in those bars' hours, null without any point (or a mean of 0).
-- The {{ n }}-bar columns are null for a contract's first {{ n - 1 }} bars. The series is the bars as they
-- exist (a missing hour is skipped, not filled), so across a gap the frame spans more hours.
--
-- Nothing is recursive, but the frames reach back: an incremental run reads per contract the last
-- {{ n - 1 }} rows stored before its window (from carry_start), whatever the history length
-- (macros/incremental_carry.sql).

with window_bars as (
    select
        candles.symbol,
        candles.bucket_start,
        candles.close,
        candles.minute_count,
        candles.volume_lots,
        candles.turnover_quote,
        returns.hours_since_previous_bar,
        returns.simple_return_1
    from {{ ref("int_candles_1h") }} as candles
    inner join {{ ref("int_returns_1h") }} as returns
        on returns.symbol = candles.symbol
        and returns.bucket_start = candles.bucket_start
    where {{ in_build_window("candles.bucket_start") }}
      and {{ in_build_window("returns.bucket_start") }}
),

window_minutes as (
    select
        symbol,
        {{ bucket_of("open_time", "1 hour") }} as bucket_start,
        open_time,
        high,
        low,
        close
    from {{ ref("stg_kucoin__candles_1m") }}
    where {{ in_build_window("open_time") }}
),

minute_neighbours as (
    -- each minute with the one and two minutes before it in its hour, when present: one window
    -- over the contract's minutes in time order (the candles' key order), not one per hour
    select
        symbol,
        bucket_start,
        high,
        low,
        close,
        lag(open_time) over contract_minutes = open_time - interval '1 minute'
            and open_time - interval '1 minute' >= bucket_start as follows_previous_minute,
        lag(open_time, 2) over contract_minutes = open_time - interval '2 minutes'
            and open_time - interval '2 minutes' >= bucket_start as follows_two_previous_minutes,
        lag(high) over contract_minutes as previous_high,
        lag(low) over contract_minutes as previous_low,
        lag(close) over contract_minutes as previous_close,
        lag(close, 2) over contract_minutes as second_previous_close
    from window_minutes
    window contract_minutes as (partition by symbol order by open_time)
),

minute_pairs as (
    -- the Corwin-Schultz terms of each pair (t - 1, t) and the Roll log changes of each triple
    -- (t - 2, t - 1, t); null where the minutes are not consecutive in the hour
    select
        symbol,
        bucket_start,
        follows_previous_minute,
        follows_two_previous_minutes,
        case when follows_previous_minute then power(ln(previous_high / previous_low), 2) + power(ln(high / low), 2) end as beta,
        case when follows_previous_minute then power(ln(greatest(previous_high, high) / least(previous_low, low)), 2) end as gamma,
        case when follows_two_previous_minutes then ln(close / previous_close) end as close_change,
        case when follows_two_previous_minutes then ln(previous_close / second_previous_close) end as previous_close_change
    from minute_neighbours
    offset 0  -- a fence: each term computed once per minute, not again in every expression that reads it
),

pair_spreads as (
    select
        minute_pairs.symbol,
        minute_pairs.bucket_start,
        minute_pairs.follows_previous_minute,
        minute_pairs.follows_two_previous_minutes,
        minute_pairs.close_change,
        minute_pairs.previous_close_change,
        2 * (exp(estimate.alpha) - 1) / (1 + exp(estimate.alpha)) as spread
    from minute_pairs
    cross join lateral (
        select
            (sqrt(2 * beta) - sqrt(beta)) / (3 - 2 * sqrt(2::double precision))
            - sqrt(gamma / (3 - 2 * sqrt(2::double precision))) as alpha
    ) as estimate
    offset 0  -- the same fence: the spread computed once per pair, not in each of the three averages
),

minute_pair_hours as (
    -- both estimators of each hour in one grouping of its minutes
    select
        symbol,
        bucket_start,
        (count(*) filter (where follows_previous_minute))::integer as corwin_schultz_pair_count,
        avg(greatest(spread, 0)) filter (where follows_previous_minute) as corwin_schultz_spread,
        avg(spread) filter (where follows_previous_minute) as corwin_schultz_spread_signed,
        avg(case when spread < 0 then 1.0::double precision else 0.0::double precision end)
            filter (where follows_previous_minute) as corwin_schultz_negative_share,
        (count(*) filter (where follows_two_previous_minutes))::integer as roll_pair_count,
        covar_samp(close_change, previous_close_change) filter (where follows_two_previous_minutes) as roll_autocovariance
    from pair_spreads
    group by symbol, bucket_start
),

window_open_interest as (
    select
        symbol,
        {{ bucket_of("observed_at", "1 hour") }} as bucket_start,
        count(*)::integer as point_count,
        sum(open_interest_lots) as lots_sum
    from {{ ref("stg_kucoin__open_interest") }}
    where {{ in_build_window("observed_at") }}
    group by 1, 2
),

{% if is_incremental() %}
carried_state as (
    {{ stored_state("window_bars", ["symbol", "bucket_start", "carry_start"]) }}
),

carried_rows as (
    {{ stored_rows_before_window("carried_state", ["symbol", "bucket_start", "volume_lots", "turnover_quote", "amihud_illiquidity",
                                                   "open_interest_point_count", "open_interest_lots_sum"]) }}
),

continuous_symbols as (
    {{ continuous_symbols("window_bars", "carried_state") }}
),
{% endif %}

series as (
    select
        window_bars.symbol,
        window_bars.bucket_start,
        window_bars.volume_lots,
        window_bars.turnover_quote,
        case
            when window_bars.hours_since_previous_bar = 1 and window_bars.turnover_quote > 0
                then abs(window_bars.simple_return_1) / window_bars.turnover_quote::double precision * 1e6::double precision
        end as amihud_illiquidity,
        coalesce(window_open_interest.point_count, 0) as open_interest_point_count,
        window_open_interest.lots_sum as open_interest_lots_sum,
        true as is_rebuilt
    from window_bars
    left join window_open_interest
        on window_open_interest.symbol = window_bars.symbol
        and window_open_interest.bucket_start = window_bars.bucket_start
    {%- if is_incremental() %}
    where window_bars.symbol in (select symbol from continuous_symbols)
    union all
    select
        symbol, bucket_start, volume_lots, turnover_quote, amihud_illiquidity, open_interest_point_count,
        open_interest_lots_sum, false as is_rebuilt
    from carried_rows
    {%- endif %}
),

frames as (
    -- over the whole series (carried rows included)
    select
        symbol,
        bucket_start,
        amihud_illiquidity,
        open_interest_point_count,
        open_interest_lots_sum,
        is_rebuilt,
        {{ carry_start(n - 1) }} as carry_start,
        count(*) over last_bars = {{ n }} as is_frame_full,
        avg(amihud_illiquidity) over last_bars as amihud_illiquidity_mean,
        count(amihud_illiquidity) over last_bars as amihud_observation_count,
        sum(turnover_quote) over last_bars as turnover_quote_sum,
        sum(volume_lots) over last_bars as volume_lots_sum,
        sum(open_interest_point_count) over last_bars as open_interest_point_count_sum,
        sum(open_interest_lots_sum) over last_bars as open_interest_lots_frame_sum
    from series
    window last_bars as (partition by symbol order by bucket_start rows between {{ n - 1 }} preceding and current row)
)

select
    window_bars.symbol,
    window_bars.bucket_start,
    window_bars.close,
    window_bars.minute_count,
    coalesce(pairs.corwin_schultz_pair_count, 0) as corwin_schultz_pair_count,
    case when pairs.corwin_schultz_pair_count >= {{ min_pairs }} then pairs.corwin_schultz_spread end as corwin_schultz_spread,
    case when pairs.corwin_schultz_pair_count >= {{ min_pairs }} then pairs.corwin_schultz_spread_signed end as corwin_schultz_spread_signed,
    case when pairs.corwin_schultz_pair_count >= {{ min_pairs }} then pairs.corwin_schultz_negative_share end as corwin_schultz_negative_share,
    coalesce(pairs.roll_pair_count, 0) as roll_pair_count,
    case when pairs.roll_pair_count >= {{ min_pairs }} then pairs.roll_autocovariance end as roll_autocovariance,
    case
        when pairs.roll_pair_count >= {{ min_pairs }} and pairs.roll_autocovariance < 0 then 2 * sqrt(-pairs.roll_autocovariance)
    end as roll_spread,
    window_bars.volume_lots,
    window_bars.turnover_quote,
    frames.amihud_illiquidity,
    case when frames.is_frame_full then frames.amihud_illiquidity_mean end as amihud_illiquidity_{{ n }},
    case when frames.is_frame_full then frames.amihud_observation_count::integer end as amihud_observation_count_{{ n }},
    case when frames.is_frame_full then frames.turnover_quote_sum end as turnover_quote_{{ n }},
    case when frames.is_frame_full then frames.volume_lots_sum end as volume_lots_{{ n }},
    frames.open_interest_point_count,
    frames.open_interest_lots_sum,
    case when frames.is_frame_full then frames.open_interest_point_count_sum::integer end as open_interest_point_count_{{ n }},
    case
        when frames.is_frame_full then frames.open_interest_lots_frame_sum / nullif(frames.open_interest_point_count_sum, 0)
    end as open_interest_mean_lots_{{ n }},
    case
        when frames.is_frame_full
            then frames.volume_lots_sum::double precision
                / nullif(frames.open_interest_lots_frame_sum / nullif(frames.open_interest_point_count_sum, 0), 0)
    end as open_interest_turnover_{{ n }},
    frames.carry_start
from frames
inner join window_bars
    on window_bars.symbol = frames.symbol
    and window_bars.bucket_start = frames.bucket_start
left join minute_pair_hours as pairs
    on pairs.symbol = frames.symbol
    and pairs.bucket_start = frames.bucket_start
where frames.is_rebuilt
