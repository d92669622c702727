"""Benchmark of the rolling return correlations (int_return_comoments_1d -> int_return_correlations_30d).

Fills an int_returns_1h-shaped table (the columns the two models read) with synthetic 1h log
returns of N contracts over D days, correlated through a market and a sector factor, with missing
hours and late listings, in a scratch database of a PostgreSQL cluster started like the tests'
(orchestration/embedded_postgres.py, in a temporary directory, on a free port). Then runs the two
models with the real dbt CLI, as a full refresh and as the incremental run of the last day, and
prints wall time, rows and table sizes.

    PYTHONPATH=. .venv/bin/python -m bench.correlations [--symbols 500] [--days 30]

No candles are ingested: the upstream models are not run, only the two correlation models
(`dbt run --select`), which read `intermediate.int_returns_1h` as created here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

from orchestration.embedded_postgres import APP_ROLE, EmbeddedPostgres
from tests.integration.dbt.dbt_cli import Dbt, window

START = datetime(2026, 10, 1, tzinfo=UTC)
MODELS = ("int_return_comoments_1d", "int_return_correlations_30d")
SECTORS = 12
MISSING_HOUR_RATE = 0.002  # each contract-hour is missing with this probability (a gap)
LATE_LISTING_SHARE = 0.05  # contracts listed part-way through the period
RUN_TIMEOUT_SECONDS = 3600  # a full refresh of 500 contracts x 30 days takes minutes

RETURNS_DDL = """
create schema if not exists intermediate;
create table intermediate.int_returns_1h (
    symbol text not null,
    bucket_start timestamptz not null,
    hours_since_previous_bar integer,
    log_return_1 double precision
);
"""
RETURNS_INDEXES = """
create unique index on intermediate.int_returns_1h (symbol, bucket_start);
create index on intermediate.int_returns_1h (bucket_start);
analyze intermediate.int_returns_1h;
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh cluster in a temporary directory and an empty database owned by the app role."""
    root = Path(tempfile.mkdtemp(prefix="zmart-bench-pg-"))
    root.chmod(0o755)  # the server runs as the postgres user when this runs as root
    cluster = EmbeddedPostgres(root, free_port())
    cluster.start()
    try:
        with psycopg.connect(cluster.superuser_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("create database zmart_bench owner {}").format(sql.Identifier(APP_ROLE)))
        yield cluster.url("zmart_bench")
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def synthetic_returns(symbols: int, hours: int, seed: int = 7) -> Iterator[tuple[str, datetime, int | None, float | None]]:
    """int_returns_1h rows: r = beta x market + gamma x sector + idiosyncratic, with volatilities
    of 0.2% to 2% an hour; a missing hour makes the next bar's return span two hours."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0, 0.004, hours)
    sector_returns = rng.normal(0.0, 0.003, (SECTORS, hours))
    beta = rng.uniform(0.5, 1.5, symbols)
    gamma = rng.uniform(0.0, 1.0, symbols)
    sector = rng.integers(0, SECTORS, symbols)
    noise = rng.uniform(0.002, 0.02, symbols)
    first_hour = np.where(rng.random(symbols) < LATE_LISTING_SHARE, rng.integers(1, hours, symbols), 0)
    for i in range(symbols):
        symbol = f"S{i:04d}USDTM"
        returns = beta[i] * market + gamma[i] * sector_returns[sector[i]] + rng.normal(0.0, noise[i], hours)
        present = rng.random(hours) >= MISSING_HOUR_RATE
        previous: int | None = None
        for h in range(first_hour[i], hours):
            if not present[h]:
                continue
            gap = None if previous is None else h - previous
            yield symbol, START + timedelta(hours=h), gap, None if gap is None else float(returns[h])
            previous = h


def fill_returns(url: str, symbols: int, days: int) -> int:
    with psycopg.connect(url) as conn:
        conn.execute(RETURNS_DDL)  # type: ignore[arg-type]
        with conn.cursor() as cur, cur.copy(
            "copy intermediate.int_returns_1h (symbol, bucket_start, hours_since_previous_bar, log_return_1) from stdin"
        ) as copy:
            for row in synthetic_returns(symbols, days * 24):
                copy.write_row(row)
        conn.execute(RETURNS_INDEXES)  # type: ignore[arg-type]
        row = conn.execute("select count(*) from intermediate.int_returns_1h").fetchone()
    assert row is not None
    return int(row[0])


def run_models(dbt: Dbt, label: str, *args: str, dbt_vars: dict[str, str] | None = None) -> None:
    started = time.perf_counter()
    dbt.run("run", "--select", *MODELS, *args, dbt_vars=dbt_vars, timeout=RUN_TIMEOUT_SECONDS)
    wall = time.perf_counter() - started
    results = json.loads((dbt.work_dir / "target" / "run_results.json").read_text())["results"]
    print(f"{label}: dbt wall {wall:.1f} s")
    for result in results:
        rows = result.get("adapter_response", {}).get("rows_affected")
        print(f"  {result['unique_id'].split('.')[-1]:<30} {result['execution_time']:8.1f} s  {rows} rows")


def print_sizes(url: str) -> None:
    with psycopg.connect(url) as conn:
        for model in MODELS:
            rows, size = conn.execute(
                f"select count(*), pg_size_pretty(pg_total_relation_size('intermediate.{model}')) from intermediate.{model}"
            ).fetchone()  # type: ignore[misc]
            print(f"  {model:<30} {rows} rows, {size} with indexes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    if args.symbols < 2 or args.days < 2:
        parser.error("--symbols and --days must be at least 2")
    with scratch_database() as url, tempfile.TemporaryDirectory(prefix="zmart-bench-dbt-") as work_dir:
        started = time.perf_counter()
        rows = fill_returns(url, args.symbols, args.days)
        print(f"int_returns_1h: {rows} rows ({args.symbols} contracts x {args.days} days) in {time.perf_counter() - started:.1f} s")
        dbt = Dbt(url, Path(work_dir))
        run_models(dbt, f"full refresh ({args.days} days)", "--full-refresh")
        print_sizes(url)
        last_day = START + timedelta(days=args.days - 1)
        run_models(dbt, "incremental, the last day's window", dbt_vars=window(last_day, last_day + timedelta(days=1)))
        last_hour = last_day + timedelta(hours=23)
        run_models(dbt, "incremental, the last hour's window", dbt_vars=window(last_hour, last_hour + timedelta(hours=1)))
        print_sizes(url)


if __name__ == "__main__":
    main()
