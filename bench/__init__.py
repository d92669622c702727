"""Benchmarks of the platform, run on a PostgreSQL cluster of their own (never ``.zmart``).

One module per benchmark, runnable with ``python -m bench.<name>``, on shared parts:

- ``cluster``: a throwaway cluster on a free port, one migrated database per measured case;
- ``workload``: the simulator's candles and contract snapshots, computed in-process and
  stored the way the ingestion assets store them (COPY, ledger rows, partitions);
- ``dbt``: dbt invocations as the Dagster assets run them, with per-node times;
- ``machine``: what the numbers were measured on;
- ``report``: the rich table, the JSON under ``bench/results/`` (not committed) and the
  benchmark's own section of ``docs/benchmarks.md``.

Benchmarks: ``incremental_hour`` (an hourly dbt increment against the history length). A stage
that is not measured yet (ingestion through ccxt, the GX gates, the portfolio manager) becomes
a module of its own that reuses these parts.
"""
