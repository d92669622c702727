"""A time-series load validates and writes chunks while it fetches the next (orchestration.ingestion
.per_symbol load_windows): a chunk whose write fails stops the load, the chunks fetched meanwhile are
recorded as failed without a row stored, the chunks before stay committed, and a re-run loads
exactly the rest.
Real ccxt against the simulator, real PostgreSQL; the write is made to fail by PostgreSQL itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from orchestration.embedded_postgres import EmbeddedPostgres
from orchestration.ingestion.candles import ingest_candles
from orchestration.ingestion.universe import Instrument
from orchestration.resources.exchange import KucoinFuturesResource
from simulator.config import SimulatorConfig
from simulator.server import SimulatorProcess
from tests.conftest import create_database

START = datetime(2026, 11, 1, 20, tzinfo=UTC)
HOURS = [START + timedelta(hours=h) for h in range(4)]
END = START + timedelta(hours=4)
REFUSED_HOUR = HOURS[1]
SYMBOLS = ("XBTUSDTM", "ETHUSDTM")
INSTRUMENTS = [Instrument(s, None, None) for s in SYMBOLS]


@pytest.fixture(scope="module")
def exchange() -> Iterator[KucoinFuturesResource]:
    config = SimulatorConfig(n_contracts=10, now_ms=int((END + timedelta(minutes=5)).timestamp() * 1000))
    with SimulatorProcess(config) as simulator:
        yield KucoinFuturesResource(sim_url=simulator.url)


def batches(url: str) -> list[tuple[datetime, str, int | None, str | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select window_start, status, rows_inserted, error from raw.load_batches "
            "where asset = 'kucoin_candles_1m' order by batch_id"
        ).fetchall()


def stored(url: str) -> list[tuple[datetime, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select date_trunc('hour', open_time), count(*) from raw.candles_1m group by 1 order by 1"
        ).fetchall()


def test_a_chunk_whose_write_fails_stops_the_load_and_the_later_ones_are_not_written(
    pg_cluster: EmbeddedPostgres, exchange: KucoinFuturesResource,
) -> None:
    url = create_database(pg_cluster)
    owner = pg_cluster.superuser_url(conninfo_to_dict(url)["dbname"])
    with psycopg.connect(owner, autocommit=True) as conn:  # PostgreSQL refuses the second hour's rows
        hour = f"'{REFUSED_HOUR.isoformat()}'::timestamptz"
        conn.execute(
            f"""
            create function public.refuse_an_hour() returns trigger language plpgsql as $$
            begin
                if new.open_time >= {hour} and new.open_time < {hour} + interval '1 hour' then
                    raise exception 'refused by the test: %', new.open_time;
                end if;
                return new;
            end $$
            """
        )
        conn.execute("create trigger refuse_an_hour before insert on raw.candles_1m for each row execute function public.refuse_an_hour()")

    with pytest.raises(psycopg.errors.RaiseException, match="refused by the test"):
        asyncio.run(ingest_candles(url, exchange, INSTRUMENTS, START, END, "first-run", chunk_hours=1))

    ledger = batches(url)
    # the third hour was fetched and validated while the second was written, the fourth fetched
    # once the first was written (three chunks in flight); neither is written
    assert [(w, s, n) for w, s, n, _ in ledger] == [
        (HOURS[0], "succeeded", 120), (HOURS[1], "failed", 0), (HOURS[2], "failed", 0), (HOURS[3], "failed", 0),
    ]
    assert "refused by the test" in ledger[1][3]
    for later in ledger[2:]:
        assert later[3].startswith("not written: the load stopped at an earlier chunk (RaiseException: refused by the test")
    assert stored(url) == [(HOURS[0], 120)]

    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute("drop trigger refuse_an_hour on raw.candles_1m")
    results = asyncio.run(ingest_candles(url, exchange, INSTRUMENTS, START, END, "second-run", chunk_hours=1))
    assert [r.counts.inserted for r in results] == [0, 120, 120, 120]  # the first hour is stored: nothing new
    assert stored(url) == [(h, 120) for h in HOURS]
