-- The rest of the public market data: tickers, order-book levels, trades, funding rates and
-- open interest, each time-partitioned with a natural key, stamped with its load batch and
-- with a quarantine table for what was refused. Values are as KuCoin serves them (sizes in
-- lots, prices in quote currency); staging converts units.

-- Per-symbol outcome of a load: a batch fetches many symbols and keeps the ones that arrived
-- whole; a symbol that failed is recorded with its error (and retried by the next attempt or
-- the gap-repair sensor) instead of failing the others.
alter table raw.load_batch_symbols
    add column status text not null default 'succeeded' check (status in ('succeeded', 'failed')),
    add column error  text,
    add constraint load_batch_symbols_failure_has_error_ck
        check ((status = 'failed') = (error is not null)),
    add constraint load_batch_symbols_failed_fetched_nothing_ck
        check (status = 'succeeded' or rows_fetched = 0);
-- Snapshots (books, trades) request no time span: the span is for time-series loads only.
alter table raw.load_batch_symbols
    alter column span_start drop not null,
    alter column span_end drop not null,
    add constraint load_batch_symbols_span_both_or_neither_ck check ((span_start is null) = (span_end is null));
comment on column raw.load_batch_symbols.status is
    'succeeded: the symbol''s data arrived whole and was loaded; failed: nothing of it was loaded (see error).';

-- Best bid/ask and last trade, as /api/v1/allTickers serves them (ts in nanoseconds).
create table raw.tickers (
    symbol               text             not null,
    observed_at          timestamptz      not null,
    ts_ns                bigint           not null,
    sequence             bigint           not null,
    last_price           double precision not null,
    last_size_lots       double precision not null,
    last_side            text             not null,
    last_trade_id        text             not null,
    best_bid             double precision not null,
    best_bid_size_lots   double precision not null,
    best_ask             double precision not null,
    best_ask_size_lots   double precision not null,
    batch_id             bigint           not null,
    primary key (symbol, observed_at, sequence)
) partition by range (observed_at);
comment on table raw.tickers is 'Ticker snapshots: last trade and best bid/ask per contract at the exchange time observed_at.';
comment on column raw.tickers.ts_ns is 'Exchange timestamp in nanoseconds, as served (observed_at keeps microseconds).';

-- One row per price level of an order-book snapshot (/api/v1/level2/depth20 or depth100).
create table raw.order_book_levels (
    symbol       text             not null,
    observed_at  timestamptz      not null,
    sequence     bigint           not null,
    side         text             not null check (side in ('bid', 'ask')),
    level        smallint         not null check (level >= 1),
    price        double precision not null,
    size_lots    double precision not null,
    depth        smallint         not null,
    batch_id     bigint           not null,
    primary key (symbol, observed_at, sequence, side, level)
) partition by range (observed_at);
comment on table raw.order_book_levels is
    'Order-book snapshots, one row per level: level 1 is the best bid or ask; depth is the number of levels requested.';

-- Public trades (/api/v1/trade/history: the last 100 per request); overlapping requests are
-- deduplicated by trade id.
create table raw.trades (
    symbol          text             not null,
    trade_id        text             not null,
    traded_at       timestamptz      not null,
    ts_ns           bigint           not null,
    sequence        bigint           not null,
    price           double precision not null,
    size_lots       double precision not null,
    taker_side      text             not null check (taker_side in ('buy', 'sell')),
    maker_order_id  text,
    taker_order_id  text,
    batch_id        bigint           not null,
    primary key (symbol, trade_id, traded_at)
) partition by range (traded_at);
comment on table raw.trades is 'Public trades, one row per trade id; taker_side is the side of the aggressing order.';

-- Settled funding rates (/api/v1/contract/funding-rates).
create table raw.funding_rates (
    symbol        text             not null,
    funding_time  timestamptz      not null,
    funding_rate  double precision not null,
    batch_id      bigint           not null,
    primary key (symbol, funding_time)
) partition by range (funding_time);
comment on table raw.funding_rates is 'Funding rate settled at funding_time (every 8 h for most contracts, 4 h or 1 h for some).';

-- Open interest history (/api/ua/v1/market/open-interest, 5-minute points).
create table raw.open_interest (
    symbol               text             not null,
    observed_at          timestamptz      not null,
    open_interest_lots   double precision not null,
    batch_id             bigint           not null,
    primary key (symbol, observed_at)
) partition by range (observed_at);
comment on table raw.open_interest is 'Open interest in lots at observed_at (5-minute points of the unified API).';

-- Every refused record, with the rule it broke.
create table quarantine.tickers (
    quarantine_id   bigint generated always as identity primary key,
    batch_id        bigint      not null,
    stage           text        not null check (stage in ('load', 'gate')),
    rule            text        not null,
    detail          text,
    symbol          text,
    observed_at     timestamptz,
    record          jsonb       not null,
    quarantined_at  timestamptz not null default clock_timestamp()
);
create index quarantine_tickers_batch_ix on quarantine.tickers (batch_id);

-- same columns (observed_at is the key time); LIKE ... INCLUDING ALL copies the identity and indexes
create table quarantine.order_book_levels (like quarantine.tickers including all);

create table quarantine.trades (
    quarantine_id   bigint generated always as identity primary key,
    batch_id        bigint      not null,
    stage           text        not null check (stage in ('load', 'gate')),
    rule            text        not null,
    detail          text,
    symbol          text,
    traded_at       timestamptz,
    record          jsonb       not null,
    quarantined_at  timestamptz not null default clock_timestamp()
);
create index quarantine_trades_batch_ix on quarantine.trades (batch_id);

create table quarantine.funding_rates (
    quarantine_id   bigint generated always as identity primary key,
    batch_id        bigint      not null,
    stage           text        not null check (stage in ('load', 'gate')),
    rule            text        not null,
    detail          text,
    symbol          text,
    funding_time    timestamptz,
    record          jsonb       not null,
    quarantined_at  timestamptz not null default clock_timestamp()
);
create index quarantine_funding_rates_batch_ix on quarantine.funding_rates (batch_id);

create table quarantine.open_interest (like quarantine.tickers including all);

-- Failed Dagster runs, recorded by the run-failure sensor: what failed, where and why, next to
-- the data (so reports and dashboards see outages without reading Dagster's storage).
create table meta.run_failures (
    run_id          text        primary key,
    job_name        text        not null,
    partition_range text,
    failed_steps    text[]      not null,
    message         text        not null,
    failed_at       timestamptz not null,
    recorded_at     timestamptz not null default clock_timestamp()
);
comment on table meta.run_failures is 'One row per failed Dagster run, written by the run-failure sensor.';

-- Points a time-series load asked for that the exchange did not serve (a minute with no candle,
-- a 5-minute open-interest point with no value, in the requested span), per batch and symbol. With them every requested point is accounted
-- for: stored, quarantined with its rule, or recorded here as not served.
create table raw.load_batch_gaps (
    batch_id    bigint      not null references raw.load_batches on delete cascade,
    symbol      text        not null,
    missing_at  timestamptz not null,
    primary key (batch_id, symbol, missing_at)
);
create index load_batch_gaps_symbol_ix on raw.load_batch_gaps (symbol, missing_at);
comment on table raw.load_batch_gaps is
    'Points (1m candle open times, 5-minute open-interest times) a batch requested that the exchange did not serve.';
