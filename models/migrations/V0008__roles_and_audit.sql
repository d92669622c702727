-- Least-privilege roles, the trader's overrides and the audit log (docs/security.md).
--
-- Runs as the application role, which owns the schemas and tables of the earlier migrations.
-- The NOLOGIN group roles are cluster-wide and must exist already: a superuser creates them
-- (models/security.py ensure_roles; the embedded cluster does it when it starts, elsewhere
-- `zmart db secure`). After this migration the same superuser step gives the audit log and the
-- ledgers in audit.ledgers to zmart_audit ("sealing"), so that not even the application role,
-- their former owner, can change, drop or disable them.
--
-- Grants are per schema with default privileges: a table a later migration creates in raw,
-- quarantine, meta, portfolio or lifecycle (as the application role), or that dbt creates in
-- staging/intermediate/marts (as the application role or as zmart_transform), gets the same
-- grants as the tables here. A NEW schema needs its own grants, and a new table that must be
-- audited or append-only must say so (audit.track, audit.ledgers); see docs/security.md.

do $$
declare
    missing text;
begin
    select string_agg(r, ', ') into missing
    from unnest(array['zmart_ingest', 'zmart_transform', 'zmart_analyst', 'zmart_trader', 'zmart_admin', 'zmart_audit']) r
    where not exists (select 1 from pg_roles where rolname = r);
    if missing is not null then
        raise exception 'roles % do not exist: a superuser must create them before this migration (zmart db secure; docs/security.md)', missing
            using errcode = 'undefined_object';
    end if;
    if not pg_has_role(current_user, 'zmart_transform', 'member') then
        raise exception 'the migrating role % is not a member of zmart_transform: run zmart db secure as a superuser first (docs/security.md)', current_user
            using errcode = 'insufficient_privilege';
    end if;
end;
$$;

-- The schemas dbt builds into (dbt_project.yml: staging, intermediate, marts; zmart_fn from the
-- on-run-start macro), created here so their grants exist before dbt first runs.
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create schema if not exists zmart_fn authorization zmart_transform;
-- zmart_transform owns it: the on-run-start hook comments on it, which only its owner may do.
alter schema zmart_fn owner to zmart_transform;

-- Functions are executable by PUBLIC unless revoked; none here needs to be.
alter default privileges revoke execute on functions from public;

-- ---------------------------------------------------------------------------------------------
-- Trader overrides: the one thing a trader writes.

create table portfolio.overrides (
    override_id  bigint generated always as identity primary key,
    symbol       text        not null check (length(symbol) between 1 and 100),
    action       text        not null check (action in ('exclude', 'pin')),
    valid_from   timestamptz not null,
    valid_to     timestamptz,
    reason       text        not null check (length(btrim(reason)) > 0),
    created_by   text        not null default current_user,
    created_at   timestamptz not null default clock_timestamp(),
    check (valid_to > valid_from)
);
create index overrides_symbol_ix on portfolio.overrides (symbol, valid_from);
comment on table portfolio.overrides is
    'A trader''s instruction to the portfolio manager for one symbol over [valid_from, valid_to): exclude = never hold it, pin = hold it whatever its rank. Every change is in audit.change_log.';
comment on column portfolio.overrides.symbol is 'Exchange symbol (e.g. XBTUSDTM), as in raw.contracts.symbol.';
comment on column portfolio.overrides.action is
    'exclude: the manager must not hold the symbol (it is removed at the next evaluation); pin: the manager holds it even when ranked outside the keep band, as long as it is listed and scored. Where an exclude and a pin overlap, exclude wins.';
comment on column portfolio.overrides.valid_from is 'Start of the period the override applies to (inclusive): evaluations with as_of >= valid_from.';
comment on column portfolio.overrides.valid_to is 'End of the period (exclusive); null: until a trader sets it. Ending an override early is an update of valid_to.';
comment on column portfolio.overrides.reason is 'Why the trader made it, in words.';
comment on column portfolio.overrides.created_by is 'Database role that inserted it (current_user; a trader cannot set it).';
comment on column portfolio.overrides.created_at is 'When it was inserted.';

-- ---------------------------------------------------------------------------------------------
-- The audit log. Owned by zmart_audit once sealed; written only by audit.record_change(), a
-- SECURITY DEFINER trigger function; no role has UPDATE, DELETE or TRUNCATE on it, and the
-- triggers below refuse them for the owner too.

create schema audit;
comment on schema audit is 'Append-only record of every change to the audited tables; owned by zmart_audit.';

create table audit.change_log (
    change_id                bigint      generated always as identity primary key,
    table_schema             text        not null,
    table_name               text        not null,
    operation                text        not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
    primary_key              jsonb       not null,
    before                   jsonb,
    after                    jsonb,
    changed_by_session_user  text        not null,
    changed_by_current_user  text        not null,
    application_name         text        not null,
    transaction_id           xid8        not null,
    changed_at               timestamptz not null default clock_timestamp(),
    check ((operation = 'INSERT') = (before is null) and (operation = 'DELETE') = (after is null))
);
create index change_log_table_ix on audit.change_log (table_schema, table_name, change_id);
comment on table audit.change_log is
    'One row per inserted, updated or deleted row of an audited table (audit.track): who, when, what, before and after. Append-only.';
comment on column audit.change_log.primary_key is
    'The changed row''s primary-key columns and values (before the change, for updates and deletes); a table without one is keyed by its first unique index.';
comment on column audit.change_log.before is 'The whole row before the change (to_jsonb); null for INSERT.';
comment on column audit.change_log.after is 'The whole row after the change; null for DELETE.';
comment on column audit.change_log.changed_by_session_user is 'session_user: the role that logged in.';
comment on column audit.change_log.changed_by_current_user is
    'current_user of the writing statement: the role set by SET ROLE, else session_user (the trigger runs as zmart_audit, so it reads the role setting).';
comment on column audit.change_log.application_name is 'application_name of the writing session (zmart-dagster, zmart-dbt, psql ...).';
comment on column audit.change_log.transaction_id is 'pg_current_xact_id() of the writing transaction: rows changed together share it.';
comment on column audit.change_log.changed_at is 'clock_timestamp() when the row changed.';

-- The ledgers sealing gives to zmart_audit (models/security.py seal): their owner, their schema's
-- owner and their triggers' functions become zmart_audit; the application role keeps SELECT and INSERT.
create table audit.ledgers (
    relation  regclass primary key,
    reason    text not null check (length(reason) > 0)
);
comment on table audit.ledgers is 'Append-only tables to be owned by zmart_audit (sealed): nobody but a superuser can change, drop or disable them.';

create function audit.record_change() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    before_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
    after_row  jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
    key_row    jsonb;
begin
    select jsonb_object_agg(a.attname, coalesce(before_row, after_row) -> a.attname::text)
    into key_row
    from (
        select i.indkey from pg_index i
        where i.indrelid = tg_relid and i.indisunique
        order by i.indisprimary desc, i.indexrelid
        limit 1
    ) k
    cross join lateral unnest(k.indkey::int2[]) as c(attnum)
    join pg_attribute a on a.attrelid = tg_relid and a.attnum = c.attnum;
    insert into audit.change_log (
        table_schema, table_name, operation, primary_key, before, after,
        changed_by_session_user, changed_by_current_user, application_name, transaction_id)
    values (
        tg_table_schema, tg_table_name, tg_op, coalesce(key_row, '{}'::jsonb), before_row, after_row,
        session_user, coalesce(nullif(current_setting('role'), 'none'), session_user),
        current_setting('application_name'), pg_current_xact_id());
    return null;
end;
$$;
comment on function audit.record_change() is 'Row trigger of audited tables: appends the change to audit.change_log (runs as its owner).';

-- Refuses the operation that fired it; tg_argv[0] says why (default: the table is append-only).
create function audit.refuse_change() returns trigger
language plpgsql
as $$
begin
    raise exception '% is %: % refused', tg_table_schema || '.' || tg_table_name, coalesce(tg_argv[0], 'append-only'), tg_op
        using errcode = 'insufficient_privilege';
end;
$$;

create trigger change_log_append_only
    before update or delete on audit.change_log
    for each row execute function audit.refuse_change();
create trigger change_log_no_truncate
    before truncate on audit.change_log
    for each statement execute function audit.refuse_change();

-- Audits every row change of target. TRUNCATE would change rows without row triggers, so it is
-- refused on audited tables.
create function audit.track(target regclass) returns void
language plpgsql
as $$
begin
    execute format('drop trigger if exists audit_changes on %s', target);
    execute format('create trigger audit_changes after insert or update or delete on %s '
                   'for each row execute function audit.record_change()', target);
    execute format('drop trigger if exists audit_no_truncate on %s', target);
    execute format('create trigger audit_no_truncate before truncate on %s '
                   'for each statement execute function audit.refuse_change(%L)', target, 'audited row by row (delete the rows instead)');
end;
$$;
comment on function audit.track(regclass) is 'Make every insert, update and delete of target land in audit.change_log, and refuse TRUNCATE on it.';

revoke execute on all functions in schema audit from public;

-- What the portfolio manager and the traders decide, and the rules of the lifecycle.
select audit.track('portfolio.evaluations');
select audit.track('portfolio.composition');
select audit.track('portfolio.decisions');
select audit.track('portfolio.overrides');
select audit.track('lifecycle.states');
select audit.track('lifecycle.allowed_transitions');

-- The lifecycle log and hour ledger are append-only (V0004) by trigger; sealed, they and their
-- trigger functions are also out of the application role's reach.
insert into audit.ledgers (relation, reason) values
    ('lifecycle.transitions', 'the symbol lifecycle transition log'),
    ('lifecycle.evaluated_hours', 'the hours the lifecycle has evaluated');

-- ---------------------------------------------------------------------------------------------
-- zmart_ingest: writes raw and quarantine (data and load ledger), reads meta.

grant usage on schema raw, quarantine, meta to zmart_ingest;
grant select, insert, update, delete on all tables in schema raw, quarantine to zmart_ingest;
alter default privileges in schema raw, quarantine grant select, insert, update, delete on tables to zmart_ingest;
grant select on all tables in schema meta to zmart_ingest;
alter default privileges in schema meta grant select on tables to zmart_ingest;
-- Only a partitioned table's owner may add partitions: loads create them through this function,
-- which runs as its owner, with a fixed search_path so nothing the caller defines is picked up.
alter function raw.ensure_partitions(regclass, timestamptz, timestamptz, interval)
    security definer set search_path = pg_catalog, pg_temp;
revoke execute on function raw.ensure_partitions(regclass, timestamptz, timestamptz, interval) from public;
grant execute on function raw.ensure_partitions(regclass, timestamptz, timestamptz, interval) to zmart_ingest;

-- zmart_transform: reads the sources, builds in the dbt schemas.
grant usage on schema raw, quarantine, portfolio, lifecycle to zmart_transform;
grant select on all tables in schema raw, quarantine, portfolio, lifecycle to zmart_transform;
alter default privileges in schema raw, quarantine, portfolio, lifecycle grant select on tables to zmart_transform;
grant usage, create on schema staging, intermediate, marts to zmart_transform;
-- What the application role builds there when it runs dbt itself (the default) stays readable by transform.
grant select on all tables in schema staging, intermediate, marts to zmart_transform;
alter default privileges in schema staging, intermediate, marts grant select on tables to zmart_transform;
alter default privileges in schema zmart_fn grant execute on functions to zmart_transform;

-- zmart_analyst and zmart_trader read the marts, whoever built them.
grant usage on schema marts to zmart_analyst, zmart_trader;
grant select on all tables in schema marts to zmart_analyst, zmart_trader;
alter default privileges in schema marts grant select on tables to zmart_analyst, zmart_trader;
alter default privileges for role zmart_transform in schema marts grant select on tables to zmart_analyst, zmart_trader;

-- zmart_trader also reads the portfolio and writes the overrides: created_by and created_at are
-- not among its columns, so they always say who and when; ending an override is an update of valid_to.
grant usage on schema portfolio to zmart_trader;
grant select on all tables in schema portfolio to zmart_trader;
alter default privileges in schema portfolio grant select on tables to zmart_trader;
grant insert (symbol, action, valid_from, valid_to, reason), update (valid_to) on portfolio.overrides to zmart_trader;

-- zmart_admin is a member of the application role (models/security.py): everything it may do.
