{#-
    The change history of the scoring algorithms (history.algorithm_versions, V0011).

    algorithm_parameter_hashes() is the one definition of parameters_hash, used by
    fct_symbol_scores for its rows and by record_algorithm_versions() for the ledger, so the two
    always agree. record_algorithm_versions() is fct_symbol_scores' post-hook: after every build
    of the scores it appends each active version (seed scoring_algorithms, status not 'retired')
    whose (algorithm_version, parameters_hash) the ledger does not hold yet, with its weights and
    parameters, the Dagster run (environment variable ZMART_DAGSTER_RUN_ID, set by the transformation assets) and the
    dbt invocation. Concurrent builds may both try: the primary key keeps the first (on conflict
    do nothing), and the ledger's triggers refuse any update, so a recorded row never changes.
-#}

{% macro algorithm_parameter_hashes() %}
    {#- Select of (algorithm_version, parameters_hash): md5 of the version's weight and parameter
        seed rows as lines, sorted bytewise, joined by newlines:
        '<version>|weight|<component>|<weight without trailing zeros>', '<version>|parameter|<name>|<value>'. -#}
    select algorithm_version, md5(string_agg(line, E'\n' order by line collate "C")) as parameters_hash
    from (
        select algorithm_version, algorithm_version || '|weight|' || component || '|' || trim_scale(weight)::text as line
        from {{ ref("scoring_algorithm_weights") }}
        union all
        select algorithm_version, algorithm_version || '|parameter|' || parameter || '|' || value
        from {{ ref("scoring_algorithm_parameters") }}
    ) as lines
    group by algorithm_version
{% endmacro %}

{% macro record_algorithm_versions() %}
    {#- read at execution only (a hook), so the run id never enters dbt's saved parse -#}
    {%- set run_id = env_var("ZMART_DAGSTER_RUN_ID", "") if execute else "" -%}
    insert into history.algorithm_versions (
        algorithm_version, parameters_hash, weights, parameters, status, description, dagster_run_id, dbt_invocation_id)
    select
        algorithms.algorithm_version,
        hashes.parameters_hash,
        (select jsonb_object_agg(weights.component, weights.weight order by weights.component)
         from {{ ref("scoring_algorithm_weights") }} as weights
         where weights.algorithm_version = algorithms.algorithm_version),
        coalesce((select jsonb_object_agg(parameters.parameter, parameters.value order by parameters.parameter)
                  from {{ ref("scoring_algorithm_parameters") }} as parameters
                  where parameters.algorithm_version = algorithms.algorithm_version), '{}'::jsonb),
        algorithms.status,
        algorithms.description,
        {{ "'" ~ (run_id | replace("'", "''")) ~ "'" if run_id else "null" }},
        '{{ invocation_id }}'
    from {{ ref("scoring_algorithms") }} as algorithms
    inner join ({{ algorithm_parameter_hashes() }}) as hashes using (algorithm_version)
    where algorithms.status <> 'retired'
    order by algorithms.algorithm_version
    on conflict (algorithm_version, parameters_hash) do nothing
{% endmacro %}
