"""Idempotent loads into raw tables: COPY straight into the table when no key is stored yet,
else COPY into a temporary table, then insert-on-conflict.

Runs inside the caller's transaction (one per partition window), so a failure leaves nothing
behind. The first accepted version of a natural key wins: a re-fetch that returns the same
values is counted as unchanged, and one that returns different values is quarantined as
``conflicts_with_stored`` instead of overwriting what is stored.

The straight COPY is the common case (a window loaded for the first time) and costs what a raw
COPY costs. It is taken when no key repeats in the rows and one index probe finds no stored row
of the rows' key prefixes in their time range (a re-run of a stored window, or a repair of a
partly stored one, goes to the staged path without a refused COPY in the server's log). It still
runs under a savepoint: a key the probe cannot see (a concurrent load, a key without the time
column stored at another time) fails it on the primary key, rolls it back and takes the staged
path, which sorts the rows out: the outcome and the counts are the staged path's either way.
Columns whose types map one to one (float8, int8, text, timestamptz) are COPYed in binary, built
by numpy (orchestration.ingestion.binary_copy): no text formatting or parsing, no Python object
per value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pandas as pd
import psycopg
from psycopg import sql

from models.rejections import Rejection, storable, to_json
from models.tables import RawTable
from orchestration.ingestion import binary_copy
from orchestration.ingestion.batches import LoadCounts

_STAGE = "zmart_stage"


def load_rows(
    conn: psycopg.Connection, table: RawTable, batch_id: int, accepted: pd.DataFrame, rejections: Sequence[Rejection]
) -> LoadCounts:
    inserted = conflicts = 0
    if len(accepted):
        if table.partition_step is not None:
            _ensure_partitions(conn, table, accepted[table.time_column])
        frame = _in_load_order(table, batch_id, accepted)
        types = _column_types(conn, table, frame.columns)
        if not _may_hold_keys(conn, table, frame) and _copied_straight(conn, table, frame, types):
            inserted = len(frame)
        else:
            _stage(conn, table, frame, types)
            inserted = _insert_new(conn, table)
            if inserted < len(accepted):
                conflicts = _quarantine_conflicts(conn, table, batch_id)
            conn.execute(sql.SQL("drop table {}").format(sql.Identifier(_STAGE)))
    _quarantine(conn, table, batch_id, "load", rejections)
    return LoadCounts(
        rows_in=len(accepted) + len(rejections),
        inserted=inserted,
        unchanged=len(accepted) - inserted - conflicts,
        quarantined=len(rejections) + conflicts,
    )


def quarantine_rows(conn: psycopg.Connection, table: RawTable, batch_id: int, stage: str, rejections: Sequence[Rejection]) -> None:
    _quarantine(conn, table, batch_id, stage, rejections)


def _ensure_partitions(conn: psycopg.Connection, table: RawTable, times: pd.Series) -> None:
    conn.execute(
        "select raw.ensure_partitions(%s::regclass, %s, %s, %s::interval)",
        (table.qualified, times.min(), times.max() + timedelta(microseconds=1), table.partition_step),
    )


def _in_load_order(table: RawTable, batch_id: int, accepted: pd.DataFrame) -> pd.DataFrame:
    """The rows as loaded: the table's columns and the batch id, hour by hour then in key order
    (see _insert_new), JSON columns as text."""
    frame = (
        accepted.loc[:, list(table.columns)]
        .assign(batch_id=batch_id, _hour=pd.to_datetime(accepted[table.time_column], utc=True).dt.floor("h"))
        .sort_values(["_hour", *table.key])
        .drop(columns="_hour")
    )
    for column in table.json_columns:
        frame[column] = frame[column].map(to_json)
    return frame


def _column_types(conn: psycopg.Connection, table: RawTable, columns: pd.Index) -> list[str]:
    """PostgreSQL type names (float8, text, ...) of ``columns`` of the table, from a query that reads no row."""
    cursor = conn.execute(
        sql.SQL("select {} from {} where false").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table.schema, table.name)
        )
    )
    assert cursor.description is not None
    return [str(info.name) if (info := conn.adapters.types.get(c.type_code)) else "" for c in cursor.description]


def _may_hold_keys(conn: psycopg.Connection, table: RawTable, frame: pd.DataFrame) -> bool:
    """Whether a key of the rows repeats in them, or a row with one of their first key column's
    values in their time range is stored (one probe of the primary key's index per partition)."""
    if frame.duplicated(list(table.key)).any():
        return True
    prefix, time = table.key[0], table.time_column
    probe = sql.SQL("select exists (select from {} where {} = any(%s) and {} between %s and %s)").format(
        sql.Identifier(table.schema, table.name), sql.Identifier(prefix), sql.Identifier(time)
    )
    row = conn.execute(probe, (frame[prefix].unique().tolist(), frame[time].min(), frame[time].max())).fetchone()
    assert row is not None
    return bool(row[0])


def _copied_straight(conn: psycopg.Connection, table: RawTable, frame: pd.DataFrame, types: Sequence[str]) -> bool:
    """COPY the rows into the table itself; False (and nothing written) when a key is stored already."""
    try:
        with conn.transaction():  # a savepoint: a refused COPY leaves the load's transaction usable
            _copy(conn, sql.Identifier(table.schema, table.name), frame, types)
    except psycopg.errors.UniqueViolation:
        return False
    return True


def _stage(conn: psycopg.Connection, table: RawTable, frame: pd.DataFrame, types: Sequence[str]) -> None:
    conn.execute(
        sql.SQL("create temporary table {} (like {}) on commit drop").format(
            sql.Identifier(_STAGE), sql.Identifier(table.schema, table.name)
        )
    )
    _copy(conn, sql.Identifier(_STAGE), frame, types)


def _copy(conn: psycopg.Connection, target: sql.Composable, frame: pd.DataFrame, types: Sequence[str]) -> None:
    """COPY ``frame`` into ``target``: binary when every column maps to its type one to one, else CSV."""
    columns = sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    encoded = binary_copy.encode(frame, types)
    if encoded is not None:
        with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin (format binary)").format(target, columns)) as copy:
            copy.write(encoded)
        return
    with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(target, columns)) as copy:
        copy.write(frame.to_csv(index=False, header=False))


def _insert_new(conn: psycopg.Connection, table: RawTable) -> int:
    # Hour by hour, then in key order: rows land in the heap in the order inserted, and the warm
    # tier's BRIN on the time column (raw.apply_partition_tier) prunes an hour's window only if
    # each hour's rows are together (a 24-hour chunk arrives symbol after symbol). Within the
    # hour, key order keeps the primary key's inserts local. The stage is COPYed in this order
    # already (_stage), so the sort usually finds its input sorted and costs one pass (pandas
    # orders text by code point: under another collation the sort is a real one, still right).
    columns = sql.SQL(", ").join(map(sql.Identifier, (*table.columns, "batch_id")))
    cursor = conn.execute(
        sql.SQL(
            """
            insert into {target} ({columns})
            select {columns} from {stage}
            order by date_bin('1 hour', {time}, timestamptz '2000-01-01 00:00:00+00'), {key}
            on conflict ({key}) do nothing
            """
        ).format(
            target=sql.Identifier(table.schema, table.name),
            columns=columns,
            stage=sql.Identifier(_STAGE),
            time=sql.Identifier(table.time_column),
            key=sql.SQL(", ").join(map(sql.Identifier, table.key)),
        )
    )
    return cursor.rowcount


def _quarantine_conflicts(conn: psycopg.Connection, table: RawTable, batch_id: int) -> int:
    """Quarantine staged rows whose key is stored (by an earlier batch) with different values."""
    columns = [sql.Identifier(c) for c in ("batch_id", "stage", "rule", "detail", "symbol")]
    values: list[sql.Composable] = [
        sql.Placeholder("batch"),
        sql.Literal("load"),
        sql.Literal("conflicts_with_stored"),
        sql.SQL("'differs from the row stored by batch ' || t.batch_id"),
        sql.Identifier("s", "symbol"),
    ]
    if table.quarantine_time_column:
        columns.append(sql.Identifier(table.quarantine_time_column))
        values.append(sql.Identifier("s", table.quarantine_time_column))
    columns += [sql.Identifier(c) for c in table.provenance_columns]
    values += [sql.Identifier("s", c) for c in table.provenance_columns]
    columns.append(sql.Identifier("record"))
    values.append(sql.SQL("to_jsonb(s) - 'batch_id'"))
    query = sql.SQL(
        """
        insert into {quarantine} ({columns})
        select {values}
        from {stage} s
        join {target} t using ({key})
        where t.batch_id <> {batch} and ({stage_values}) is distinct from ({target_values})
        """
    ).format(
        quarantine=sql.Identifier("quarantine", table.name),
        columns=sql.SQL(", ").join(columns),
        values=sql.SQL(", ").join(values),
        stage=sql.Identifier(_STAGE),
        target=sql.Identifier(table.schema, table.name),
        key=sql.SQL(", ").join(map(sql.Identifier, table.key)),
        batch=sql.Placeholder("batch"),
        stage_values=sql.SQL(", ").join(sql.Identifier("s", c) for c in table.value_columns),
        target_values=sql.SQL(", ").join(sql.Identifier("t", c) for c in table.value_columns),
    )
    return conn.execute(query, {"batch": batch_id}).rowcount


def _quarantine(conn: psycopg.Connection, table: RawTable, batch_id: int, stage: str, rejections: Sequence[Rejection]) -> None:
    if not rejections:
        return
    columns = ["batch_id", "stage", "rule", "detail", "symbol", "record", *table.provenance_columns]
    if table.quarantine_time_column:
        columns.insert(5, table.quarantine_time_column)
    copy_sql = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier("quarantine", table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(copy_sql) as copy:
        for r in rejections:
            values = [batch_id, stage, storable(r.rule), storable(r.detail), storable(r.symbol), r.record_json()]
            values += [r.extra[c] for c in table.provenance_columns]
            if table.quarantine_time_column:
                values.insert(5, r.key_time)
            copy.write_row(values)
