"""The embedded default: a PostgreSQL cluster the project initialises, starts and owns.

Used when ``ZMART_DATABASE_URL`` is unset. The cluster lives under ``<state dir>/postgres``,
listens on 127.0.0.1 only, authenticates with a random password (scram-sha-256) kept in a
0600 file, and hosts two databases: ``zmart`` (the warehouse) and ``zmart_dagster`` (Dagster's
run, event and schedule storage). PostgreSQL refuses to run as root, so when the caller is
root every server-side command runs as the ``postgres`` system user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from models.security import ensure_roles

APP_ROLE = "zmart"
WAREHOUSE_DB = "zmart"
DAGSTER_DB = "zmart_dagster"
_SERVER_USER = "postgres"

# Sized for the 2-core / 24 GiB machines this runs on; analytic loads, few connections.
_SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "100",
    "shared_buffers": "'1GB'",
    "effective_cache_size": "'8GB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'15min'",
    "jit": "off",  # JIT compilation costs more than it saves on these short analytic queries
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
}


class EmbeddedPostgresError(RuntimeError):
    """The embedded cluster could not be initialised, started or reached."""


@dataclass(frozen=True)
class ClusterStatus:
    initialized: bool
    running: bool
    port: int
    data_dir: Path
    pid: int | None


class EmbeddedPostgres:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data_dir = root / "data"
        self.run_dir = root / "run"  # unix socket and server log: must be writable by the server user
        self.password_file = root / "password"

    # -- queries -----------------------------------------------------------------------------

    @property
    def log_file(self) -> Path:
        return self.run_dir / "postgres.log"

    def is_initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and self.password_file.exists()

    def status(self) -> ClusterStatus:
        pid = self._server_pid() if self.is_initialized() else None
        return ClusterStatus(self.is_initialized(), pid is not None, self.port, self.data_dir, pid)

    def url(self, database: str = WAREHOUSE_DB) -> str:
        """Connection URL of the application role."""
        return self._url(APP_ROLE, database)

    def superuser_url(self, database: str = "postgres") -> str:
        """Connection URL of the cluster's superuser, for administration only."""
        return self._url(_SERVER_USER, database)

    def _url(self, role: str, database: str) -> str:
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{database}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> bool:
        """Initialise if needed and start; returns False when the server was already running."""
        if not self.is_initialized():
            self._initdb()
        if self._server_pid() is not None:
            return False
        if _port_in_use(self.port):
            raise EmbeddedPostgresError(
                f"port {self.port} on 127.0.0.1 is taken by another process; set ZMART_PG_PORT to a free port"
            )
        result = self._run_as_server(
            [
                self._bin("pg_ctl"), "start", "--wait", "--timeout=60",
                "-D", str(self.data_dir), "-l", str(self.log_file),
                "-o", f"-p {self.port} -k {self.run_dir}",
            ],
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"pg_ctl start failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}; "
                f"server log: {self.log_file}"
            )
        self._ensure_databases()
        return True

    def stop(self, *, discard: bool = False) -> bool:
        """Stop the server; returns False when it was not running.

        A fast shutdown ends with a checkpoint, which keeps the data safe but can take minutes on
        a loaded machine with many databases; ``discard`` (a cluster about to be deleted, such as
        the tests') stops immediately instead, without writing anything back.
        """
        if not self.is_initialized() or self._server_pid() is None:
            return False
        mode = "immediate" if discard else "fast"
        self._run_as_server([self._bin("pg_ctl"), "stop", "--wait", "-m", mode, "-D", str(self.data_dir)])
        return True

    # -- internals ---------------------------------------------------------------------------

    def _initdb(self) -> None:
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.data_dir} exists but holds no complete cluster (no PG_VERSION or password file); "
                "move it away to let the project create a fresh one"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self._assert_server_can_reach(self.root)
        for directory in (self.data_dir, self.run_dir):
            directory.mkdir(exist_ok=True)
            self._give_to_server(directory)
        self.data_dir.chmod(0o700)
        password = secrets.token_urlsafe(24)
        # initdb reads the superuser password from a file the server user can read; remove it at once.
        pwfile = self.run_dir / "initdb-password"
        pwfile.write_text(password + "\n")
        self._give_to_server(pwfile)
        pwfile.chmod(0o600)
        try:
            self._run_as_server(
                [
                    self._bin("initdb"), "-D", str(self.data_dir), "-U", _SERVER_USER,
                    "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8",
                    "--locale=C.UTF-8", "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a", encoding="utf-8") as handle:
            handle.write("\n# zmart embedded defaults\n")
            handle.writelines(f"{key} = {value}\n" for key, value in _SERVER_SETTINGS.items())
        self._give_to_server(conf)
        # Written last: its presence marks the cluster as completely initialised.
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)

    def _ensure_databases(self) -> None:
        password = self.password_file.read_text().strip()
        with psycopg.connect(self.superuser_url(), autocommit=True) as conn:
            if conn.execute("select 1 from pg_roles where rolname = %s", (APP_ROLE,)).fetchone() is None:
                conn.execute(
                    sql.SQL("create role {} login password {}").format(sql.Identifier(APP_ROLE), sql.Literal(password))
                )
            ensure_roles(conn, APP_ROLE)  # cluster-wide: every database of the cluster can be migrated
            for database in (WAREHOUSE_DB, DAGSTER_DB):
                if conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone() is None:
                    conn.execute(
                        sql.SQL("create database {} owner {}").format(sql.Identifier(database), sql.Identifier(APP_ROLE))
                    )

    def _server_pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, PermissionError, IndexError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by another user
        return pid

    @staticmethod
    def _bin(name: str) -> str:
        return str(_postgres_bindir() / name)

    def _run_as_server(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        program = Path(argv[0]).name
        if os.geteuid() == 0:
            argv = ["runuser", "-u", _SERVER_USER, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, cwd="/", check=False)
        if check and result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{program} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def _assert_server_can_reach(self, directory: Path) -> None:
        if os.geteuid() != 0:
            return
        probe = subprocess.run(["runuser", "-u", _SERVER_USER, "--", "test", "-x", str(directory)], check=False)
        if probe.returncode != 0:
            blocked = next((p for p in reversed(directory.parents) if not p.stat().st_mode & 0o001), directory)
            raise EmbeddedPostgresError(
                f"the {_SERVER_USER} system user cannot reach {directory} (no search permission on {blocked}); "
                "PostgreSQL must run as that user, so keep the cluster under a directory it can traverse "
                "(set ZMART_HOME) or `chmod o+x` the blocking directory"
            )

    @staticmethod
    def _give_to_server(path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(_SERVER_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _postgres_bindir() -> Path:
    """PostgreSQL's server binaries: pg_config's bindir, else the newest Debian-style install."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
        if (bindir / "pg_ctl").exists():
            return bindir
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise EmbeddedPostgresError(
            "PostgreSQL server binaries (pg_ctl, initdb) were not found: install PostgreSQL 15 "
            "or set ZMART_DATABASE_URL to use an existing server"
        )
    return candidates[-1].parent
