-- Partition lifecycle: partitions created ahead of the data, hot and warm index tiers, and the
-- catalogue of partitions archived to Parquet (the cold tier) and restored from it.
-- The maintenance job (orchestration/partitioning) drives these functions; DESIGN's tiers:
--   hot:  recent partitions; a btree on (symbol, time) serves per-symbol lookups
--   warm: older partitions; the btree is dropped and a BRIN on the time column serves windows
--   cold: partitions exported to Parquet with a manifest, verified, then detached and dropped

-- The range partitions of a parent and their bounds, read back from the catalogue.
create or replace function raw.partition_ranges(parent regclass)
returns table (partition regclass, range_start timestamptz, range_end timestamptz)
language sql
stable
as $$
    select c.oid::regclass,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    where i.inhparent = parent
    order by 2
$$;
comment on function raw.partition_ranges(regclass) is
    'The range partitions of parent with their [range_start, range_end) bounds, earliest first.';

-- The (single) partition key column of a range-partitioned table.
create or replace function raw.partition_column(parent regclass)
returns name
language sql
stable
as $$
    select a.attname
    from pg_partitioned_table p
    join pg_attribute a on a.attrelid = p.partrelid and a.attnum = p.partattrs[0]
    where p.partrelid = parent
$$;

-- Puts one partition in the hot or warm tier; returns the DDL it ran (empty when already there).
-- hot:  btree <partition>_symbol_time_ix on (symbol, time), unless the primary key begins with
--       (symbol, time) and already is that index; no BRIN.
-- warm: BRIN <partition>_time_brin on the time column (32 pages, about 2,500 candle rows, a
--       block range); the tier btree is dropped. BRIN prunes only because loads insert in time
--       order (orchestration/ingestion/loader.py sorts each insert by the time column).
create or replace function raw.apply_partition_tier(part regclass, tier text)
returns text[]
language plpgsql
as $$
declare
    parent      regclass;
    time_column name;
    part_schema name;
    part_name   name;
    btree_name  text;
    brin_name   text;
    pk_covers   boolean;
    ran         text[] := '{}';
    statement   text;
begin
    if tier is null or tier not in ('hot', 'warm') then
        raise exception 'apply_partition_tier: tier % is not hot or warm', coalesce(tier, 'null');
    end if;
    select i.inhparent into parent from pg_inherits i where i.inhrelid = part;
    if parent is null then
        raise exception 'apply_partition_tier: % is not a partition', part;
    end if;
    time_column := raw.partition_column(parent);
    select n.nspname, c.relname into part_schema, part_name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.oid = part;
    btree_name := part_name || '_symbol_time_ix';
    brin_name := part_name || '_time_brin';
    select exists (
        select 1
        from pg_index x
        where x.indrelid = parent and x.indisprimary
          and (select attname from pg_attribute where attrelid = parent and attnum = x.indkey[0]) = 'symbol'
          and (select attname from pg_attribute where attrelid = parent and attnum = x.indkey[1]) = time_column
    ) into pk_covers;
    if tier = 'hot' and not pk_covers and to_regclass(format('%I.%I', part_schema, btree_name)) is null then
        ran := ran || format('create index %I on %s (symbol, %I)', btree_name, part, time_column);
    end if;
    if tier = 'hot' and to_regclass(format('%I.%I', part_schema, brin_name)) is not null then
        ran := ran || format('drop index %I.%I', part_schema, brin_name);
    end if;
    if tier = 'warm' and to_regclass(format('%I.%I', part_schema, brin_name)) is null then
        ran := ran || format('create index %I on %s using brin (%I) with (pages_per_range = 32)', brin_name, part, time_column);
    end if;
    if tier = 'warm' and to_regclass(format('%I.%I', part_schema, btree_name)) is not null then
        ran := ran || format('drop index %I.%I', part_schema, btree_name);
    end if;
    foreach statement in array ran loop
        execute statement;
    end loop;
    return ran;
end;
$$;
comment on function raw.apply_partition_tier(regclass, text) is
    'Index a partition for its tier (hot: btree on (symbol, time); warm: BRIN on time); returns the DDL run.';

-- An order-independent checksum of a relation's rows, computed in the database: the row count
-- and the sums (as exact numerics) of the two 64-bit halves of md5 of each row's text. Equal
-- multisets of rows give equal checksums whatever their physical order. The settings that shape
-- a row's text (time zone, date and interval styles, float digits) are fixed for the call, so
-- the checksum does not depend on the session.
create or replace function raw.content_checksum(rel regclass)
returns text
language plpgsql
stable
set timezone to 'UTC'
set datestyle to 'ISO, YMD'
set intervalstyle to 'postgres'
set extra_float_digits to 1
set bytea_output to 'hex'
as $$
declare
    result text;
begin
    execute format(
        $q$
        select 'md5x2:' || count(*) || ':' || coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)
                                     || ':' || coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)
        from (select md5(t::text) as h from %s t) rows_hashed
        $q$, rel)
    into result;
    return result;
end;
$$;
comment on function raw.content_checksum(regclass) is
    'md5x2:<rows>:<sum of high 64 bits>:<sum of low 64 bits> of md5(row text): equal for equal row multisets, in any order.';

-- The cold tier's catalogue: one row per archive of a partition; restored_at is set when the
-- partition is restored, after which it may be archived again (a new row).
create table meta.archived_partitions (
    archive_id        bigint generated always as identity primary key,
    parent_table      text        not null,
    partition_name    text        not null,
    range_start       timestamptz not null,
    range_end         timestamptz not null,
    row_count         bigint      not null check (row_count >= 0),
    content_checksum  text        not null,
    manifest_path     text        not null,
    manifest_sha256   text        not null check (manifest_sha256 ~ '^[0-9a-f]{64}$'),
    archived_at       timestamptz not null default clock_timestamp(),
    archived_by       text        not null default current_user,
    restored_at       timestamptz,
    restored_by       text,
    constraint archived_partitions_range_ck check (range_end > range_start),
    constraint archived_partitions_restore_ck check ((restored_at is null) = (restored_by is null) and (restored_at is null or restored_at >= archived_at))
);
-- A partition is archived at most once at a time.
create unique index archived_partitions_live_ux on meta.archived_partitions (parent_table, partition_name) where restored_at is null;
comment on table meta.archived_partitions is
    'Partitions exported to Parquet, verified, then detached and dropped (cold tier); restored_at when loaded back.';
comment on column meta.archived_partitions.parent_table is 'Schema-qualified partitioned table, e.g. raw.candles_1m.';
comment on column meta.archived_partitions.content_checksum is 'raw.content_checksum of the partition before export; a restore must reproduce it.';
comment on column meta.archived_partitions.manifest_path is 'The manifest, relative to the archive root (ZMART_ARCHIVE_DIR).';
comment on column meta.archived_partitions.manifest_sha256 is 'sha256 of the manifest file as written: a restore refuses an edited manifest.';

-- Loads must not quietly re-create an archived partition (a backfill of archived days would
-- leave a partial day beside its archive): ensure_partitions now refuses, naming the restore.
create or replace function raw.ensure_partitions(
    parent regclass, from_ts timestamptz, to_ts timestamptz, step interval)
returns integer
language plpgsql
as $$
declare
    bound     timestamptz;
    created   integer := 0;
    part_name text;
    parent_schema text;
    parent_table  text;
    qualified     text;
begin
    select n.nspname, c.relname into parent_schema, parent_table
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.oid = parent;
    qualified := parent_schema || '.' || parent_table;
    -- Serialise partition creation per parent: concurrent loads must not race on DDL.
    perform pg_advisory_xact_lock(parent::oid::bigint);
    if step = interval '1 month' then
        bound := date_trunc('month', from_ts at time zone 'UTC') at time zone 'UTC';
    else
        bound := date_bin(step, from_ts, timestamptz '2000-01-01 00:00:00+00');
    end if;
    while bound < to_ts loop
        part_name := parent_table || '_p' || to_char(bound at time zone 'UTC',
            case when step = interval '1 month' then 'YYYYMM' else 'YYYYMMDD' end);
        if to_regclass(format('%I.%I', parent_schema, part_name)) is null then
            if exists (select 1 from meta.archived_partitions a
                       where a.parent_table = qualified and a.partition_name = part_name and a.restored_at is null) then
                raise exception '%: partition % is archived (meta.archived_partitions); restore it first: zmart restore --table % --partition %',
                    qualified, part_name, qualified, part_name;
            end if;
            execute format('create table %I.%I partition of %s for values from (%L) to (%L)',
                           parent_schema, part_name, parent, bound, bound + step);
            created := created + 1;
        end if;
        bound := bound + step;
    end loop;
    return created;
end;
$$;
comment on function raw.ensure_partitions(regclass, timestamptz, timestamptz, interval) is
    'Create missing UTC-aligned range partitions of parent covering [from_ts, to_ts) (refusing archived ones); returns how many were created.';
