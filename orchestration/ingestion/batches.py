"""The load-batch ledger (raw.load_batches): every load opens a batch, then succeeds or fails.

A batch is opened in its own transaction so a failed or killed load still leaves a trace; its
completion is written in the same transaction as the data, so the ledger never claims rows
that were rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from models.rejections import storable


@dataclass(frozen=True)
class BatchSpec:
    asset: str
    source: str
    run_id: str | None
    partition_key: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None


@dataclass(frozen=True)
class LoadCounts:
    rows_in: int
    inserted: int
    unchanged: int
    quarantined: int

    def __add__(self, other: LoadCounts) -> LoadCounts:
        return LoadCounts(
            self.rows_in + other.rows_in,
            self.inserted + other.inserted,
            self.unchanged + other.unchanged,
            self.quarantined + other.quarantined,
        )


def open_batch(url: str, spec: BatchSpec) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            """
            insert into raw.load_batches (asset, partition_key, window_start, window_end, source, run_id)
            values (%s, %s, %s, %s, %s, %s)
            returning batch_id
            """,
            (spec.asset, spec.partition_key, spec.window_start, spec.window_end, spec.source, spec.run_id),
        ).fetchone()
    assert row is not None
    return int(row[0])


def complete_batch(conn: psycopg.Connection, batch_id: int, counts: LoadCounts, request_count: int, checksum: str) -> None:
    """Mark the batch succeeded; call inside the load's transaction."""
    conn.execute(
        """
        update raw.load_batches
        set status = 'succeeded', request_count = %s, rows_in = %s, rows_inserted = %s,
            rows_unchanged = %s, rows_quarantined = %s, checksum = %s, finished_at = clock_timestamp()
        where batch_id = %s
        """,
        (request_count, counts.rows_in, counts.inserted, counts.unchanged, counts.quarantined, checksum, batch_id),
    )


def fail_batch(url: str, batch_id: int, error: str, request_count: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            update raw.load_batches
            set status = 'failed', error = %s, request_count = %s, finished_at = clock_timestamp()
            where batch_id = %s
            """,
            (storable(error[:4000]), request_count, batch_id),
        )
