"""Hostile symbol names and texts are data, never SQL: through the ingestion code paths (real ccxt
against the simulator's hostile_symbols fault, loaded by an ingest LOGIN member) they are
quarantined with their rule; stored past validation they go through the dbt models (run by a
transform LOGIN member) verbatim; nothing they spell is executed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orchestration.embedded_postgres import EmbeddedPostgres
from orchestration.ingestion.candles import ingest_candles
from orchestration.ingestion.contracts import ingest_contracts
from orchestration.ingestion.universe import Instrument
from orchestration.resources.exchange import KucoinFuturesResource
from simulator.config import SimulatorConfig
from simulator.faults import parse_faults
from simulator.hostile import HOSTILE_SYMBOLS
from simulator.server import SimulatorProcess
from tests.conftest import create_database
from tests.integration.dbt.dbt_cli import Dbt
from tests.integration.dbt.synthetic import populate
from tests.integration.roles import login_members

EXCHANGE_NOW = datetime(2026, 11, 2, 0, 5, tzinfo=UTC)
HOUR = (datetime(2026, 11, 1, 23, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
# Storable ones (PostgreSQL text holds no NUL byte), each a copy of a synthetic symbol's data.
STORED_HOSTILE = [s for s in HOSTILE_SYMBOLS if "\x00" not in s]
SOURCE_SYMBOL = "ETHUSDTM"


def schema_objects(url: str) -> list[tuple[str, str]]:
    """The tables and views of the platform's own schemas."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname in ('raw', 'quarantine', 'portfolio', 'lifecycle', 'audit', 'meta') "
            "and c.relkind in ('r', 'p', 'v') and not c.relispartition order by 1, 2"  # loads add partitions
        ).fetchall()


@pytest.fixture(scope="module")
def ingested(pg_cluster: EmbeddedPostgres) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    url = create_database(pg_cluster)
    before = schema_objects(url)
    config = SimulatorConfig(n_contracts=10, faults=parse_faults("hostile_symbols=12"), now_ms=int(EXCHANGE_NOW.timestamp() * 1000))
    with SimulatorProcess(config) as simulator, login_members(pg_cluster, url, ["zmart_ingest"]) as members:
        exchange = KucoinFuturesResource(sim_url=simulator.url)
        asyncio.run(ingest_contracts(members["zmart_ingest"], exchange, "injection-test"))
        with psycopg.connect(url) as conn:
            [(real,)] = conn.execute("select symbol from raw.contracts order by symbol limit 1").fetchall()
        # The platform never asks for a refused id; asked anyway, each fails alone and is recorded.
        instruments = [Instrument(s, None, None) for s in (real, *HOSTILE_SYMBOLS)]
        asyncio.run(ingest_candles(members["zmart_ingest"], exchange, instruments, *HOUR, "injection-test"))
    yield url, before


def test_hostile_contract_ids_are_quarantined_with_their_rule_verbatim(ingested: tuple[str, Any]) -> None:
    url, before = ingested
    with psycopg.connect(url) as conn:
        stored = conn.execute("select symbol from raw.contracts").fetchall()
        quarantined = conn.execute("select symbol, rule, record ->> 'symbol' from quarantine.contracts").fetchall()
    assert len(stored) == 10 and all(s.isalnum() and s.isupper() for (s,) in stored)
    assert sorted(q[1] for q in quarantined) == ["symbol:string_pattern_mismatch"] * len(HOSTILE_SYMBOLS)
    # The record as received (a NUL byte, which no PostgreSQL text holds, as the text \u0000); the
    # symbol column its first 80 characters (models/contracts.py)
    received = {s.replace("\x00", "\\u0000") for s in HOSTILE_SYMBOLS}
    assert {q[2] for q in quarantined} == received and {q[0] for q in quarantined} == {s[:80] for s in received}
    assert schema_objects(url) == before  # no table dropped, none added


def test_hostile_ids_asked_of_the_exchange_fail_alone_and_are_recorded_verbatim(ingested: tuple[str, Any]) -> None:
    url, _ = ingested
    with psycopg.connect(url) as conn:
        ledger = conn.execute(
            "select s.symbol, s.status, s.error from raw.load_batch_symbols s join raw.load_batches b using (batch_id) where b.asset = 'kucoin_candles_1m'"
        ).fetchall()
        outcomes = {symbol: status for symbol, status, _ in ledger}
        candles = conn.execute("select count(distinct symbol), count(*) from raw.candles_1m").fetchone()
    real = next(s for s, status in outcomes.items() if status == "succeeded")
    assert outcomes == {real: "succeeded"} | {s.replace("\x00", "\\u0000"): "failed" for s in HOSTILE_SYMBOLS}
    assert candles == (1, 60)
    # refused by the client before any request: ccxt would write the id into the URL unencoded
    assert all("is not a KuCoin contract id" in error for symbol, status, error in ledger if symbol != real)


@pytest.fixture(scope="module")
def built(pg_cluster: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = create_database(pg_cluster)
    populate(url)
    with psycopg.connect(url) as conn:  # as if a looser validation had let them in
        for symbol in STORED_HOSTILE:
            for table, columns in (("raw.contracts", contract_columns(conn)), ("raw.candles_1m", candle_columns(conn))):
                copy_as(conn, table, columns, symbol)
    before = schema_objects(url)
    with login_members(pg_cluster, url, ["zmart_transform"]) as members:
        os.environ["ZMART_DBT_ROLE"] = "zmart_transform"
        try:
            Dbt(members["zmart_transform"], Path(tmp_path_factory.mktemp("dbt"))).run("run", "-s", "+int_candles_1h")
        finally:
            del os.environ["ZMART_DBT_ROLE"]
    assert schema_objects(url) == before
    yield url


def contract_columns(conn: psycopg.Connection) -> list[str]:
    return [c for (c,) in conn.execute("select column_name from information_schema.columns where table_schema = 'raw' and table_name = 'contracts' order by ordinal_position")]


def candle_columns(conn: psycopg.Connection) -> list[str]:
    return [c for (c,) in conn.execute("select column_name from information_schema.columns where table_schema = 'raw' and table_name = 'candles_1m' order by ordinal_position")]


def copy_as(conn: psycopg.Connection, table: str, columns: list[str], symbol: str) -> None:
    """Copy SOURCE_SYMBOL's rows of table under ``symbol`` (bound as a parameter, like every value)."""
    from psycopg import sql

    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    values = sql.SQL(", ").join(sql.Placeholder("symbol") if c == "symbol" else sql.Identifier(c) for c in columns)
    conn.execute(
        sql.SQL("insert into {table} ({names}) select {values} from {table} where symbol = %(source)s").format(
            table=sql.Identifier(*table.split(".")), names=names, values=values
        ),
        {"symbol": symbol, "source": SOURCE_SYMBOL},
    )


def test_dbt_carries_hostile_symbols_verbatim_as_the_transform_role(built: str) -> None:
    with psycopg.connect(built) as conn:
        owners = conn.execute("select distinct tableowner from pg_tables where schemaname = 'intermediate'").fetchall()
        hourly = conn.execute(
            "select symbol, bucket_start, open, high, low, close from intermediate.int_candles_1h where symbol = any(%s) order by bucket_start, symbol",
            ([SOURCE_SYMBOL, *STORED_HOSTILE],),
        ).fetchall()
    assert owners == [("zmart_transform",)]
    by_symbol: dict[str, list[tuple[Any, ...]]] = {}
    for symbol, *values in hourly:
        by_symbol.setdefault(symbol, []).append(tuple(values))
    assert set(by_symbol) == {SOURCE_SYMBOL, *STORED_HOSTILE}
    assert all(rows == by_symbol[SOURCE_SYMBOL] for rows in by_symbol.values()) and len(by_symbol[SOURCE_SYMBOL]) > 24
