{#-
    SQL functions and aggregates of the indicator models (int_indicators_1h_*), created in schema
    zmart_fn by create_zmart_functions() (the on-run-start hook), inside its transaction.

    Each reproduces the arithmetic of the TA-Lib C library that the ta-lib Python package 0.8.x
    ships, operation by operation where the result depends on it, so that the indicators equal
    TA-Lib's to 1e-9 relative (the tests show most of them bit for bit). The notes next to each
    function say which TA-Lib function it serves and what exactly it computes; the recursive ones
    take a `seed` state so that an incremental run continues the recursion from the state stored
    on the last row before its window (a null seed starts afresh).

    Floating point: PostgreSQL evaluates every double precision operation separately, rounding
    each result (no fused multiply-add). Where TA-Lib fuses a*b + c into one rounding (its EMA),
    zmart_fn.fma computes the exactly rounded fused result through exact numeric arithmetic.
-#}
{% macro create_indicator_functions() %}
create or replace function zmart_fn.float8_exact(x double precision)
returns numeric
language plpgsql immutable strict parallel safe
as $fn$
declare
    bits bigint := ('x' || encode(float8send(x), 'hex'))::bit(64)::bigint;
    biased_exponent integer := ((bits >> 52) & 2047)::integer;
    mantissa bigint := bits & 4503599627370495;  -- the 52 fraction bits
    exponent integer;
    magnitude numeric;
begin
    if biased_exponent = 2047 then
        raise exception 'float8_exact: % is not a finite number', x;
    end if;
    if biased_exponent = 0 then
        exponent := -1074;  -- zero and subnormals
    else
        mantissa := mantissa | 4503599627370496;  -- the implicit leading bit
        exponent := biased_exponent - 1075;
    end if;
    -- x = mantissa * 2^exponent; 2^-k = 5^k * 10^-k is an exact decimal
    if exponent >= 0 then
        magnitude := mantissa::numeric * 2::numeric ^ exponent;
    else
        magnitude := (mantissa::numeric * 5::numeric ^ (-exponent)) * ('1e' || exponent)::numeric;
    end if;
    return case when bits < 0 then -magnitude else magnitude end;
end;
$fn$;
comment on function zmart_fn.float8_exact(double precision) is
    'The exact value of a double as numeric (a cast rounds to 15 significant digits).';

create or replace function zmart_fn.fma(a double precision, b double precision, c double precision)
returns double precision
language sql immutable strict parallel safe
as $fn$
    -- exact product and sum in numeric, rounded once to the nearest double (numeric -> double
    -- goes through the decimal text and strtod, which rounds correctly)
    select (zmart_fn.float8_exact(a) * zmart_fn.float8_exact(b) + zmart_fn.float8_exact(c))::double precision
$fn$;
comment on function zmart_fn.fma(double precision, double precision, double precision) is
    'Fused multiply-add: a * b + c rounded once, as C fma() (TA-Lib fuses its EMA update).';

-- Moving sum in TA-Lib's running form (TA_INT_SMA, also STOCH's %K/%D smoothing, MFI's sums):
-- the sum slides by subtracting the value leaving the window, then adding the one entering,
--     s_t = (s_{t-1} - x_out) + x_in,   starting from 0.0 (or the seed),
-- where x_out is the input `period` bars back (null while the window is filling: nothing
-- leaves). The rounding of these running sums (e.g. a residue of -1.9e-14 where a window of
-- zeros "should" sum to 0) is part of TA-Lib's output, so it is reproduced, not improved on.
create or replace function zmart_fn.moving_sum_step(
    state double precision, x_in double precision, x_out double precision, seed double precision)
returns double precision
language plpgsql immutable parallel safe
as $fn$
begin
    state := coalesce(state, seed, 0.0);
    if x_out is not null then
        state := state - x_out;
    end if;
    if x_in is not null then
        state := state + x_in;
    end if;
    return state;
end;
$fn$;
create or replace aggregate zmart_fn.moving_sum(double precision, double precision, double precision) (
    sfunc = zmart_fn.moving_sum_step,
    stype = double precision
);
comment on aggregate zmart_fn.moving_sum(double precision, double precision, double precision) is
    'TA-Lib''s running window sum: moving_sum(x_in, x_out, seed) over an ordered window is '
    '(previous - x_out) + x_in from 0.0 (or seed); x_out = the input leaving the window (null: none).';

-- EMA as TA-Lib computes it (TA_EMA / TA_INT_EMA, default compatibility): the first `period`
-- inputs are summed in order from 0.0 and divided by period (their SMA, TA-Lib's seed); every
-- later input x gives  ema = fma(x - ema, k, ema)  with k = 2.0 / (period + 1), i.e.
-- ((x - ema) * k) + ema rounded once, as TA-Lib 0.8's fused build computes it.
-- State {n, value}: n inputs consumed; value the running sum while n < period, then the EMA.
-- Null inputs are skipped (MACD's fast EMA starts later, see int_indicators_1h_macd).
create or replace function zmart_fn.ema_step(
    state double precision[], x double precision, period integer, seed double precision[])
returns double precision[]
language plpgsql immutable parallel safe
as $fn$
declare
    n double precision;
begin
    if state is null then
        if period is null or period < 1 then
            raise exception 'ema: period must be a positive integer, got %', period;
        end if;
        state := coalesce(seed, array[0, 0]::double precision[]);
    end if;
    if x is null then
        return state;
    end if;
    n := state[1] + 1;
    if n < period then
        return array[n, state[2] + x];
    elsif n = period then
        return array[n, (state[2] + x) / period];
    else
        return array[n, zmart_fn.fma(x - state[2], 2.0::double precision / (period + 1), state[2])];
    end if;
end;
$fn$;
create or replace aggregate zmart_fn.ema(double precision, integer, double precision[]) (
    sfunc = zmart_fn.ema_step,
    stype = double precision[]
);
comment on aggregate zmart_fn.ema(double precision, integer, double precision[]) is
    'TA-Lib EMA of x (seeded with the SMA of the first period inputs); use as an ordered window '
    'function. Returns the state {n, value}; the third argument is the state to continue from.';

create or replace function zmart_fn.ema_value(state double precision[], period integer)
returns double precision
language sql immutable parallel safe
as $fn$ select case when $1[1] >= $2 then $1[2] end $fn$;
comment on function zmart_fn.ema_value(double precision[], integer) is
    'The EMA held by an ema state, or null during the warm-up (fewer than period inputs).';

-- Wilder's average as TA-Lib's ATR computes it (TA_ATR): the first `period` inputs summed in
-- order from 0.0 and divided by period, then  avg = (avg * (period - 1) + x) / period  (three
-- separately rounded operations). State {n, value} as zmart_fn.wilder_smooth (RSI's variant,
-- which multiplies by 1/period instead of dividing); wilder_value reads both.
create or replace function zmart_fn.wilder_average_step(
    state double precision[], x double precision, period integer, seed double precision[])
returns double precision[]
language plpgsql immutable parallel safe
as $fn$
declare
    n double precision;
begin
    if state is null then
        if period is null or period < 1 then
            raise exception 'wilder_average: period must be a positive integer, got %', period;
        end if;
        state := coalesce(seed, array[0, 0]::double precision[]);
    end if;
    if x is null then
        return state;  -- the first bar has no true range
    end if;
    n := state[1] + 1;
    if n < period then
        return array[n, state[2] + x];
    elsif n = period then
        return array[n, (state[2] + x) / period];
    else
        return array[n, (state[2] * (period - 1) + x) / period];
    end if;
end;
$fn$;
create or replace aggregate zmart_fn.wilder_average(double precision, integer, double precision[]) (
    sfunc = zmart_fn.wilder_average_step,
    stype = double precision[]
);
comment on aggregate zmart_fn.wilder_average(double precision, integer, double precision[]) is
    'Wilder''s average as TA-Lib''s ATR computes it; use as an ordered window function. Returns '
    'the state {n, value} (read it with zmart_fn.wilder_value); the third argument seeds it.';

-- WMA over a window frame (TA_WMA's definition): the i-th of the frame's n inputs weighs i,
-- sum(i * x_i) accumulated in order, divided by n (n + 1) / 2. Use over `rows between
-- period - 1 preceding and current row` and keep the value only once the frame is full.
create or replace function zmart_fn.weighted_mean_step(state double precision[], x double precision)
returns double precision[]
language plpgsql immutable parallel safe
as $fn$
declare
    n double precision := coalesce(state[1], 0) + 1;
begin
    if x is null then
        return state;
    end if;
    return array[n, coalesce(state[2], 0) + x * n];
end;
$fn$;
create or replace function zmart_fn.weighted_mean_final(state double precision[])
returns double precision
language sql immutable parallel safe
as $fn$ select $1[2] / ($1[1] * ($1[1] + 1) / 2) $fn$;
create or replace aggregate zmart_fn.weighted_mean(double precision) (
    sfunc = zmart_fn.weighted_mean_step,
    stype = double precision[],
    finalfunc = zmart_fn.weighted_mean_final
);
comment on aggregate zmart_fn.weighted_mean(double precision) is
    'Linearly weighted mean (the i-th input in order weighs i): TA-Lib''s WMA over a window frame.';

-- True range (TA_TRANGE): the greatest of high - low, |previous close - high| and
-- |previous close - low|; null on a series' first bar (no previous close).
create or replace function zmart_fn.true_range(high double precision, low double precision, previous_close double precision)
returns double precision
language sql immutable parallel safe
as $fn$ select case when $3 is not null then greatest($1 - $2, abs($3 - $1), abs($3 - $2)) end $fn$;
comment on function zmart_fn.true_range(double precision, double precision, double precision) is
    'TA-Lib''s true range: greatest(high - low, |previous close - high|, |previous close - low|); null without a previous close.';

-- Directional movement (TA_ADX, TA_PLUS_DI, TA_MINUS_DI share this recursion). Per bar after
-- the first: up = high - previous high, down = previous low - low; +DM = up when up > 0 and
-- up > down, -DM = down when down > 0 and down > up (else 0); TR = true range. The first
-- period - 1 bars' +DM, -DM and TR are summed; from bar `period` on each sum is smoothed as
--     s = (s - s / period) + today's value
-- and +DI = 100 * (+DM / TR), -DI = 100 * (-DM / TR) (0 when TR is 0), DX = 100 * |+DI - -DI| /
-- (+DI + -DI) (none when the DIs sum to 0). ADX: the mean of the first `period` DX (sum / period,
-- DX missing counts as nothing), then (adx * (period - 1) + dx) / period for each bar with a DX.
-- TA-Lib 0.8 tests those zeros exactly (its older 1e-8 band zeroed tiny-priced contracts).
-- State {n, previous high, previous low, previous close, +DM, -DM, TR, ADX (the DX sum until
-- bar 2 * period), +DI, -DI}: n bars consumed.
create or replace function zmart_fn.dmi_step(
    state double precision[], high double precision, low double precision, close double precision,
    period integer, seed double precision[])
returns double precision[]
language plpgsql immutable parallel safe
as $fn$
declare
    t double precision;  -- index of this bar in the series (0 = first)
    up_move double precision;
    down_move double precision;
    plus_dm double precision;
    minus_dm double precision;
    tr double precision;
    plus_dm_sum double precision;
    minus_dm_sum double precision;
    tr_sum double precision;
    adx double precision;
    plus_di double precision;
    minus_di double precision;
    dx double precision;
begin
    if state is null then
        if period is null or period < 2 then
            raise exception 'dmi: period must be an integer >= 2, got %', period;
        end if;
        state := coalesce(seed, array[0, null, null, null, 0, 0, 0, 0, null, null]::double precision[]);
    end if;
    if high is null or low is null or close is null then
        return state;
    end if;
    t := state[1];
    if t = 0 then
        return array[1, high, low, close, 0, 0, 0, 0, null, null]::double precision[];
    end if;
    up_move := high - state[2];
    down_move := state[3] - low;
    minus_dm := case when down_move > 0 and up_move < down_move then down_move else 0 end;
    plus_dm := case when up_move > 0 and up_move > down_move then up_move else 0 end;
    tr := zmart_fn.true_range(high, low, state[4]);
    plus_dm_sum := state[5];
    minus_dm_sum := state[6];
    tr_sum := state[7];
    adx := state[8];
    plus_di := state[9];
    minus_di := state[10];
    if t < period then
        plus_dm_sum := plus_dm_sum + plus_dm;
        minus_dm_sum := minus_dm_sum + minus_dm;
        tr_sum := tr_sum + tr;
    else
        minus_dm_sum := minus_dm_sum - minus_dm_sum / period;
        plus_dm_sum := plus_dm_sum - plus_dm_sum / period;
        if minus_dm > 0 then
            minus_dm_sum := minus_dm_sum + minus_dm;
        end if;
        if plus_dm > 0 then
            plus_dm_sum := plus_dm_sum + plus_dm;
        end if;
        tr_sum := tr_sum - tr_sum / period + tr;
        dx := null;
        if tr_sum <> 0 then
            minus_di := 100.0 * (minus_dm_sum / tr_sum);
            plus_di := 100.0 * (plus_dm_sum / tr_sum);
            if minus_di + plus_di <> 0 then
                dx := 100.0 * (abs(minus_di - plus_di) / (minus_di + plus_di));
            end if;
        else
            minus_di := 0;
            plus_di := 0;
        end if;
        if t < 2 * period then
            if dx is not null then
                adx := adx + dx;  -- the sum of the first period DX
            end if;
            if t = 2 * period - 1 then
                adx := adx / period;
            end if;
        elsif dx is not null then
            adx := (adx * (period - 1) + dx) / period;
        end if;
    end if;
    return array[t + 1, high, low, close, plus_dm_sum, minus_dm_sum, tr_sum, adx, plus_di, minus_di];
end;
$fn$;
create or replace aggregate zmart_fn.dmi(double precision, double precision, double precision, integer, double precision[]) (
    sfunc = zmart_fn.dmi_step,
    stype = double precision[]
);
comment on aggregate zmart_fn.dmi(double precision, double precision, double precision, integer, double precision[]) is
    'Directional movement as TA-Lib''s ADX / PLUS_DI / MINUS_DI compute it; dmi(high, low, close, period, seed) '
    'as an ordered window function returns the state {n, previous high, low, close, +DM, -DM, TR, ADX, +DI, -DI}.';

create or replace function zmart_fn.dmi_adx(state double precision[], period integer)
returns double precision
language sql immutable parallel safe
as $fn$ select case when $1[1] >= 2 * $2 then $1[8] end $fn$;
comment on function zmart_fn.dmi_adx(double precision[], integer) is
    'ADX from a dmi state; null during TA-Lib''s warm-up (the first 2 * period - 1 bars).';
create or replace function zmart_fn.dmi_plus_di(state double precision[], period integer)
returns double precision
language sql immutable parallel safe
as $fn$ select case when $1[1] > $2 then $1[9] end $fn$;
comment on function zmart_fn.dmi_plus_di(double precision[], integer) is
    '+DI from a dmi state; null during TA-Lib''s warm-up (the first period bars).';
create or replace function zmart_fn.dmi_minus_di(state double precision[], period integer)
returns double precision
language sql immutable parallel safe
as $fn$ select case when $1[1] > $2 then $1[10] end $fn$;
comment on function zmart_fn.dmi_minus_di(double precision[], integer) is
    '-DI from a dmi state; null during TA-Lib''s warm-up (the first period bars).';

-- Money flow sums as TA-Lib 0.8's MFI keeps them: per bar, positive_in / negative_in are the
-- bar's money flow on its side (the other 0), positive_out / negative_out those of the bar
-- `period` bars back (null while the window fills); each sum is (sum - out) + in. After `period`
-- consecutive bars without money flow both sums are reset to exactly 0 (TA-Lib drops the
-- rounding residue of an empty window). State {positive sum, negative sum, bars without flow}.
create or replace function zmart_fn.money_flow_step(
    state double precision[], positive_in double precision, negative_in double precision,
    positive_out double precision, negative_out double precision, period integer, seed double precision[])
returns double precision[]
language plpgsql immutable parallel safe
as $fn$
declare
    positive_sum double precision;
    negative_sum double precision;
    quiet_bars double precision;
begin
    if state is null then
        if period is null or period < 2 then
            raise exception 'money_flow_sums: period must be an integer >= 2, got %', period;
        end if;
        state := coalesce(seed, array[0, 0, 0]::double precision[]);
    end if;
    if positive_in is null or negative_in is null then
        return state;  -- the first bar has no price move
    end if;
    positive_sum := state[1] - coalesce(positive_out, 0);
    negative_sum := state[2] - coalesce(negative_out, 0);
    positive_sum := positive_sum + positive_in;
    negative_sum := negative_sum + negative_in;
    quiet_bars := case when positive_in = 0 and negative_in = 0 then state[3] + 1 else 0 end;
    if quiet_bars >= period then
        quiet_bars := period;
        positive_sum := 0;
        negative_sum := 0;
    end if;
    return array[positive_sum, negative_sum, quiet_bars];
end;
$fn$;
create or replace aggregate zmart_fn.money_flow_sums(
    double precision, double precision, double precision, double precision, integer, double precision[]) (
    sfunc = zmart_fn.money_flow_step,
    stype = double precision[]
);
comment on aggregate zmart_fn.money_flow_sums(double precision, double precision, double precision, double precision, integer, double precision[]) is
    'TA-Lib MFI''s running positive and negative money flow sums; money_flow_sums(positive_in, negative_in, '
    'positive_out, negative_out, period, seed) returns the state {positive sum, negative sum, bars without flow}.';

create or replace function zmart_fn.mfi(state double precision[])
returns double precision
language sql immutable parallel safe
as $fn$
    -- 100 * positive / (positive + negative), the positive sum clamped into [0, total] (the
    -- running sums can drift a few ulp below 0); 0 when the window carried no money flow
    select case
        when $1[1] + $1[2] <= 0 then 0.0::double precision
        else 100.0 * (least(greatest($1[1], 0.0), $1[1] + $1[2]) / ($1[1] + $1[2]))
    end
$fn$;
comment on function zmart_fn.mfi(double precision[]) is
    'Money flow index from a money_flow_sums state, as TA-Lib 0.8 computes it.';

-- Stochastic %K before smoothing (TA_STOCH): 100 * (close - lowest low) / (highest high -
-- lowest low) over the fast-K frame, computed as ((close - low) / (high - low)) * 100; 0 when
-- the range is zero relative to the prices (|range| <= 1e-14 * (|high| + |low|), TA-Lib's
-- scaled zero test).
create or replace function zmart_fn.stoch_raw_k(highest_high double precision, lowest_low double precision, close double precision)
returns double precision
language sql immutable parallel safe
as $fn$
    select case
        when abs($1 - $2) <= 1e-14::double precision * (abs($1) + abs($2)) then 0.0::double precision
        else (($3 - $2) / ($1 - $2)) * 100.0
    end
$fn$;
comment on function zmart_fn.stoch_raw_k(double precision, double precision, double precision) is
    'TA-Lib''s un-smoothed stochastic %K from the frame''s highest high, lowest low and the close.';
{% endmacro %}
