"""A throwaway PostgreSQL cluster for a benchmark: its own temp directory and free port, never
the user's ``.zmart`` cluster, with one migrated database per measured case."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from models.migrate import apply_migrations
from orchestration.embedded_postgres import APP_ROLE, EmbeddedPostgres


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def scratch_cluster() -> Iterator[EmbeddedPostgres]:
    """A started cluster in a new temp directory, stopped and removed on exit."""
    # Not under a private (0700) temp dir: as root the server runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="zmart-bench-pg-"))
    root.chmod(0o755)
    cluster = EmbeddedPostgres(root, free_port())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def migrated_database(cluster: EmbeddedPostgres, prefix: str) -> str:
    """A new database owned by the application role with the schema migrations applied; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(cluster.superuser_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(APP_ROLE)))
    url = cluster.url(name)
    apply_migrations(url)
    return url


def settle(cluster: EmbeddedPostgres, database: str) -> float:
    """VACUUM (ANALYZE) every table of ``database``, what autovacuum does within minutes of a bulk
    load; its seconds. Without it an increment timed right after a full build shares the machine
    with autovacuum working through that build's rows, the more of them the longer the history."""
    began = time.perf_counter()
    with psycopg.connect(cluster.superuser_url(database), autocommit=True) as conn:
        conn.execute("vacuum (analyze)")
    return time.perf_counter() - began


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("select version()").fetchone()
    assert row is not None
    return str(row[0])


def server_pid(cluster: EmbeddedPostgres) -> int | None:
    """The postmaster's process id, from its pid file (None when the server is not running)."""
    try:
        return int((cluster.data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, IndexError, ValueError):
        return None
