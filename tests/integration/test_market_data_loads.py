"""Every new raw table loads idempotently on real PostgreSQL: a second load changes nothing, the
ledger conserves records (in = inserted + unchanged + quarantined), refusals land in quarantine."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from models.funding import validate_funding_rates
from models.open_interest import validate_open_interest
from models.order_books import validate_book
from models.tables import FUNDING_RATES, OPEN_INTEREST, ORDER_BOOK_LEVELS, TICKERS, TRADES, RawTable
from models.tickers import validate_tickers
from models.trades import validate_trades
from orchestration.embedded_postgres import EmbeddedPostgres
from orchestration.ingestion.batches import BatchSpec, complete_batch, open_batch
from orchestration.ingestion.loader import load_rows
from tests.conftest import create_database

RECORDED = json.loads((Path(__file__).parents[1] / "fixtures" / "kucoin" / "futures_market_examples.json").read_text())
TICKERS_IN = RECORDED["test_get_all_tickers_resp_model"]["data"]
TRADES_IN = RECORDED["test_get_trade_history_resp_model"]["data"]


def tickers_case() -> tuple[object, int]:
    hostile = {**TICKERS_IN[0], "symbol": "X'; DROP TABLE raw.tickers;--"}
    return validate_tickers([*TICKERS_IN, hostile]), len(TICKERS_IN) + 1


def trades_case() -> tuple[object, int]:
    return validate_trades("XBTUSDM", [*TRADES_IN, TRADES_IN[0]], datetime(2024, 10, 18, 10, tzinfo=UTC)), len(TRADES_IN) + 1


def book_case() -> tuple[object, int]:
    book = {"symbol": "XBTUSDM", "sequence": 7, "bids": [[66968, 2], [66964.8, 25596], [0, 1]], "asks": [[66968.1, 13501]], "ts": 1729168101216000000}
    return validate_book("XBTUSDM", book, 20), 4


def funding_case() -> tuple[object, int]:
    rates = [{"symbol": "XBTUSDTM", "fundingRate": r, "timepoint": t} for r, t in ((0.00021, 1702296000000), (0.000347, 1702267200000))]
    return validate_funding_rates("XBTUSDTM", [*rates, {"symbol": "XBTUSDTM", "fundingRate": "x", "timepoint": 1}],
                                  datetime(2023, 12, 11, tzinfo=UTC), datetime(2023, 12, 12, tzinfo=UTC)), 3


def open_interest_case() -> tuple[object, int]:
    points = [{"openInterest": "4615535", "ts": 1767004200000}, {"openInterest": "4568791", "ts": 1767003900000}]
    return validate_open_interest("XBTUSDTM", points, datetime(2025, 12, 29, 10, tzinfo=UTC), datetime(2025, 12, 29, 11, tzinfo=UTC)), 2


CASES: list[tuple[RawTable, Callable[[], tuple[object, int]], int]] = [
    (TICKERS, tickers_case, 1),
    (TRADES, trades_case, 1),
    (ORDER_BOOK_LEVELS, book_case, 1),
    (FUNDING_RATES, funding_case, 1),
    (OPEN_INTEREST, open_interest_case, 0),
]


@pytest.fixture(scope="module")
def url(pg_cluster: EmbeddedPostgres) -> str:
    return create_database(pg_cluster)


def load(url: str, table: RawTable, validation: object) -> tuple[int, tuple[int, int, int, int]]:
    batch_id = open_batch(url, BatchSpec(asset=f"test_{table.name}", source="test", run_id=None))
    with psycopg.connect(url) as conn, conn.transaction():
        counts = load_rows(conn, table, batch_id, validation.accepted, validation.rejections)  # type: ignore[attr-defined]
        complete_batch(conn, batch_id, counts, request_count=1, checksum="x")
    return batch_id, (counts.rows_in, counts.inserted, counts.unchanged, counts.quarantined)


@pytest.mark.parametrize(("table", "case", "refused"), CASES, ids=[c[0].name for c in CASES])
def test_loads_are_idempotent_and_conserve_records(url: str, table: RawTable, case: Callable[[], tuple[object, int]], refused: int) -> None:
    validation, received = case()
    first_batch, first = load(url, table, validation)
    assert first == (received, received - refused, 0, refused)
    with psycopg.connect(url) as conn:
        state = conn.execute(f"select count(*), md5(string_agg(xmin::text || t::text, ',' order by t::text)) from {table.qualified} t").fetchone()
        quarantined = conn.execute(f"select count(*) from quarantine.{table.name} where batch_id = %s", (first_batch,)).fetchone()
    assert quarantined == (refused,)

    _, second = load(url, table, case()[0])
    assert second == (received, 0, received - refused, refused)
    with psycopg.connect(url) as conn:
        again = conn.execute(f"select count(*), md5(string_agg(xmin::text || t::text, ',' order by t::text)) from {table.qualified} t").fetchone()
    assert again == state  # no row added or rewritten
