"""Import one signal file as one load batch: validate, load, quarantine, score the texts.

The file's sha256 is the batch checksum. A file whose exact bytes a succeeded batch already
loaded is not loaded again: the new batch records every row as unchanged and writes nothing
else (no row, no quarantine entry, no sentiment), so re-importing a file changes nothing.
A different file that repeats signals follows the loader's rule: the same values are unchanged,
different values under a stored (source, external_id) are quarantined as conflicts_with_stored.
Imports of the same bytes are serialised by an advisory lock on the sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from models.sentiment import MODEL, MODEL_VERSION, SCORE_COLUMNS, score_texts
from models.signals import SignalFile, read_signal_file, validate_signals
from models.tables import SIGNALS
from orchestration.ingestion.batches import BatchSpec, LoadCounts, complete_batch, fail_batch, open_batch
from orchestration.ingestion.loader import load_rows

ASSET = "signals"


@dataclass(frozen=True)
class SignalImport:
    file: SignalFile
    batch_id: int
    counts: LoadCounts
    already_loaded: bool  # the same bytes were loaded before: nothing was written but the ledger row


def import_signal_file(url: str, path: Path, run_id: str | None = None) -> SignalImport:
    """Load ``path``; raises SignalFileError (nothing written) when the file cannot be read at all."""
    parsed = read_signal_file(path)
    batch_id = open_batch(url, BatchSpec(asset=ASSET, source=parsed.file.name, run_id=run_id))
    try:
        with psycopg.connect(url, application_name="zmart-signals") as conn, conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (parsed.file.sha256,))
            already = _loaded_before(conn, parsed.file.sha256, batch_id)
            if already:
                counts = LoadCounts(rows_in=parsed.rows_in, inserted=0, unchanged=parsed.rows_in, quarantined=0)
            else:
                validation = validate_signals(parsed)
                counts = load_rows(conn, SIGNALS, batch_id, validation.accepted, validation.rejections)
                _score_inserted(conn, batch_id)
            complete_batch(conn, batch_id, counts, 0, parsed.file.sha256)
    except BaseException as error:
        fail_batch(url, batch_id, f"{type(error).__name__}: {error}", 0)
        raise
    return SignalImport(parsed.file, batch_id, counts, already)


def _loaded_before(conn: psycopg.Connection, sha256: str, batch_id: int) -> bool:
    row = conn.execute(
        "select exists (select from raw.load_batches where asset = %s and checksum = %s and status = 'succeeded' and batch_id <> %s)",
        (ASSET, sha256, batch_id),
    ).fetchone()
    return bool(row and row[0])


def _score_inserted(conn: psycopg.Connection, batch_id: int) -> None:
    """VADER scores of the texts this batch inserted (rows stored earlier were scored by their batch)."""
    rows = conn.execute(
        "select source, external_id, text from raw.signals where batch_id = %s and text is not null order by source, external_id",
        (batch_id,),
    ).fetchall()
    if not rows:
        return
    scores = score_texts(text for _, _, text in rows)
    columns = ("source", "external_id", "model", "model_version", *SCORE_COLUMNS, "batch_id")
    with conn.cursor().copy(f"copy raw.signal_sentiment ({', '.join(columns)}) from stdin") as copy:
        for (source, external_id, _), score in zip(rows, scores.itertuples(index=False), strict=True):
            copy.write_row((source, external_id, MODEL, MODEL_VERSION, *score, batch_id))


def first_affected_receipt(url: str, run_id: str, event_window_minutes: int) -> datetime | None:
    """The earliest receipt the signals a run inserted can change the dbt models at, or None when it inserted none.

    A new signal joins the event of the near-duplicates it links (int_signal_event_members), and
    that event counts in the hour of its first receipt, which can precede the new signal's own.
    Near-duplicates share symbol and direction and are published at most ``event_window_minutes``
    apart, so an event lies within one chain of such publications (consecutive ones at most that
    far apart; text similarity is not looked at): the chain's first receipt is never later than
    the event's."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """
            with imported as (
                select signals.symbol, signals.direction, signals.published_at
                from raw.signals
                inner join raw.load_batches as batches on batches.batch_id = signals.batch_id
                where batches.asset = %(asset)s and batches.run_id = %(run_id)s and batches.status = 'succeeded'
            ),
            related as (
                select symbol, direction, published_at, received_at,
                       published_at - lag(published_at) over (partition by symbol, direction order by published_at) as gap
                from raw.signals
                where (symbol, direction) in (select symbol, direction from imported)
            ),
            chained as (
                select symbol, direction, published_at, received_at,
                       count(*) filter (where gap is null or gap > make_interval(mins => %(minutes)s))
                           over (partition by symbol, direction order by published_at) as chain
                from related
            )
            select min(chained.received_at)
            from chained
            where (chained.symbol, chained.direction, chained.chain) in (
                select chained.symbol, chained.direction, chained.chain
                from chained
                inner join imported using (symbol, direction, published_at)
            )
            """,
            {"asset": ASSET, "run_id": run_id, "minutes": event_window_minutes},
        ).fetchone()
    return row[0] if row else None
