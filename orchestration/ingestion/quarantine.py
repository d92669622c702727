"""Move stored rows that failed a quality gate from the raw table to its quarantine table.

The rows leave the raw layer (nothing downstream can read them), keep every value in
quarantine with the rules they broke, and the ledger of the batch that loaded them is adjusted
so that rows_in = inserted + unchanged + quarantined still holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from models.tables import RawTable


def quarantine_stored(url: str, table: RawTable, failures: Mapping[tuple[Any, ...], Sequence[str]], gate: str) -> int:
    """``failures`` maps a natural-key tuple to the rules its row broke; returns the rows moved."""
    if not failures:
        return 0
    keys = list(failures)
    key_types = _column_types(url, table)
    key_arrays = [[k[i] for k in keys] for i in range(len(table.key))]
    rules = [",".join(sorted(failures[k])) for k in keys]
    key_columns = sql.SQL(", ").join(map(sql.Identifier, table.key))
    time_column = table.quarantine_time_column
    query = sql.SQL(
        """
        with failed as (
            select * from unnest({arrays}, %(rules)s::text[]) as f({key_columns}, rules)
        ),
        moved as (
            delete from {target} t using failed f
            where {join}
            returning t.*, f.rules
        ),
        quarantined as (
            insert into {quarantine} (batch_id, stage, rule, detail, symbol, {time_insert} record)
            select batch_id, 'gate', split_part(rules, ',', 1),
                   %(gate)s || ' failed: ' || rules, symbol, {time_select} to_jsonb(moved) - 'batch_id' - 'rules'
            from moved
            returning batch_id
        )
        select batch_id, count(*) from quarantined group by batch_id
        """
    ).format(
        # typed as the table's key columns: untyped text arrays would make unnest() ambiguous
        arrays=sql.SQL(", ").join(
            sql.SQL("{}::{}[]").format(sql.Placeholder(f"k{i}"), sql.SQL(key_types[column]))
            for i, column in enumerate(table.key)
        ),
        key_columns=key_columns,
        target=sql.Identifier(table.schema, table.name),
        join=sql.SQL(" and ").join(sql.SQL("t.{c} = f.{c}").format(c=sql.Identifier(c)) for c in table.key),
        quarantine=sql.Identifier("quarantine", table.name),
        time_insert=sql.SQL("{}, ").format(sql.Identifier(time_column)) if time_column else sql.SQL(""),
        time_select=sql.SQL("{}, ").format(sql.Identifier(time_column)) if time_column else sql.SQL(""),
    )
    params: dict[str, Any] = {f"k{i}": arr for i, arr in enumerate(key_arrays)}
    params.update(rules=rules, gate=gate)
    with psycopg.connect(url) as conn, conn.transaction():
        per_batch = conn.execute(query, params).fetchall()
        conn.execute(
            """
            update raw.load_batches b
            set rows_inserted = b.rows_inserted - m.moved, rows_quarantined = b.rows_quarantined + m.moved
            from unnest(%s::bigint[], %s::bigint[]) as m(batch_id, moved)
            where b.batch_id = m.batch_id
            """,
            ([b for b, _ in per_batch], [n for _, n in per_batch]),
        )
    return sum(n for _, n in per_batch)


def _column_types(url: str, table: RawTable) -> dict[str, str]:
    """SQL type names of the table's columns, from the catalog."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            select a.attname, format_type(a.atttypid, a.atttypmod)
            from pg_attribute a
            where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
            """,
            (table.qualified,),
        ).fetchall()
    return dict(rows)
