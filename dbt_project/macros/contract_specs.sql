{#-
    The contract spec in force at a moment: the latest raw.contracts snapshot of the contract at or
    before it, else (a moment before the contract's first snapshot) its earliest snapshot. Lots are
    converted with it: a linear lot is lot_base_quantity base units, an inverse lot lot_usd_value
    (1) USD (stg_kucoin__contracts).
-#}

{% macro contract_spec_in_force(symbol, at) -%}
    {#- A lateral subquery of one row (none when the contract has no snapshot at all): snapshot_time,
        is_inverse, lot_base_quantity, lot_usd_value and batch_id of the spec of `symbol` in force
        at `at` (SQL expressions of the outer query). Two probes of the (symbol, snapshot_time)
        key; join it with `left join ... on true`. -#}
    lateral (
        select candidates.snapshot_time, candidates.is_inverse, candidates.lot_base_quantity,
               candidates.lot_usd_value, candidates.batch_id
        from (
            (
                select 1 as preference, c.snapshot_time, c.is_inverse, c.lot_base_quantity, c.lot_usd_value, c.batch_id
                from {{ ref("stg_kucoin__contracts") }} as c
                where c.symbol = {{ symbol }}
                  and c.snapshot_time <= {{ at }}
                order by c.snapshot_time desc
                limit 1
            )
            union all
            (
                select 2 as preference, c.snapshot_time, c.is_inverse, c.lot_base_quantity, c.lot_usd_value, c.batch_id
                from {{ ref("stg_kucoin__contracts") }} as c
                where c.symbol = {{ symbol }}
                order by c.snapshot_time
                limit 1
            )
        ) as candidates
        order by candidates.preference
        limit 1
    )
{%- endmacro %}

{% macro contract_spec_intervals(rows) %}
    {#- Select of the contract specs in force during each (symbol, bucket_start) UTC hour of the
        relation `rows`, as intervals [valid_from, valid_to) that tile the hour: the spec in force
        at the hour's start (contract_spec_in_force), then each snapshot taken inside the hour from
        its snapshot_time on. A row observed at t in the hour joins the interval holding t
        (in_spec_interval), i.e. the latest snapshot at or before t, else the contract's earliest:
        the spec in force at t, for one probe and one short range read per contract-hour instead of
        one probe per row (trades come by the thousand an hour). -#}
    select
        spec_starts.symbol,
        spec_starts.bucket_start,
        spec_starts.valid_from,
        coalesce(
            lead(spec_starts.valid_from) over (partition by spec_starts.symbol, spec_starts.bucket_start order by spec_starts.valid_from),
            spec_starts.bucket_start + interval '1 hour'
        ) as valid_to,
        spec_starts.snapshot_time,
        spec_starts.is_inverse,
        spec_starts.lot_base_quantity,
        spec_starts.lot_usd_value,
        spec_starts.batch_id
    from (
        select
            hours.symbol, hours.bucket_start, hours.bucket_start as valid_from, in_force.snapshot_time,
            in_force.is_inverse, in_force.lot_base_quantity, in_force.lot_usd_value, in_force.batch_id
        from (select distinct symbol, bucket_start from {{ rows }}) as hours
        left join {{ contract_spec_in_force("hours.symbol", "hours.bucket_start") }} as in_force on true
        union all
        select
            hours.symbol, hours.bucket_start, snapshots.snapshot_time as valid_from, snapshots.snapshot_time,
            snapshots.is_inverse, snapshots.lot_base_quantity, snapshots.lot_usd_value, snapshots.batch_id
        from (select distinct symbol, bucket_start from {{ rows }}) as hours
        inner join {{ ref("stg_kucoin__contracts") }} as snapshots
            on snapshots.symbol = hours.symbol
            and snapshots.snapshot_time > hours.bucket_start
            and snapshots.snapshot_time < hours.bucket_start + interval '1 hour'
    ) as spec_starts
{% endmacro %}

{% macro in_spec_interval(rows, time_column, intervals="spec_intervals") -%}
    {#- Join condition: the interval of `intervals` (contract_spec_intervals) holding the row of
        `rows` observed at `time_column`. -#}
    {{ intervals }}.symbol = {{ rows }}.symbol
        and {{ intervals }}.bucket_start = {{ rows }}.bucket_start
        and {{ rows }}.{{ time_column }} >= {{ intervals }}.valid_from
        and {{ rows }}.{{ time_column }} < {{ intervals }}.valid_to
{%- endmacro %}

{% macro lots_in_quote(lots, price, spec) -%}
    {#- Value in quote currency (numeric, exact) of `lots` at `price` with the spec columns of the
        relation `spec`: linear lots x lot_base_quantity x price, inverse lots x lot_usd_value. -#}
    case
        when {{ spec }}.is_inverse then {{ lots }}::numeric * {{ spec }}.lot_usd_value::numeric
        else {{ lots }}::numeric * {{ spec }}.lot_base_quantity::numeric * {{ price }}::numeric
    end
{%- endmacro %}

{% macro lots_in_base(lots, price, spec) -%}
    {#- Quantity in base currency (numeric) of `lots` at `price`: linear lots x lot_base_quantity
        (exact), inverse lots x lot_usd_value / price (a numeric quotient). -#}
    case
        when {{ spec }}.is_inverse then {{ lots }}::numeric * {{ spec }}.lot_usd_value::numeric / nullif({{ price }}, 0)::numeric
        else {{ lots }}::numeric * {{ spec }}.lot_base_quantity::numeric
    end
{%- endmacro %}
