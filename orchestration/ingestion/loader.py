"""Idempotent loads into raw tables: COPY into a temporary table, then insert-on-conflict.

Runs inside the caller's transaction (one per partition window), so a failure leaves nothing
behind. The first accepted version of a natural key wins: a re-fetch that returns the same
values is counted as unchanged, and one that returns different values is quarantined as
``conflicts_with_stored`` instead of overwriting what is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pandas as pd
import psycopg
from psycopg import sql

from models.rejections import Rejection, storable, to_json
from models.tables import RawTable
from orchestration.ingestion.batches import LoadCounts

_STAGE = "zmart_stage"


def load_rows(
    conn: psycopg.Connection, table: RawTable, batch_id: int, accepted: pd.DataFrame, rejections: Sequence[Rejection]
) -> LoadCounts:
    inserted = conflicts = 0
    if len(accepted):
        if table.partition_step is not None:
            _ensure_partitions(conn, table, accepted[table.time_column])
        _stage(conn, table, batch_id, accepted)
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


def _stage(conn: psycopg.Connection, table: RawTable, batch_id: int, accepted: pd.DataFrame) -> None:
    conn.execute(
        sql.SQL("create temporary table {} (like {}) on commit drop").format(
            sql.Identifier(_STAGE), sql.Identifier(table.schema, table.name)
        )
    )
    frame = (
        accepted.loc[:, list(table.columns)]
        .assign(batch_id=batch_id, _hour=pd.to_datetime(accepted[table.time_column], utc=True).dt.floor("h"))
        .sort_values(["_hour", *table.key])
        .drop(columns="_hour")
    )
    for column in table.json_columns:
        frame[column] = frame[column].map(to_json)
    columns = sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    copy_sql = sql.SQL("copy {} ({}) from stdin (format csv)").format(sql.Identifier(_STAGE), columns)
    with conn.cursor().copy(copy_sql) as copy:
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
