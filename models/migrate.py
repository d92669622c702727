"""Apply the raw-layer schema migrations in ``models/migrations`` to a PostgreSQL database.

Migrations are plain SQL files named ``V<version>__<name>.sql``. Each runs in its own
transaction under an advisory lock, and its checksum is recorded in ``meta.schema_migrations``:
a file edited after it was applied is refused, so the ledger stays a true change history.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_FILE_PATTERN = re.compile(r"^V(?P<version>\d{4})__(?P<name>[a-z0-9_]+)\.sql$")
# Arbitrary constant: one lock id shared by every process that migrates this database.
_ADVISORY_LOCK_ID = 7_246_331_901

_LEDGER_DDL = """
create schema if not exists meta;
create table if not exists meta.schema_migrations (
    version     integer     primary key,
    name        text        not null,
    checksum    text        not null,
    applied_at  timestamptz not null default clock_timestamp(),
    applied_by  text        not null default current_user
);
comment on table meta.schema_migrations is 'Change history of the raw-layer schema: one row per applied migration.';
"""


class MigrationError(RuntimeError):
    """The migration files and the database's ledger disagree."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a misnamed file or a duplicate version is an error."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files must be named V<4 digits>__<lower_snake_name>.sql")
        version = int(match["version"])
        if version in migrations:
            raise MigrationError(f"{path}: version {version} is also used by {migrations[version].path.name}")
        migrations[version] = Migration(version, match["name"], path)
    return [migrations[v] for v in sorted(migrations)]


def apply_migrations(url: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply every pending migration; returns the ones applied by this call."""
    migrations = discover(directory)
    applied_now: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_ADVISORY_LOCK_ID,))
        try:
            conn.execute(_LEDGER_DDL)
            ledger = {
                version: (name, checksum)
                for version, name, checksum in conn.execute(
                    "select version, name, checksum from meta.schema_migrations"
                )
            }
            _verify_ledger(migrations, ledger)
            for migration in migrations:
                if migration.version in ledger:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "insert into meta.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_ADVISORY_LOCK_ID,))
    return applied_now


def _verify_ledger(migrations: list[Migration], ledger: dict[int, tuple[str, str]]) -> None:
    known = {m.version: m for m in migrations}
    for version, (name, checksum) in sorted(ledger.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration V{version:04d}__{name} which is not among the files in "
                f"{MIGRATIONS_DIR}: it was applied by a newer version of this project"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"{migration.path.name} was edited after it was applied (checksum {checksum[:12]} in the "
                "database): add a new migration instead of changing an applied one"
            )
