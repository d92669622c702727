-- The change history of the database schema: one row per applied migration of models/migrations,
-- from the migration ledger meta.schema_migrations, read through the view history.schema_migrations
-- (V0011). models/migrate.py refuses a file edited after it was applied, so checksum identifies
-- exactly what ran. A view: the ledger is the truth.
{{ config(materialized="view") }}

select
    version,
    name,
    'V' || lpad(version::text, 4, '0') || '__' || name || '.sql' as file_name,
    checksum,
    applied_at,
    applied_by
from {{ ref("stg_history__schema_migrations") }}
