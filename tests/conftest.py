"""Shared fixtures: one real PostgreSQL cluster per test session, migrated template databases,
and a fresh database per test module cloned from the template (cheap, fully isolated)."""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from _pytest.nodeid import NodeId
from psycopg import sql

from models.security import migrate
from orchestration.embedded_postgres import APP_ROLE, EmbeddedPostgres

TEMPLATE_DB = "zmart_test_template"
# session fixtures that build a database once for several modules (tests/integration/dbt/conftest.py,
# tests/integration/ui/conftest.py)
SHARED_BUILDS = ("synthetic_built", "portfolio_built", "materialised")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """Under pytest-xdist (`-n 2 --dist loadgroup`) each worker has its own session (cluster, shared
    builds): keep a module's tests on one worker, so its module fixtures run once, and the modules
    that share a session-built database on one worker, so it is built once.

    The markers go on before every other implementation runs (xdist's worker reads them in its
    own implementation of this hook). xdist 3.8 then appends "@group" to each item's legacy
    ``_nodeid``, which pytest 9.2 no longer reads (node ids are structured: pytest-xdist#1386),
    so the group is written into the structured id here, as xdist's pending fix does; without
    it the scheduler sees no groups and spreads a module's tests over both workers."""
    if not config.pluginmanager.hasplugin("xdist"):
        return (yield)
    group: dict[str, str] = {}
    for item in items:  # item.id.path: the module's path, from the structured id
        shared = [name for name in SHARED_BUILDS if name in getattr(item, "fixturenames", ())]
        group[item.id.path] = shared[0] if shared else group.get(item.id.path, item.id.path)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group[item.id.path]))
    result = yield
    if hasattr(config, "workerinput") and config.getvalue("loadgroup"):
        for item in items:
            suffix = f"@{group[item.id.path]}"
            if not item.nodeid.endswith(suffix):
                item._id = NodeId.parse(item.nodeid + suffix)  # noqa: SLF001 (see the docstring)
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[EmbeddedPostgres]:
    # Not under pytest's tmp dir: that is private (0700) to the test user, and the server runs
    # as the postgres system user when the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="zmart-test-pg-"))
    root.chmod(0o755)
    cluster = EmbeddedPostgres(root, free_port())
    cluster.start()
    with psycopg.connect(cluster.superuser_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("alter role {} createdb").format(sql.Identifier(APP_ROLE)))
        conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(TEMPLATE_DB), sql.Identifier(APP_ROLE)))
    migrate(cluster.url(TEMPLATE_DB), cluster.superuser_url(TEMPLATE_DB))  # roles, migrations, sealed ledgers
    yield cluster
    cluster.stop(discard=True)  # deleted next: no shutdown checkpoint to wait for
    shutil.rmtree(root, ignore_errors=True)


def create_database(cluster: EmbeddedPostgres, prefix: str = "zmart_test", template: str = TEMPLATE_DB) -> str:
    """A new database cloned from `template` (by default the migrated, empty one); returns its URL.
    The template must have no open connection while it is cloned."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(template)))
    return cluster.url(name)


@pytest.fixture(scope="module")
def database_url(pg_cluster: EmbeddedPostgres) -> str:
    return create_database(pg_cluster)
