"""The raw loader on real PostgreSQL: idempotent, first version wins, nothing dropped silently."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest

from models.candles import validate_candles
from models.tables import CANDLES_1M
from orchestration.ingestion.batches import BatchSpec, complete_batch, open_batch
from orchestration.ingestion.loader import load_rows

START = 1_761_955_200_000  # 2025-11-01T00:00Z
END = START + 60 * 60_000


def rows(close_bump: float = 0.0) -> list[list[float]]:
    return [[START + m * 60_000, 100.0 + m, 101.0 + m, 99.0 + m, 100.5 + m + close_bump, 7.0] for m in range(60)]


def load(url: str, fetched: list[list[float]]) -> tuple[int, object]:
    batch_id = open_batch(url, BatchSpec(asset="test", source="test", run_id=None))
    validation = validate_candles("XBTUSDTM", fetched, START, END)
    with psycopg.connect(url) as conn, conn.transaction():
        counts = load_rows(conn, CANDLES_1M, batch_id, validation.accepted, validation.rejections)
        complete_batch(conn, batch_id, counts, request_count=1, checksum="x")
    return batch_id, counts


def table_state(url: str) -> tuple[int, str, str]:
    """Row count, a checksum of every value, and a checksum of the row versions (xmin)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """
            select count(*),
                   md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s', symbol, open_time, open, high, low, close, volume, batch_id),
                                  ',' order by symbol, open_time)),
                   md5(string_agg(xmin::text, ',' order by symbol, open_time))
            from raw.candles_1m
            """
        ).fetchone()
    assert row is not None
    return row


@pytest.fixture()
def url(pg_cluster) -> str:  # type: ignore[no-untyped-def]
    from tests.conftest import create_database

    return create_database(pg_cluster)


def test_reloading_identical_rows_changes_nothing(url: str) -> None:
    first_batch, first = load(url, rows())
    assert (first.inserted, first.unchanged, first.quarantined) == (60, 0, 0)
    before = table_state(url)
    _, second = load(url, rows())
    assert (second.rows_in, second.inserted, second.unchanged, second.quarantined) == (60, 0, 60, 0)
    assert table_state(url) == before  # same values, same batch ids, and no row rewritten (same xmin)
    with psycopg.connect(url) as conn:
        assert conn.execute("select distinct batch_id from raw.candles_1m").fetchall() == [(first_batch,)]


def test_a_differing_refetch_is_quarantined_not_applied(url: str) -> None:
    load(url, rows())
    before = table_state(url)
    batch_id, counts = load(url, rows(close_bump=0.25))
    assert (counts.inserted, counts.unchanged, counts.quarantined) == (0, 0, 60)
    assert table_state(url) == before
    with psycopg.connect(url) as conn:
        rules = conn.execute(
            "select rule, count(*) from quarantine.candles_1m where batch_id = %s group by rule", (batch_id,)
        ).fetchall()
    assert rules == [("conflicts_with_stored", 60)]


def test_ledger_conserves_every_fetched_row(url: str) -> None:
    fetched = rows()[:50] + [[START + 3 * 60_000, float("nan"), 1, 1, 1, 1], [END + 60_000, 1, 1, 1, 1, 1], [1, 2]]
    batch_id, counts = load(url, fetched)
    assert (counts.rows_in, counts.inserted, counts.quarantined) == (53, 50, 3)
    with psycopg.connect(url) as conn:
        ledger = conn.execute(
            "select status, rows_in, rows_inserted, rows_unchanged, rows_quarantined from raw.load_batches where batch_id = %s",
            (batch_id,),
        ).fetchone()
        quarantined = conn.execute("select count(*) from quarantine.candles_1m where batch_id = %s", (batch_id,)).fetchone()
    assert ledger == ("succeeded", 53, 50, 0, 3)
    assert quarantined == (3,)


def test_the_database_refuses_a_ledger_that_does_not_add_up(url: str) -> None:
    batch_id = open_batch(url, BatchSpec(asset="test", source="test", run_id=None))
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "update raw.load_batches set status = 'succeeded', rows_in = 5, rows_inserted = 4 where batch_id = %s", (batch_id,)
        )


def test_partitions_are_created_for_the_loaded_days(url: str) -> None:
    load(url, rows())
    with psycopg.connect(url) as conn:
        parts = conn.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'raw.candles_1m'::regclass"
        ).fetchall()
    assert parts == [("candles_1m_p20251101",)]
    assert pd.Timestamp(START, unit="ms", tz="UTC").strftime("%Y%m%d") == "20251101"


def stored_values(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select symbol, (extract(epoch from open_time) * 1000)::bigint, open, high, low, close, volume from raw.candles_1m order by 1, 2"
        ).fetchall()


def test_a_partly_stored_window_is_sorted_out_row_by_row(url: str) -> None:
    # the first half stored; then the whole hour, ten of the stored minutes with another close: the
    # probe finds stored keys in the window, the staged path counts each row
    load(url, rows()[:30])
    refetch = rows()[:10] + rows(close_bump=0.5)[10:20] + rows()[20:]
    batch_id, counts = load(url, refetch)
    assert (counts.rows_in, counts.inserted, counts.unchanged, counts.quarantined) == (60, 30, 20, 10)
    with psycopg.connect(url) as conn:
        per_batch = conn.execute("select batch_id, count(*) from raw.candles_1m group by 1 order by 1").fetchall()
        conflicts = conn.execute("select count(*) from quarantine.candles_1m where batch_id = %s and rule = 'conflicts_with_stored'", (batch_id,)).fetchone()
    assert [n for _, n in per_batch] == [30, 30] and per_batch[1][0] == batch_id and conflicts == (10,)
    assert stored_values(url) == [("XBTUSDTM", *row) for row in rows()]


def test_reruns_take_the_staged_path_without_a_refused_copy_in_the_server_log(pg_cluster, url: str) -> None:  # type: ignore[no-untyped-def]
    log = pg_cluster.log_file
    load(url, rows()[:30])
    offset = log.stat().st_size
    load(url, rows())  # partly stored
    load(url, rows())  # stored
    assert "duplicate key" not in log.read_text(errors="replace")[offset:]
    assert stored_values(url) == [("XBTUSDTM", *row) for row in rows()]


def test_the_straight_and_the_staged_path_store_the_same_values(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import create_database

    # doubles that text formatting could change (shortest repr, subnormal, huge, 0.1 + 0.2): binary COPY keeps them bit for bit
    fetched = [[START + m * 60_000, 0.1 + 0.2, 1e308, 5e-324, 1 / 3 + m, 123456789.123456789] for m in range(60)]
    straight, staged = create_database(pg_cluster), create_database(pg_cluster)
    load(straight, fetched)
    load(staged, fetched[:1])  # one key stored: the staged path loads the other 59
    _, counts = load(staged, fetched)
    assert (counts.inserted, counts.unchanged) == (59, 1)
    assert stored_values(straight) == stored_values(staged) == [("XBTUSDTM", *row) for row in fetched]
