-- One row per applied schema migration, as the migration ledger recorded it.
select
    version,
    name,
    checksum,
    applied_at,
    applied_by
from {{ source('history', 'schema_migrations') }}
