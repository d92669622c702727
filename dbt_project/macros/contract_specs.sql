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
