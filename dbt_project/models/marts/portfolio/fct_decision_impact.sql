{%- set horizons = decision_impact_horizons() -%}
{%- set horizon_bar_batches = [] -%}
{%- for name, hours in horizons %}{% do horizon_bar_batches.append("end_bar_" ~ name ~ ".batch_ids") %}{% endfor -%}
-- The measured impact of every portfolio decision: one row per add / remove decision with the
-- symbol's forward returns from as_of, and per evaluation the edge of the adds over the removes.
--
-- Prices are last-trade marks from intermediate.int_candles_1h, as in fct_portfolio_history: the
-- price at time t is the close of the bar ending at t (bucket_start = t - 1 hour). The forward
-- return over h hours is
--   forward_return_h = close(bar ending at as_of + h) / close(bar ending at as_of) - 1
-- (a simple return, empyrical.simple_returns over h hours). Both bars must exist: when either is
-- missing (not loaded yet, a gap, before the listing, after a delisting) the return is null; no
-- mark is carried forward (a forward-filled price would report a return of a market not observed).
--
-- edge_h = mean forward_return_h of the evaluation's adds - mean forward_return_h of its removes
-- (equal-weighted, the manager's weights): null unless the evaluation has at least one add and one
-- remove and every one of them has a forward_return_h (no partial means, which would drop the
-- symbols whose price vanished). The same on every row of the evaluation.
--
-- A table rebuilt each run: a row's forward returns change for 7 days after as_of (as bars load),
-- so a window would have to reach a week back, and the decision history is small (a few rows an hour).

with decisions as (
    select decision_id, evaluation_id, as_of, algorithm_version, symbol, action, details, input_batch_ids
    from {{ ref("fct_decisions") }}
    where action in ('add', 'remove')
),

replacements as (
    -- what each add records it replaces (the manager's details.replaces; [] for a first portfolio)
    select
        decision_id,
        evaluation_id,
        symbol,
        array(select jsonb_array_elements_text(details -> 'replaces') order by 1) as replaces
    from decisions
    where action = 'add' and jsonb_typeof(details -> 'replaces') = 'array'
),

replaced_by as (
    -- for each remove, the adds of the same evaluation that record replacing it
    select removes.decision_id, array_agg(replacements.symbol order by replacements.symbol) as replaced_by
    from decisions as removes
    inner join replacements
        on replacements.evaluation_id = removes.evaluation_id
        and removes.symbol = any(replacements.replaces)
    where removes.action = 'remove'
    group by removes.decision_id
),

forward_returns as (
    -- the bars ending at as_of and at as_of + h, each joined by its key (symbol, bucket_start)
    select
        decisions.decision_id,
        start_bar.close as start_price,
        {{ merge_batch_ids(["decisions.input_batch_ids", "start_bar.batch_ids"] + horizon_bar_batches) }} as input_batch_ids,
        {%- for name, hours in horizons %}
        end_bar_{{ name }}.close / start_bar.close - 1 as forward_return_{{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from decisions
    left join {{ ref("int_candles_1h") }} as start_bar
        on start_bar.symbol = decisions.symbol
        and start_bar.bucket_start = decisions.as_of - interval '1 hour'
    {%- for name, hours in horizons %}
    left join {{ ref("int_candles_1h") }} as end_bar_{{ name }}
        on end_bar_{{ name }}.symbol = decisions.symbol
        and end_bar_{{ name }}.bucket_start = decisions.as_of + interval '{{ hours - 1 }} hours'
    {%- endfor %}
),

edges as (
    select
        decisions.evaluation_id,
        count(*) filter (where decisions.action = 'add')::integer as evaluation_adds,
        count(*) filter (where decisions.action = 'remove')::integer as evaluation_removes
        {%- for name, hours in horizons %},
        case
            when count(*) filter (where decisions.action = 'add') > 0
             and count(*) filter (where decisions.action = 'remove') > 0
             and count(forward_returns.forward_return_{{ name }}) = count(*)
            then avg(forward_returns.forward_return_{{ name }}) filter (where decisions.action = 'add')
                - avg(forward_returns.forward_return_{{ name }}) filter (where decisions.action = 'remove')
        end as edge_{{ name }}
        {%- endfor %}
    from decisions
    inner join forward_returns on forward_returns.decision_id = decisions.decision_id
    group by decisions.evaluation_id
)

select
    decisions.decision_id,
    decisions.evaluation_id,
    decisions.as_of,
    decisions.algorithm_version,
    decisions.symbol,
    decisions.action,
    replacements.replaces,
    replaced_by.replaced_by,
    forward_returns.start_price,
    {%- for name, hours in horizons %}
    forward_returns.forward_return_{{ name }},
    {%- endfor %}
    edges.evaluation_adds,
    edges.evaluation_removes,
    {%- for name, hours in horizons %}
    edges.edge_{{ name }},
    {%- endfor %}
    forward_returns.input_batch_ids
from decisions
inner join forward_returns on forward_returns.decision_id = decisions.decision_id
inner join edges on edges.evaluation_id = decisions.evaluation_id
left join replacements on replacements.decision_id = decisions.decision_id
left join replaced_by on replaced_by.decision_id = decisions.decision_id
