-- Distributing the warehouse with Citus (>= 12, on PostgreSQL 15). Run on the coordinator as a
-- superuser, after `zmart db migrate` created the tables and before the first load.
--
-- Distribution column: symbol, for every market-data table. Why:
--  * every dbt model over raw data works per symbol (rolling windows, lags, EWMAs, partition by
--    symbol order by bucket_start), so with all raw tables distributed by symbol and colocated, a
--    model's query runs on each worker over its own shards without moving rows;
--  * each hourly load writes ~60 rows for EVERY followed symbol: hashing by symbol spreads the
--    load over all shards, where distributing by time would send the whole hour to one shard;
--  * each primary key already contains symbol (a distributed table's unique constraints must
--    include the distribution column), so no constraint changes.
-- Time stays the range-partitioning key inside every shard (daily partitions): time pruning,
-- and retention by dropping partitions, work as before.
-- What does not push down: the cross-sectional ranks (percent_rank() over (partition by
-- score_time)) of the scores; Citus pulls the one hour's rows to the coordinator for them,
-- which is ~700 rows an hour.

create extension if not exists citus;

-- Workers (hosts reachable from the coordinator, each with the citus extension and the same roles).
select citus_set_coordinator_host('coordinator.internal', 5432);
select citus_add_node('worker-1.internal', 5432);
select citus_add_node('worker-2.internal', 5432);

-- 4 shards per worker core keeps room to rebalance onto more workers later
-- (citus_rebalance_start) without re-sharding.
set citus.shard_count = 64;

-- Distributing a partitioned parent distributes its existing partitions, and partitions
-- created later (raw.ensure_partitions, called by every load) are distributed with it.
select create_distributed_table('raw.candles_1m', 'symbol');
select create_distributed_table('raw.open_interest', 'symbol', colocate_with => 'raw.candles_1m');
select create_distributed_table('raw.funding_rates', 'symbol', colocate_with => 'raw.candles_1m');
select create_distributed_table('raw.tickers', 'symbol', colocate_with => 'raw.candles_1m');
select create_distributed_table('raw.order_book_levels', 'symbol', colocate_with => 'raw.candles_1m');
select create_distributed_table('raw.trades', 'symbol', colocate_with => 'raw.candles_1m');
-- Contract snapshots are joined on symbol with everything above: colocated too.
select create_distributed_table('raw.contracts', 'symbol', colocate_with => 'raw.candles_1m');

-- The load ledger is small (one row per batch), written once per load and joined by batch_id:
-- a reference table, replicated to every node, so any shard joins it locally. Its children
-- reference it with foreign keys, so they are reference tables too.
select create_reference_table('raw.load_batches');
select create_reference_table('raw.load_batch_symbols');
select create_reference_table('raw.load_batch_gaps');
-- The dbt seeds (sector map, scoring weights) are small and joined with everything: make them
-- reference tables after dbt's first build (and again after a `dbt seed --full-refresh`, which
-- recreates them as ordinary tables):
--   select create_reference_table('marts.symbol_sectors');
--   select create_reference_table('marts.scoring_algorithm_weights');

-- Left on the coordinator as ordinary tables: quarantine.* (rare writes, identity keys without
-- symbol), portfolio.* and lifecycle.* (tens of rows an hour, foreign keys and the transition
-- triggers that enforce the lifecycle), meta.*.

-- dbt's per-symbol incremental models (intermediate.int_*) are created by dbt as ordinary
-- tables on the coordinator. To distribute them, once, after their first full build:
--   select create_distributed_table('intermediate.int_candles_1h', 'symbol', colocate_with => 'raw.candles_1m');
-- Their delete+insert increments then run on the workers. A --full-refresh recreates a table
-- as a local one: run this statement again after it.
