-- Raw layer: exchange data exactly as accepted, every row stamped with the load batch that
-- brought it; quarantine for every rejected record; time partitions created on demand.

create schema if not exists raw;
create schema if not exists quarantine;

comment on schema raw is 'Exchange data as fetched and accepted; append-only per natural key.';
comment on schema quarantine is 'Every rejected record with the rule it broke; nothing is silently dropped.';

-- One row per load (asset x partition window x attempt). The counters obey
-- rows_in = rows_inserted + rows_unchanged + rows_quarantined once a batch has succeeded.
create table raw.load_batches (
    batch_id          bigint generated always as identity primary key,
    asset             text        not null,
    partition_key     text,
    window_start      timestamptz,
    window_end        timestamptz,
    source            text        not null,
    run_id            text,
    status            text        not null default 'running'
                      check (status in ('running', 'succeeded', 'failed')),
    request_count     integer     not null default 0 check (request_count >= 0),
    rows_in           bigint      not null default 0 check (rows_in >= 0),
    rows_inserted     bigint      not null default 0 check (rows_inserted >= 0),
    rows_unchanged    bigint      not null default 0 check (rows_unchanged >= 0),
    rows_quarantined  bigint      not null default 0 check (rows_quarantined >= 0),
    checksum          text,
    started_at        timestamptz not null default clock_timestamp(),
    finished_at       timestamptz,
    error             text,
    constraint load_batches_window_ck check (window_end is null or window_end > window_start),
    constraint load_batches_conservation_ck check (
        status <> 'succeeded' or rows_in = rows_inserted + rows_unchanged + rows_quarantined)
);
create index load_batches_asset_window_ix on raw.load_batches (asset, window_start);
comment on table raw.load_batches is
    'Ledger of every load: what was fetched, inserted, found unchanged or quarantined, with a checksum of the fetched records.';
comment on column raw.load_batches.checksum is
    'md5 of the canonical text of every fetched record, in key order: equal checksums mean identical source data.';

-- What each batch asked the exchange for, per symbol: the span requested and the rows received.
-- Completeness checks compare what is stored against these spans.
create table raw.load_batch_symbols (
    batch_id      bigint      not null references raw.load_batches on delete cascade,
    symbol        text        not null,
    span_start    timestamptz not null,
    span_end      timestamptz not null,
    rows_fetched  integer     not null check (rows_fetched >= 0),
    primary key (batch_id, symbol),
    check (span_end > span_start)
);
create index load_batch_symbols_symbol_ix on raw.load_batch_symbols (symbol, span_start);
comment on table raw.load_batch_symbols is
    'Per-symbol request spans of each batch ([span_start, span_end) of open times) and the rows received.';

-- Creates the missing range partitions of a partitioned table covering [from_ts, to_ts).
-- Bounds are aligned to UTC multiples of step so every caller agrees on them.
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
begin
    select n.nspname, c.relname into parent_schema, parent_table
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.oid = parent;
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
    'Create missing UTC-aligned range partitions of parent covering [from_ts, to_ts); returns how many were created.';

-- Contract specifications and the exchange's 24h statistics, one snapshot per fetch.
create table raw.contracts (
    snapshot_time               timestamptz      not null,
    symbol                      text             not null,
    unified_symbol              text             not null,
    contract_type               text             not null,
    status                      text             not null,
    base_currency               text             not null,
    quote_currency              text             not null,
    settle_currency             text             not null,
    is_inverse                  boolean          not null,
    multiplier                  double precision not null,
    lot_size                    double precision not null,
    tick_size                   double precision not null,
    max_leverage                double precision,
    first_open_time             timestamptz,
    expire_time                 timestamptz,
    funding_granularity_ms      bigint,
    funding_fee_rate            double precision,
    mark_price                  double precision,
    index_price                 double precision,
    last_trade_price            double precision,
    open_interest_lots          double precision,
    volume_24h                  double precision,
    turnover_24h                double precision,
    payload                     jsonb            not null,
    batch_id                    bigint           not null,
    primary key (symbol, snapshot_time)
) partition by range (snapshot_time);
-- The latest snapshot is looked up by time on every candle load.
create index contracts_snapshot_time_ix on raw.contracts (snapshot_time);
comment on table raw.contracts is
    'Snapshots of /api/v1/contracts/active: one row per contract per fetch; payload keeps the object as served.';
comment on column raw.contracts.multiplier is
    'Base-currency amount per lot (linear); KuCoin serves -1 for inverse contracts, which are worth 1 USD per lot.';
comment on column raw.contracts.open_interest_lots is 'Open interest in lots, as served (a string on the wire).';
comment on column raw.contracts.volume_24h is '24h volume in base-currency units, as served.';
comment on column raw.contracts.turnover_24h is '24h turnover in quote currency, as served.';

-- 1-minute candles. Volume is in lots as KuCoin serves it; staging converts units.
create table raw.candles_1m (
    symbol     text             not null,
    open_time  timestamptz      not null,
    open       double precision not null,
    high       double precision not null,
    low        double precision not null,
    close      double precision not null,
    volume     double precision not null,
    batch_id   bigint           not null,
    primary key (symbol, open_time)
) partition by range (open_time);
comment on table raw.candles_1m is
    'Closed 1-minute candles from /api/v1/kline/query (granularity 1), daily partitions; first accepted version wins.';
comment on column raw.candles_1m.volume is 'Traded size in lots (contracts), as served.';
comment on column raw.candles_1m.batch_id is 'raw.load_batches.batch_id of the load that inserted the row.';

-- Rejected records keep what was received (as text and, when parseable, as JSON) and the rule.
create table quarantine.candles_1m (
    quarantine_id   bigint generated always as identity primary key,
    batch_id        bigint      not null,
    stage           text        not null check (stage in ('load', 'gate')),
    rule            text        not null,
    detail          text,
    symbol          text,
    open_time       timestamptz,
    record          jsonb       not null,
    quarantined_at  timestamptz not null default clock_timestamp()
);
create index quarantine_candles_1m_key_ix on quarantine.candles_1m (symbol, open_time);
create index quarantine_candles_1m_batch_ix on quarantine.candles_1m (batch_id);

create table quarantine.contracts (
    quarantine_id   bigint generated always as identity primary key,
    batch_id        bigint      not null,
    stage           text        not null check (stage in ('load', 'gate')),
    rule            text        not null,
    detail          text,
    symbol          text,
    record          jsonb       not null,
    quarantined_at  timestamptz not null default clock_timestamp()
);
create index quarantine_contracts_batch_ix on quarantine.contracts (batch_id);
