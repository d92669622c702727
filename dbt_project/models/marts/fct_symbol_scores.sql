{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "score_time", "algorithm_version"],
        incremental_predicates=[window_delete_predicate("score_time", shift="1 hour")],
        on_schema_change="fail",
        post_hook=["analyze {{ this }}", "{{ record_algorithm_versions() }}"],
        indexes=[
            {"columns": ["symbol", "score_time", "algorithm_version"], "unique": true},
            {"columns": ["score_time", "algorithm_version"]},
        ],
    )
}}
{%- set components = score_components() -%}
{#- the bars' batches, and those of each component with raw inputs of its own (sentiment) when the version weighs it -#}
{%- set score_batch_ids = ["window_components.input_batch_ids"] -%}
{%- for name, c in components.items() if "batch_ids" in c -%}
    {%- do score_batch_ids.append("case when versions." ~ name ~ "_weight > 0 then window_components." ~ name ~ "_batch_ids end") -%}
{%- endfor -%}
-- One score per contract, hour and scoring algorithm version, published at the end of the hour
-- (score_time = bucket_start + 1h), for every active version of seed scoring_algorithms (status
-- not 'retired') in the same run, from the raw components of int_score_components_1h.
-- A version (seeds scoring_algorithm_weights and scoring_algorithm_parameters, validated first:
-- a broken rule fails the statement naming seed, version and rule) chooses:
--   component_measures  primary: each component is its primary measure (<component>_primary);
--                       combined: the mean of its measures (<component>)
--   min_component_confidence  a component is present when its value is defined and its
--                       confidence >= this
--   min_present_weight, min_composite_confidence  a row is eligible when its bar is complete,
--                       the weights of its present components sum to >= min_present_weight and
--                       composite_confidence = sum over present components of weight x
--                       confidence >= min_composite_confidence
--   normalisation       each present component of the eligible rows of the version and
--                       score_time, oriented so that higher is better (risk negated), becomes
--                       percent_rank: its percent_rank() among them (0 lowest, 1 highest;
--                       0 when alone); zscore: z = (x - mean) / sample stddev among them,
--                       clipped to +-winsorisation_limit L and mapped to (z + L) / (2 L) in
--                       [0, 1]; 0.5 when the stddev is 0 or undefined (one row)
-- composite_score = sum over present components of weight x score / sum of their weights: the
-- weights renormalise over the present components (e.g. v2 without sentiment divides by 0.9).
-- Only the window's rows are rebuilt, of every active version.

with valid_seeds as (
    -- true, or the statement fails listing every broken rule of the three seeds; read by the two
    -- CTEs below in their where clauses, i.e. before any seed value is cast or used
    select {{ assert_scoring_seeds_are_valid() }} as is_valid
),

version_weights as (
    select
        algorithms.algorithm_version,
        {%- for name in components %}
        max(weights.weight) filter (where weights.component = '{{ name }}') as {{ name }}_weight,
        {%- endfor %}
        max(weights.weight) as max_weight
    from {{ ref("scoring_algorithms") }} as algorithms
    inner join {{ ref("scoring_algorithm_weights") }} as weights
        on weights.algorithm_version = algorithms.algorithm_version
    where algorithms.status <> 'retired'
      and (select is_valid from valid_seeds)
    group by algorithms.algorithm_version
),

version_parameters as (
    select
        algorithm_version,
        max(value) filter (where parameter = 'component_measures') as component_measures,
        max(value) filter (where parameter = 'normalisation') as normalisation,
        max(value::double precision) filter (where parameter = 'winsorisation_limit') as winsorisation_limit,
        max(value::double precision) filter (where parameter = 'min_component_confidence') as min_component_confidence,
        max(value::double precision) filter (where parameter = 'min_composite_confidence') as min_composite_confidence,
        max(value::numeric) filter (where parameter = 'min_present_weight') as min_present_weight
    from {{ ref("scoring_algorithm_parameters") }}
    where (select is_valid from valid_seeds)
    group by algorithm_version
),

version_hashes as (
    {{ algorithm_parameter_hashes() }}
),

versions as (
    select *
    from version_weights
    inner join version_parameters using (algorithm_version)
    inner join version_hashes using (algorithm_version)
),

window_components as (
    select *
    from {{ ref("int_score_components_1h") }}
    where {{ in_build_window("bucket_start") }}
),

version_components as (
    -- each bar once per version, with the component values and confidences the version uses
    select
        window_components.symbol,
        window_components.score_time,
        window_components.bucket_start,
        window_components.is_complete,
        window_components.close,
        window_components.sma_20,
        window_components.rsi_14,
        window_components.turnover_quote_24h,
        window_components.data_window_start,
        window_components.data_window_end,
        {{ merge_batch_ids(score_batch_ids) }} as input_batch_ids,
        versions.algorithm_version,
        versions.parameters_hash,
        versions.normalisation,
        versions.winsorisation_limit,
        versions.min_component_confidence,
        versions.min_composite_confidence,
        versions.min_present_weight,
        {%- for name, c in components.items() %}
        versions.{{ name }}_weight,
        {%- if "primary" in c %}
        case versions.component_measures when 'primary' then window_components.{{ name }}_primary else window_components.{{ name }} end as {{ name }},
        case versions.component_measures when 'primary' then window_components.{{ name }}_primary_confidence else window_components.{{ name }}_confidence end as {{ name }}_confidence{{ "," if not loop.last }}
        {%- else %}
        window_components.{{ name }},
        window_components.{{ name }}_confidence{{ "," if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from window_components
    cross join versions
),

present_components as (
    select
        version_components.*,
        {%- for name in components %}
        {{ name }} is not null and {{ name }}_confidence >= min_component_confidence as is_{{ name }}_present,
        {%- endfor %}
        {%- for name in components %}
        case when {{ name }} is not null and {{ name }}_confidence >= min_component_confidence then coalesce({{ name }}_weight, 0) else 0 end{{ " +" if not loop.last }}
        {%- endfor %} as present_weight,
        {%- for name in components %}
        case when {{ name }} is not null and {{ name }}_confidence >= min_component_confidence
            then coalesce({{ name }}_weight::double precision * {{ name }}_confidence, 0) else 0 end{{ " +" if not loop.last }}
        {%- endfor %} as composite_confidence
    from version_components
),

eligible_components as (
    select
        present_components.*,
        coalesce(is_complete, false)
            and present_weight >= min_present_weight
            and composite_confidence >= min_composite_confidence as is_eligible
    from present_components
),

normalised_components as (
    -- per version and score_time, among the eligible rows where the component is present (the
    -- other partitions are computed too and discarded below)
    select
        eligible_components.*,
        {%- for name, c in components.items() %}
        {%- set oriented = name if c["sign"] == 1 else "-" ~ name %}
        {%- set partition = "partition by algorithm_version, score_time, is_eligible, is_" ~ name ~ "_present" %}
        {#- the moments over the whole partition in symbol order: the same additions in the same
            order whatever the plan, so windows reproduce a full refresh bit for bit #}
        {%- set whole = partition ~ " order by symbol rows between unbounded preceding and unbounded following" %}
        case normalisation
            when 'percent_rank' then percent_rank() over ({{ partition }} order by {{ oriented }})
            -- a case, not coalesce: least()/greatest() ignore nulls, so an undefined z (one row,
            -- or no dispersion) would clip to the limit instead of falling back to 0.5
            when 'zscore' then case
                when stddev_samp({{ oriented }}) over ({{ whole }}) > 0 then
                    (greatest(least(({{ oriented }} - avg({{ oriented }}) over ({{ whole }}))
                        / stddev_samp({{ oriented }}) over ({{ whole }}), winsorisation_limit), -winsorisation_limit)
                     + winsorisation_limit) / (2 * winsorisation_limit)
                else 0.5
            end
        end as {{ name }}_normalised,
        {%- endfor %}
        count(*) over (partition by algorithm_version, score_time, is_eligible) as universe_size
    from eligible_components
),

component_scores as (
    select
        normalised_components.*,
        {%- for name in components %}
        case when is_eligible and is_{{ name }}_present then {{ name }}_normalised end as {{ name }}_score{{ "," if not loop.last }}
        {%- endfor %}
    from normalised_components
)

select
    symbol,
    score_time,
    algorithm_version,
    parameters_hash,
    bucket_start,
    close,
    sma_20,
    rsi_14,
    turnover_quote_24h,
    {%- for name in components %}
    {{ name }},
    {{ name }}_confidence,
    {{ name }}_score,
    {%- endfor %}
    -- in component order; a component the version does not weigh, or that is absent, adds nothing
    case when is_eligible then (
        {%- for name in components %}
        coalesce({{ name }}_weight::double precision * {{ name }}_score, 0){{ " +" if not loop.last }}
        {%- endfor %}
    ) / present_weight::double precision end as composite_score,
    composite_confidence,
    is_eligible,
    case when is_eligible then universe_size::integer end as ranked_universe_size,
    data_window_start,
    data_window_end,
    input_batch_ids
from component_scores
