{#-
    OHLCV rollups (int_candles_5m -> 15m -> 1h -> 4h -> 1d).

    int_candles_5m converts each 1-minute candle's volume once, in numeric (exact), with the
    contract spec in force at the end of the minute's UTC hour; every longer timeframe only adds
    up the bars of the next shorter one. Sums of numeric values are exact in any order, so the
    volume and turnover of any bucket equal those of its minutes to the last digit, at every
    timeframe (tested by the generic test rolls_up_exactly).
-#}

{% macro bucket_seconds(bucket) %}
    {%- set seconds = {"5 minutes": 300, "15 minutes": 900, "1 hour": 3600, "4 hours": 14400, "1 day": 86400}.get(bucket) -%}
    {%- if seconds is none -%}
        {{ exceptions.raise_compiler_error("unknown bucket '" ~ bucket ~ "'") }}
    {%- endif -%}
    {{ return(seconds) }}
{% endmacro %}

{% macro bucket_of(column, bucket) -%}
    date_bin(interval '{{ bucket }}', {{ column }}, timestamptz '2000-01-01 00:00:00+00')
{%- endmacro %}

{% macro minute_bit(column) -%}
    {#- The bit of `column`'s minute in its hour (bit_or over an hour's candles: one bit per stored
        minute; exact for whole-minute open times, migration V0012). An hour with all 60 bits set
        equals all_minute_bits(). -#}
    (1::bigint << extract(minute from {{ column }} at time zone 'UTC')::integer)
{%- endmacro %}

{% macro all_minute_bits() -%}
    ((1::bigint << 60) - 1)
{%- endmacro %}

{% macro rollup_candles(shorter_bars, bucket) %}
{#- The bars of `bucket` ('15 minutes', '1 hour', '4 hours', '1 day') that overlap the build
    window, each from all the `shorter_bars` it contains. -#}
{%- set seconds = bucket_seconds(bucket) -%}
with window_shorter_bars as (
    select
        symbol,
        {{ bucket_of("bucket_start", bucket) }} as bucket_start,
        bucket_start as shorter_bucket_start,
        open,
        high,
        low,
        close,
        volume_lots,
        volume_base,
        turnover_quote,
        minute_count,
        is_inverse,
        contract_snapshot_time,
        batch_ids
    from {{ shorter_bars }}
    where {{ in_bucket_window("bucket_start", seconds) }}
)

select
    symbol,
    bucket_start,
    bucket_start + interval '{{ bucket }}' as bucket_end,
    (array_agg(open order by shorter_bucket_start))[1] as open,
    max(high) as high,
    min(low) as low,
    (array_agg(close order by shorter_bucket_start desc))[1] as close,
    sum(volume_lots) as volume_lots,
    sum(volume_base) as volume_base,
    sum(turnover_quote) as turnover_quote,
    sum(minute_count)::integer as minute_count,
    sum(minute_count) = {{ seconds // 60 }} as is_complete,
    bool_or(is_inverse) as is_inverse,
    max(contract_snapshot_time) as contract_snapshot_time,
    zmart_fn.sorted_distinct(zmart_fn.array_cat_agg(batch_ids)) as batch_ids
from window_shorter_bars
group by symbol, bucket_start
{% endmacro %}
