{#-
    SQL functions and aggregates the models call, kept in their own schema (zmart_fn) and
    (re)created by the on-run-start hook of every invocation, so the definitions in this file
    are always the ones in use. Creation is serialised with an advisory lock: concurrent dbt
    invocations (several Dagster runs) would otherwise race on the catalog rows.

    Wilder smoothing, operation for operation as the TA-Lib C library (0.8.x) computes it:
        the first `period` inputs are summed in order and the sum is multiplied by 1/period
        (the simple mean); every later input x gives  avg = (avg * (period - 1) + x) * (1/period).
    TA-Lib multiplies by the reciprocal rather than dividing; mathematically the same as
    (prev*13 + x)/14, and doing it the same way makes PostgreSQL's doubles equal TA-Lib's exactly.

    The aggregate's state is a double precision[] {n, value}: n inputs consumed so far, value the
    running sum while n < period and the smoothed average from n = period on. The third argument
    seeds the recursion: an incremental run passes the state stored on the last row before its
    window, so the smoothing continues exactly where the previous run stopped.

    The indicator functions and aggregates (EMA, TA-Lib's running sums, ATR's Wilder average,
    directional movement, money flow, exact fused multiply-add) are in indicator_functions.sql,
    created within the same transaction.
-#}
{% macro create_zmart_functions() %}
begin;
select pg_advisory_xact_lock(hashtext('zmart_fn'));
-- Created only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when
-- the schema exists, which zmart_transform does not have (docs/security.md).
do $$ begin
    if to_regnamespace('zmart_fn') is null then
        create schema zmart_fn;
    end if;
end $$;
comment on schema zmart_fn is 'SQL functions and aggregates used by the zmart dbt models; recreated by every dbt invocation (on-run-start).';

create or replace function zmart_fn.wilder_smooth_step(
    state double precision[], x double precision, period integer, seed double precision[])
returns double precision[]
language plpgsql immutable parallel safe
as $fn$
declare
    n double precision;
begin
    if state is null then
        if period is null or period < 1 then
            raise exception 'wilder_smooth: period must be a positive integer, got %', period;
        end if;
        state := coalesce(seed, array[0, 0]::double precision[]);
    end if;
    if x is null then
        return state;  -- nulls (e.g. the first bar's missing price change) are skipped
    end if;
    n := state[1] + 1;
    if n < period then
        return array[n, state[2] + x];
    elsif n = period then
        return array[n, (state[2] + x) * (1.0::double precision / period)];
    else
        return array[n, (state[2] * (period - 1) + x) * (1.0::double precision / period)];
    end if;
end;
$fn$;
comment on function zmart_fn.wilder_smooth_step(double precision[], double precision, integer, double precision[]) is
    'Transition function of zmart_fn.wilder_smooth.';

create or replace aggregate zmart_fn.wilder_smooth(double precision, integer, double precision[]) (
    sfunc = zmart_fn.wilder_smooth_step,
    stype = double precision[]
);
comment on aggregate zmart_fn.wilder_smooth(double precision, integer, double precision[]) is
    'Wilder smoothing of x with the given period, as TA-Lib computes it; use as an ordered window function. '
    'Returns the state {n, value}: value is the running sum while n < period, then the smoothed average. '
    'The third argument is the state to continue from (null: start afresh).';

create or replace function zmart_fn.wilder_value(state double precision[], period integer)
returns double precision
language sql immutable parallel safe
as $fn$ select case when $1[1] >= $2 then $1[2] end $fn$;
comment on function zmart_fn.wilder_value(double precision[], integer) is
    'The smoothed average held by a wilder_smooth state, or null during the warm-up (fewer than period inputs).';

create or replace function zmart_fn.rsi(avg_gain double precision, avg_loss double precision)
returns double precision
language sql immutable parallel safe
as $fn$
    -- TA-Lib 0.8 tests the sum for exactly 0 (both averages are >= 0); its former band of
    -- +-1e-8 zeroed the RSI of contracts quoted below ~1e-7
    select case
        when $1 + $2 = 0 then 0.0::double precision
        else 100.0 * ($1 / ($1 + $2))
    end
$fn$;
comment on function zmart_fn.rsi(double precision, double precision) is
    'Relative strength index from Wilder-smoothed average gain and loss, as TA-Lib computes it (0 when both are 0).';

create or replace aggregate zmart_fn.array_cat_agg(anycompatiblearray) (
    sfunc = array_cat,
    stype = anycompatiblearray
);
comment on aggregate zmart_fn.array_cat_agg(anycompatiblearray) is
    'Concatenation of arrays (array_agg would build a 2-D array); usable over a window frame.';

create or replace function zmart_fn.sorted_distinct(ids bigint[])
returns bigint[]
language sql immutable parallel safe
as $fn$ select coalesce(array(select distinct id from unnest($1) as id where id is not null order by id), '{}') $fn$;
comment on function zmart_fn.sorted_distinct(bigint[]) is 'The distinct non-null elements of an array, ascending.';

create or replace function zmart_fn.assert_true(condition boolean, message text)
returns boolean
language plpgsql volatile
as $fn$
begin
    if condition is not true then
        raise exception '%', message using errcode = 'data_exception';
    end if;
    return true;
end;
$fn$;
comment on function zmart_fn.assert_true(boolean, text) is
    'Returns true, or fails the statement with message when condition is not true (guards inside model SQL).';

{{ create_indicator_functions() }}
commit;
{% endmacro %}
