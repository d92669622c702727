{%- set horizons = decision_impact_horizons() -%}
-- How well each algorithm version's decisions did, per horizon, from fct_decision_impact's edges:
-- over the evaluations with at least one add and one remove, the mean edge and the hit rate
-- (share of the measured evaluations, those with an edge, whose edge > 0). Null when no
-- evaluation is measured yet. A table rebuilt each run, like fct_decision_impact.

with evaluation_edges as (
    select distinct
        evaluation_id,
        algorithm_version,
        evaluation_adds,
        evaluation_removes
        {%- for name, hours in horizons %},
        edge_{{ name }}
        {%- endfor %}
    from {{ ref("fct_decision_impact") }}
),

evaluation_batches as (
    -- lineage: every decision row of the evaluation (its scores, and its symbols' price bars)
    select evaluation_id, {{ union_batch_ids("input_batch_ids") }} as input_batch_ids
    from {{ ref("fct_decision_impact") }}
    group by evaluation_id
),

horizon_edges as (
    {%- for name, hours in horizons %}
    select algorithm_version, evaluation_id, '{{ name }}'::text as horizon, {{ hours }} as horizon_hours, edge_{{ name }} as edge, input_batch_ids
    from evaluation_edges
    inner join evaluation_batches using (evaluation_id)
    where evaluation_adds > 0 and evaluation_removes > 0
    {{ "union all" if not loop.last }}
    {%- endfor %}
)

select
    algorithm_version,
    horizon,
    horizon_hours,
    count(*)::integer as evaluations,
    count(edge)::integer as measured_evaluations,
    avg(edge) as mean_edge,
    (count(*) filter (where edge > 0))::double precision / nullif(count(edge), 0) as hit_rate,
    {{ union_batch_ids("input_batch_ids") }} as input_batch_ids
from horizon_edges
group by algorithm_version, horizon, horizon_hours
