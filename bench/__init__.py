"""Benchmarks of the platform, run on a PostgreSQL cluster of their own (never ``.zmart``).

One module per benchmark, runnable with ``python -m bench.<name>``, on shared parts:

- ``cluster``: a throwaway cluster on a free port, one migrated database per measured case;
- ``workload``: the simulator's candles and contract snapshots, computed in-process and
  stored the way the ingestion assets store them (COPY, ledger rows, partitions);
- ``dbt``: dbt invocations as the Dagster assets run them, with per-node times;
- ``machine``: what the numbers were measured on;
- ``memory``: peak memory of a stage (this process, its children, the PostgreSQL server);
- ``report``: the rich table, the JSON under ``bench/results/`` (not committed) and the
  benchmark's own section of ``docs/benchmarks.md``.

Benchmarks: ``incremental_hour`` (an hourly dbt increment against the history length) and
``end_to_end`` (workloads S and M through ingestion via ccxt, the GX gates, dbt and the
portfolio manager, against raw COPY, TA-Lib and the incremental hour in the same run).
"""
