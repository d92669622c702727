{{ config(materialized="view") }}
-- The change history of the scoring algorithms: one row per (algorithm_version, parameters_hash)
-- of the ledger history.algorithm_versions, which fct_symbol_scores' post-hook appends to the
-- first time a build scores with it. A version whose seeds changed has several rows; each is in
-- force from first_seen_at until the next row of its version (superseded_at, null for the latest).
-- is_current says the row's hash is the one the seeds give now. A view, so it shows what the
-- post-hook wrote whichever of the two models a build runs first.

with current_hashes as (
    {{ algorithm_parameter_hashes() }}
)

select
    ledger.algorithm_version,
    ledger.parameters_hash,
    row_number() over version_changes::integer as revision,
    ledger.weights,
    ledger.parameters,
    ledger.status as status_when_recorded,
    ledger.description,
    ledger.dagster_run_id,
    ledger.dbt_invocation_id,
    ledger.recorded_by,
    ledger.first_seen_at,
    lead(ledger.first_seen_at) over version_changes as superseded_at,
    current_hashes.parameters_hash is not null as is_current
from {{ ref("stg_history__algorithm_versions") }} as ledger
left join current_hashes
    on current_hashes.algorithm_version = ledger.algorithm_version
    and current_hashes.parameters_hash = ledger.parameters_hash
window version_changes as (partition by ledger.algorithm_version order by ledger.first_seen_at, ledger.parameters_hash)
