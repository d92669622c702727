"""``zmart db``: the embedded cluster's lifecycle through the real console script, and the URL override."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from models.security import AUDIT_OWNER
from orchestration.embedded_postgres import APP_ROLE, EmbeddedPostgres
from tests.conftest import create_database, free_port

ZMART = Path(sys.executable).parent / "zmart"


def zmart(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ZMART_", "DAGSTER_"))}
    return subprocess.run([str(ZMART), *args], env={**clean, **env}, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture()
def home() -> Iterator[dict[str, str]]:
    # Not under pytest's private tmp dir: the server runs as the postgres user and must reach it.
    root = Path(tempfile.mkdtemp(prefix="zmart-cli-"))
    root.chmod(0o755)
    env = {"ZMART_HOME": str(root), "ZMART_PG_PORT": str(free_port())}
    yield env
    zmart("db", "stop", env=env)
    shutil.rmtree(root, ignore_errors=True)


def test_the_embedded_cluster_starts_idempotently_stops_cleanly_and_keeps_its_data(home: dict[str, str]) -> None:
    started = zmart("db", "start", env=home)
    assert started.returncode == 0, started.stderr
    assert f"PostgreSQL running on 127.0.0.1:{home['ZMART_PG_PORT']}" in started.stdout
    assert zmart("db", "start", env=home).returncode == 0  # already running: nothing to do

    status = zmart("db", "status", env=home).stdout
    assert "initialised, running (pid" in status
    url = zmart("db", "url", env=home).stdout.strip()
    assert url.startswith(f"postgresql://zmart:") and url.endswith(f"@127.0.0.1:{home['ZMART_PG_PORT']}/zmart")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select count(*) from meta.schema_migrations").fetchone()[0] >= 2  # migrated on start
        conn.execute("create table public.survives_restart (x int)")
    assert (Path(home["ZMART_HOME"]) / "dagster" / "dagster.yaml").read_text().count("postgresql+psycopg2") == 1

    assert zmart("db", "stop", env=home).stdout.strip() == "stopped"
    assert "stopped" in zmart("db", "status", env=home).stdout
    assert zmart("db", "stop", env=home).stdout.strip() == "not running"

    assert zmart("db", "start", env=home).returncode == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("select to_regclass('public.survives_restart') is not null").fetchone() == (True,)


def test_a_database_url_replaces_the_embedded_cluster(pg_cluster: EmbeddedPostgres, home: dict[str, str]) -> None:
    url = create_database(pg_cluster)
    env = {**home, "ZMART_DATABASE_URL": url}
    status = zmart("db", "status", env=env)
    assert "using ZMART_DATABASE_URL=postgresql://zmart:***@" in status.stdout  # the password is not printed
    refused = zmart("db", "start", env=env)
    assert refused.returncode != 0 and "ZMART_DATABASE_URL is set: the platform uses that server" in refused.stderr
    assert not (Path(home["ZMART_HOME"]) / "postgres").exists()  # no cluster of its own
    assert zmart("db", "url", env=env).stdout.strip() == url


def test_db_secure_sets_up_a_server_of_your_own(pg_cluster: EmbeddedPostgres, home: dict[str, str]) -> None:
    name = f"zmart_secure_{free_port()}"
    with psycopg.connect(pg_cluster.superuser_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(APP_ROLE)))
    env = {**home, "ZMART_DATABASE_URL": pg_cluster.url(name)}
    missing = zmart("db", "secure", env=env)
    assert missing.returncode != 0 and "ZMART_SUPERUSER_URL" in missing.stderr
    secured = zmart("db", "secure", env={**env, "ZMART_SUPERUSER_URL": pg_cluster.superuser_url(name)})
    assert secured.returncode == 0, secured.stderr
    assert "V0008__roles_and_audit.sql" in secured.stdout and "ledgers sealed" in secured.stdout
    with psycopg.connect(pg_cluster.url(name)) as conn:
        owner = conn.execute("select tableowner from pg_tables where schemaname = 'audit' and tablename = 'change_log'").fetchone()
    assert owner == (AUDIT_OWNER,)
    refused = zmart("db", "secure", env={**env, "ZMART_SUPERUSER_URL": pg_cluster.url(name)})  # not a superuser
    assert refused.returncode != 0 and "connected as 'zmart', which is not a superuser" in refused.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ZMART_PG_PORT": "80"}, "ZMART_PG_PORT='80': must be a port number between 1024 and 65535"),
        ({"ZMART_DATABASE_URL": "mysql://u@h/db"}, "ZMART_DATABASE_URL: expected postgresql://"),
        ({"ZMART_SIM_FAULTS": "ohlc_inverted=lots"}, "ZMART_SIM_FAULTS: fault ohlc_inverted='lots'"),
    ],
)
def test_a_bad_setting_is_one_clear_line(home: dict[str, str], env: dict[str, str], message: str) -> None:
    result = zmart("db", "status", env={**home, **env})
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
