"""The cold tier: whole partitions exported to Parquet, verified, then detached and dropped; and back.

An archive of one partition runs in one transaction that holds a SHARE lock on the partition
(no write can land between the checksum and the drop):

1. the content checksum is computed in PostgreSQL (raw.content_checksum);
2. the rows are written to Parquet, fsynced, and described by a manifest (table, bounds, rows,
   columns and their PostgreSQL types, each file's sha256, the content checksum);
3. the files are verified: each file's sha256 against the manifest, then the rows are loaded
   into a temporary table and their checksum, computed in PostgreSQL, must equal the source's;
4. only then is the archive recorded in meta.archived_partitions and the partition detached and
   dropped, and the transaction commits.

A crash before the commit leaves the partition attached and whole (the files written so far are
orphans a re-run does not reuse: each archive has its own directory). Archive files are never
deleted by the platform. A restore reverses it, verifying the files and the rows before the
partition is attached, in one transaction: a file that fails a check attaches nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
from psycopg import sql

from models.tables import PARTITIONED_TABLES, RawTable
from orchestration.partitioning.errors import ArchiveError, ChecksumError
from orchestration.partitioning.parquet import Column, arrow_schema, record_batch
from orchestration.partitioning.tiers import tier_of

MANIFEST_FORMAT = "zmart-partition-archive/1"
MANIFEST_NAME = "manifest.json"
_DATA_FILE = "part-00000.parquet"
_BATCH_ROWS = 50_000  # rows per fetch and per Parquet row group
_VERIFY_TABLE = "zmart_archive_verify"


@dataclass(frozen=True)
class PartitionArchive:
    table: str
    partition: str
    range_start: datetime
    range_end: datetime
    row_count: int
    content_checksum: str
    manifest: Path


def resolve_table(name: str, tables: tuple[RawTable, ...] = PARTITIONED_TABLES) -> RawTable:
    """The partitioned raw table named ``raw.<name>`` or ``<name>``."""
    for table in tables:
        if name in (table.qualified, table.name):
            return table
    raise ArchiveError(f"--table {name!r}: not a partitioned raw table (one of {', '.join(t.qualified for t in tables)})")


def archive_partitions(url: str, table: RawTable, before: datetime, root: Path, now: datetime | None = None) -> list[PartitionArchive]:
    """Archive every partition of ``table`` that ends on or before ``before``; returns what was archived."""
    if before.tzinfo is None:
        raise ArchiveError(f"--before {before}: needs a time zone (UTC is meant)")
    if before > (now or datetime.now(UTC)):
        raise ArchiveError(f"--before {before:%Y-%m-%d %H:%M} UTC is in the future: only partitions that have ended can be archived")
    with psycopg.connect(url) as conn:
        due = [(p, s, e) for p, s, e in _partitions(conn, table) if e <= before]
    return [_archive_one(url, table, p, s, e, root) for p, s, e in due]


def restore_partitions(
    url: str, table: RawTable, root: Path, hot_days: int, partition: str | None = None,
    start: datetime | None = None, end: datetime | None = None,
) -> list[PartitionArchive]:
    """Restore one archived partition (by name) or every one overlapping [start, end); returns what
    was restored. A partition restored already is left alone (nothing to do, no error)."""
    if (partition is None) == (start is None or end is None):
        raise ArchiveError("restore: give --partition NAME, or --from and --to (not both)")
    if start is not None and end is not None and end <= start:
        raise ArchiveError(f"--to {end:%Y-%m-%d %H:%M} must be after --from {start:%Y-%m-%d %H:%M}")
    with psycopg.connect(url) as conn:
        live = _archives(conn, table, partition, start, end, restored=False)
        if not live and not _archives(conn, table, partition, start, end, restored=True):
            what = f"partition {partition}" if partition else f"no partition overlapping [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M})"
            raise ArchiveError(f"{table.qualified}: {what} is not archived (meta.archived_partitions has no archive of it)")
    return [_restore_one(url, table, archive_id, root, hot_days) for archive_id in live]


# -- archive ------------------------------------------------------------------------------------


def _archive_one(url: str, table: RawTable, partition: str, start: datetime, end: datetime, root: Path) -> PartitionArchive:
    qualified = sql.Identifier(table.schema, partition)
    with psycopg.connect(url) as conn, conn.transaction():
        _lock_parent(conn, table)
        conn.execute(sql.SQL("lock table {} in share mode").format(qualified))
        checksum = _checksum(conn, f"{table.schema}.{partition}")
        columns = _columns(conn, f"{table.schema}.{partition}")
        archived_at = datetime.now(UTC)
        relative = Path(table.schema, table.name, partition, archived_at.strftime("%Y%m%dT%H%M%S%fZ"))
        directory = root / relative
        directory.mkdir(parents=True, exist_ok=False)
        rows = _export(conn, qualified, columns, directory / _DATA_FILE)
        manifest = {
            "format": MANIFEST_FORMAT,
            "table": table.qualified,
            "partition": partition,
            "range_start": start.isoformat(),
            "range_end": end.isoformat(),
            "row_count": rows,
            "columns": [{"name": c.name, "type": c.pg_type} for c in columns],
            "content_checksum": checksum,
            "content_checksum_method": "raw.content_checksum: row count and sums of the 64-bit halves of md5(row text)",
            "files": [{"path": _DATA_FILE, "rows": rows, "bytes": (directory / _DATA_FILE).stat().st_size,
                       "sha256": _sha256(directory / _DATA_FILE)}],
            "archived_at": archived_at.isoformat(),
        }
        manifest_sha = _write_manifest(directory / MANIFEST_NAME, manifest)
        _verify_rows(conn, table, directory, manifest)  # raises before anything is dropped
        conn.execute(
            """
            insert into meta.archived_partitions
                (parent_table, partition_name, range_start, range_end, row_count, content_checksum, manifest_path, manifest_sha256, archived_at)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (table.qualified, partition, start, end, rows, checksum, str(relative / MANIFEST_NAME), manifest_sha, archived_at),
        )
        conn.execute(sql.SQL("alter table {} detach partition {}").format(sql.Identifier(table.schema, table.name), qualified))
        conn.execute(sql.SQL("drop table {}").format(qualified))
    return PartitionArchive(table.qualified, partition, start, end, rows, checksum, directory / MANIFEST_NAME)


def _export(conn: psycopg.Connection, source: sql.Composable, columns: list[Column], path: Path) -> int:
    query = sql.SQL("select {} from {}").format(sql.SQL(", ").join(c.export_expression() for c in columns), source)
    rows = 0
    with conn.cursor(name="zmart_archive_export") as cursor, pq.ParquetWriter(path, arrow_schema(columns)) as writer:
        cursor.execute(query)
        while batch := cursor.fetchmany(_BATCH_ROWS):
            writer.write_batch(record_batch(columns, batch))
            rows += len(batch)
    _fsync(path)
    return rows


def _write_manifest(path: Path, manifest: dict[str, Any]) -> str:
    payload = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    path.write_bytes(payload)
    _fsync(path)
    _fsync(path.parent)
    return hashlib.sha256(payload).hexdigest()


# -- restore ------------------------------------------------------------------------------------


def _restore_one(url: str, table: RawTable, archive_id: int, root: Path, hot_days: int) -> PartitionArchive:
    with psycopg.connect(url) as conn, conn.transaction():
        _lock_parent(conn, table)
        row = conn.execute(
            """
            select partition_name, range_start, range_end, row_count, content_checksum, manifest_path, manifest_sha256
            from meta.archived_partitions where archive_id = %s and restored_at is null for update
            """,
            (archive_id,),
        ).fetchone()
        if row is None:  # restored by a concurrent call since it was listed
            raise ArchiveError(f"{table.qualified}: archive {archive_id} was restored meanwhile")
        partition, start, end, rows, checksum, manifest_path, manifest_sha = row
        manifest_file = root / manifest_path
        manifest = _read_manifest(manifest_file, manifest_sha)
        _check_restorable(conn, table, partition, checksum, manifest_file, manifest)
        target = sql.Identifier(table.schema, partition)
        conn.execute(
            sql.SQL("create table {} (like {} including defaults including constraints)").format(target, sql.Identifier(table.schema, table.name))
        )
        _load_files(conn, target, manifest_file.parent, manifest)
        restored = _checksum(conn, f"{table.schema}.{partition}")
        if restored != checksum:
            raise ChecksumError(f"{manifest_file}: the restored rows' checksum {restored} differs from the archived {checksum}; nothing was attached")
        conn.execute(
            sql.SQL("alter table {} attach partition {} for values from ({}) to ({})").format(
                sql.Identifier(table.schema, table.name), target, sql.Literal(start), sql.Literal(end)
            )
        )
        tier = tier_of(end, datetime.now(UTC), hot_days)
        conn.execute("select raw.apply_partition_tier(%s::regclass, %s)", (f"{table.schema}.{partition}", tier))
        conn.execute(
            "update meta.archived_partitions set restored_at = clock_timestamp(), restored_by = current_user where archive_id = %s",
            (archive_id,),
        )
    return PartitionArchive(table.qualified, partition, start, end, rows, checksum, manifest_file)


def _check_restorable(
    conn: psycopg.Connection, table: RawTable, partition: str, checksum: str, manifest_file: Path, manifest: dict[str, Any]
) -> None:
    """The manifest is this archive's, the table still has the archived columns, and the partition's name is free."""
    if (manifest["table"], manifest["partition"], manifest["content_checksum"]) != (table.qualified, partition, checksum):
        raise ChecksumError(f"{manifest_file}: describes {manifest['table']} {manifest['partition']}, not the archive of {table.qualified} {partition}")
    columns = [{"name": c.name, "type": c.pg_type} for c in _columns(conn, table.qualified)]
    if columns != manifest["columns"]:
        raise ArchiveError(
            f"{table.qualified}: its columns {columns} are not the archived ones {manifest['columns']}: "
            "the table changed since the archive, and a restore loads the archived columns only"
        )
    if conn.execute("select to_regclass(%s)", (f"{table.schema}.{partition}",)).fetchone() != (None,):
        raise ArchiveError(f"{table.qualified}: {table.schema}.{partition} exists already; drop or rename it before restoring the archive")


def _read_manifest(path: Path, expected_sha: str) -> dict[str, Any]:
    if not path.is_file():
        raise ArchiveError(f"{path}: the manifest is missing (is ZMART_ARCHIVE_DIR the archive root it was written under?)")
    payload = path.read_bytes()
    if hashlib.sha256(payload).hexdigest() != expected_sha:
        raise ChecksumError(f"{path}: sha256 differs from the one recorded in meta.archived_partitions: the manifest was changed")
    manifest: dict[str, Any] = json.loads(payload)
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ArchiveError(f"{path}: format {manifest.get('format')!r} is not {MANIFEST_FORMAT}")
    return manifest


# -- verification, shared by archive and restore -------------------------------------------------


def _verify_rows(conn: psycopg.Connection, table: RawTable, directory: Path, manifest: dict[str, Any]) -> None:
    """Load the files into a temporary table and compare their checksum, computed in PostgreSQL."""
    scratch = sql.Identifier(_VERIFY_TABLE)
    conn.execute(sql.SQL("create temporary table {} (like {}) on commit drop").format(scratch, sql.Identifier(table.schema, table.name)))
    _load_files(conn, scratch, directory, manifest)
    verified = _checksum(conn, _VERIFY_TABLE)
    conn.execute(sql.SQL("drop table {}").format(scratch))
    if verified != manifest["content_checksum"]:
        raise ChecksumError(f"{directory}: the written rows' checksum {verified} differs from the partition's {manifest['content_checksum']}")


def _load_files(conn: psycopg.Connection, target: sql.Composable, directory: Path, manifest: dict[str, Any]) -> None:
    """COPY the manifest's files into ``target`` after checking each file's sha256 and schema."""
    names = [c["name"] for c in manifest["columns"]]
    copy_sql = sql.SQL("copy {} ({}) from stdin").format(target, sql.SQL(", ").join(map(sql.Identifier, names)))
    for entry in manifest["files"]:
        path = directory / entry["path"]
        if not path.is_file():
            raise ArchiveError(f"{path}: the archive file is missing")
        if _sha256(path) != entry["sha256"]:
            raise ChecksumError(f"{path}: sha256 differs from the manifest's: the file was changed or damaged")
        parquet = pq.ParquetFile(path)
        if parquet.schema_arrow.names != names:
            raise ArchiveError(f"{path}: columns {parquet.schema_arrow.names} are not the manifest's {names}")
        with conn.cursor().copy(copy_sql) as copy:
            for row in _rows(parquet):
                copy.write_row(row)


def _rows(parquet: pq.ParquetFile) -> Iterator[tuple[object, ...]]:
    for batch in parquet.iter_batches(batch_size=_BATCH_ROWS):
        yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)


# -- catalogue queries --------------------------------------------------------------------------


def _partitions(conn: psycopg.Connection, table: RawTable) -> list[tuple[str, datetime, datetime]]:
    rows = conn.execute(
        "select partition::text, range_start, range_end from raw.partition_ranges(%s::regclass)", (table.qualified,)
    ).fetchall()
    return [(name.split(".")[-1], start, end) for name, start, end in rows]


def _archives(
    conn: psycopg.Connection, table: RawTable, partition: str | None, start: datetime | None, end: datetime | None, restored: bool,
) -> list[int]:
    rows = conn.execute(
        """
        select archive_id from meta.archived_partitions
        where parent_table = %(table)s and (restored_at is not null) = %(restored)s
          and (%(partition)s::text is null or partition_name = %(partition)s)
          and (%(start)s::timestamptz is null or (range_end > %(start)s and range_start < %(end)s))
        order by range_start
        """,
        {"table": table.qualified, "restored": restored, "partition": partition, "start": start, "end": end},
    ).fetchall()
    return [archive_id for (archive_id,) in rows]


def _columns(conn: psycopg.Connection, relation: str) -> list[Column]:
    rows = conn.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod), t.typname, e.typname
        from pg_attribute a
        join pg_type t on t.oid = a.atttypid
        left join pg_type e on e.oid = t.typelem and t.typcategory = 'A'
        where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
        order by a.attnum
        """,
        (relation,),
    ).fetchall()
    return [Column(*row) for row in rows]


def _checksum(conn: psycopg.Connection, relation: str) -> str:
    row = conn.execute("select raw.content_checksum(%s::regclass)", (relation,)).fetchone()
    assert row is not None
    return str(row[0])


def _lock_parent(conn: psycopg.Connection, table: RawTable) -> None:
    """The lock raw.ensure_partitions takes: no load creates partitions of the table meanwhile."""
    conn.execute("select pg_advisory_xact_lock(%s::regclass::oid::bigint)", (table.qualified,))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
