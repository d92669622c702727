-- One row per scoring algorithm version and parameter set, as the ledger recorded it the first
-- time a build scored with it.
select
    algorithm_version,
    parameters_hash,
    weights,
    parameters,
    status,
    description,
    dagster_run_id,
    dbt_invocation_id,
    recorded_by,
    first_seen_at
from {{ source('history', 'algorithm_versions') }}
