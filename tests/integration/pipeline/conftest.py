"""The whole pipeline on real services: a warehouse database and dagster-postgres run storage on
the test cluster, the simulator as a child process with a frozen clock, ccxt, dbt and GX for real,
and the project's Dagster code location run in process."""

from __future__ import annotations

import fcntl
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from orchestration.embedded_postgres import APP_ROLE, EmbeddedPostgres
from orchestration.platform import write_dagster_home
from orchestration.resources.database import ConnectionParams
from orchestration.resources.dbt import prepare_manifest
from orchestration.runs import run_job
from orchestration.settings import KUCOIN_PUBLIC_WEIGHT_BUDGET
from simulator.config import SimulatorConfig
from simulator.faults import FaultProfile
from simulator.server import SimulatorProcess
from tests.conftest import create_database

# The exchange's frozen clock, and the history the tests load: a day of hours ending before it.
EXCHANGE_NOW = datetime(2026, 11, 2, 0, 5, tzinfo=UTC)
DAY_START = datetime(2026, 11, 1, tzinfo=UTC)
SYMBOLS = 12
UNIVERSE = 60


def partition_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d-%H:%M")


def hour(offset: int) -> str:
    return partition_key(DAY_START + timedelta(hours=offset))


@dataclass
class Pipeline:
    """One isolated platform: its own warehouse, run storage, simulator and environment."""

    url: str
    instance: dg.DagsterInstance
    monkeypatch: pytest.MonkeyPatch
    simulators: list[SimulatorProcess] = field(default_factory=list)

    def start_simulator(self, faults: FaultProfile = FaultProfile(), **settings: Any) -> SimulatorProcess:
        """Start an exchange (stopping the current one) and point the code location at it."""
        self.stop_simulator()
        defaults: dict[str, Any] = {"n_contracts": UNIVERSE, "now_ms": int(EXCHANGE_NOW.timestamp() * 1000)}
        config = SimulatorConfig(faults=faults, **{**defaults, **settings})
        simulator = SimulatorProcess(config).__enter__()
        self.simulators.append(simulator)
        self.monkeypatch.setenv("ZMART_SIM_URL", simulator.url)
        return simulator

    def stop_simulator(self) -> None:
        while self.simulators:
            self.simulators.pop().__exit__()

    def run(self, job: str, first: str | None = None, last: str | None = None, assets: list[dg.AssetKey] | None = None) -> dg.ExecuteInProcessResult:
        from orchestration.definitions import defs

        return run_job(defs, self.instance, job, (first, last or first) if first else None, assets=assets)

    def status(self) -> dict[str, Any]:
        """The running simulator's /_sim/status: what it served, refused and injected."""
        with urllib.request.urlopen(self.simulators[-1].url + "/_sim/status", timeout=30) as response:
            return json.loads(response.read())

    def query(self, statement: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(statement, params).fetchall()  # type: ignore[arg-type]

    def execute(self, statements: str) -> None:
        """Run statements that return no rows (DDL), in one transaction."""
        with psycopg.connect(self.url) as conn:
            conn.execute(statements)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Parse the project before orchestration.definitions is imported (the dbt assets read
    dbt_project/target/manifest.json). pytest-xdist workers share that file: the first worker
    parses under a lock, the others find it done and never rewrite it while it is read."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        prepare_manifest()
        return
    shared = tmp_path_factory.getbasetemp().parent  # the session's temp root, common to its workers
    with (shared / "dbt_manifest.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "dbt_manifest.done").exists():
            prepare_manifest()
            (shared / "dbt_manifest.done").touch()


def _empty_database(cluster: EmbeddedPostgres) -> str:
    name = f"zmart_dagster_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(APP_ROLE)))
    return cluster.url(name)


@contextmanager
def isolated_pipeline(cluster: EmbeddedPostgres, dagster_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    """A fresh warehouse and run storage on ``cluster``, the environment pointed at them."""
    url = create_database(cluster)
    write_dagster_home(dagster_home, schema=None)
    for key, value in {
        **ConnectionParams.from_url(_empty_database(cluster)).dagster_storage_env(),
        **ConnectionParams.from_url(url).dbt_env(),
        "ZMART_DATABASE_URL": url,
        "ZMART_EXCHANGE": "sim",
        "ZMART_MAX_SYMBOLS": str(SYMBOLS),
        "ZMART_EXCHANGE_WEIGHT_BUDGET": str(KUCOIN_PUBLIC_WEIGHT_BUDGET),
        "ZMART_EXCHANGE_TIMEOUT_MS": "10000",
        "ZMART_SIGNALS_DIR": str(dagster_home.parent / "signals"),
        "DAGSTER_HOME": str(dagster_home),
    }.items():
        monkeypatch.setenv(key, value)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    platform = Pipeline(url, instance, monkeypatch)
    try:
        yield platform
    finally:
        platform.stop_simulator()
        instance.dispose()


@pytest.fixture()
def pipeline(pg_cluster: EmbeddedPostgres, dbt_manifest: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    with isolated_pipeline(pg_cluster, tmp_path / "dagster", monkeypatch) as platform:
        yield platform
