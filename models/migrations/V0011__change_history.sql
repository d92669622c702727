-- Change history of the scoring algorithms (docs/lineage in dbt_project/README.md): every
-- (algorithm_version, parameters_hash) the first time a dbt build scores with it, with the
-- weights and parameters behind the hash, by which run and when. Written by the post-hook of
-- marts.fct_symbol_scores (macros/change_history.sql), read by marts.dim_algorithm_versions_history.
-- The history of the schema itself is meta.schema_migrations (models/migrate.py), which dbt
-- exposes as marts.dim_schema_migrations through the view history.schema_migrations.
--
-- Append-only like the other ledgers: triggers refuse UPDATE, DELETE and TRUNCATE for every role,
-- the owner included, and sealing (models/security.py) gives the table, its schema and trigger
-- function to zmart_audit. A changed weight or parameter is a new row (a new hash), never an edit.

create schema history;
comment on schema history is 'Append-only change history of what the models compute with (scoring algorithm versions).';

create table history.algorithm_versions (
    algorithm_version   text        not null,
    parameters_hash     text        not null check (parameters_hash ~ '^[0-9a-f]{32}$'),
    weights             jsonb       not null check (jsonb_typeof(weights) = 'object'),
    parameters          jsonb       not null check (jsonb_typeof(parameters) = 'object'),
    status              text        not null,
    description         text,
    dagster_run_id      text,
    dbt_invocation_id   text        not null,
    first_seen_at       timestamptz not null default clock_timestamp(),
    recorded_by         text        not null default current_user,
    primary key (algorithm_version, parameters_hash)
);
comment on table history.algorithm_versions is
    'Each scoring algorithm version and parameter set (hash) when first scored with: weights, parameters, run, time. Append-only.';
comment on column history.algorithm_versions.parameters_hash is
    'fct_symbol_scores.parameters_hash: md5 of the version''s weight and parameter seed rows (macros/change_history.sql).';
comment on column history.algorithm_versions.weights is 'Seed scoring_algorithm_weights of the version: {component: weight}.';
comment on column history.algorithm_versions.parameters is 'Seed scoring_algorithm_parameters of the version: {parameter: value as text}.';
comment on column history.algorithm_versions.status is 'Seed scoring_algorithms.status of the version when first seen (production, candidate ...).';
comment on column history.algorithm_versions.dagster_run_id is 'Dagster run whose dbt build first scored with it (environment variable ZMART_DAGSTER_RUN_ID, read by dbt at execution); null for a dbt run outside Dagster.';
comment on column history.algorithm_versions.dbt_invocation_id is 'invocation_id of that dbt build.';
comment on column history.algorithm_versions.first_seen_at is 'clock_timestamp() when the row was recorded.';
comment on column history.algorithm_versions.recorded_by is 'current_user of the writing dbt session (the application role or zmart_transform).';

create trigger algorithm_versions_append_only
    before update or delete on history.algorithm_versions
    for each row execute function audit.refuse_change();
create trigger algorithm_versions_no_truncate
    before truncate on history.algorithm_versions
    for each statement execute function audit.refuse_change();

insert into audit.ledgers (relation, reason) values
    ('history.algorithm_versions', 'the change history of the scoring algorithm versions');

-- What dbt reads of the migration ledger: zmart_transform may not read meta (docs/security.md), so
-- the marts see the migrations through this view, which runs with its owner's (the application
-- role's) rights.
create view history.schema_migrations as
    select version, name, checksum, applied_at, applied_by from meta.schema_migrations;
comment on view history.schema_migrations is
    'meta.schema_migrations (models/migrate.py) as dbt reads it: one row per applied migration, with the sha256 of its file.';

-- dbt writes the ledger (as the application role or zmart_transform) and reads it and the view.
grant usage on schema history to zmart_transform;
grant select, insert on history.algorithm_versions to zmart_transform;
grant select on history.schema_migrations to zmart_transform;
