"""The guards on raw candles and on the portfolio, in the database and in the GX suites, on real PostgreSQL."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from orchestration.embedded_postgres import EmbeddedPostgres
from quality.gate import GateError, SuiteSpec, run_suite, unexpected_rows
from quality.suites import portfolio, raw_candles
from quality.suites.common import key_expectations
from tests.conftest import create_database

HOUR_START = datetime(2026, 11, 1, 10, tzinfo=UTC)


@pytest.fixture()
def url(pg_cluster: EmbeddedPostgres) -> str:
    return create_database(pg_cluster)


def insert_evaluation(conn: psycopg.Connection, as_of: datetime, outcome: str, holdings: int, weight: Decimal = Decimal("0.1")) -> int:
    row = conn.execute(
        "insert into portfolio.evaluations (as_of, algorithm_version, universe_size, eligible_count, outcome, outcome_reason) "
        "values (%s, 'v1', 20, %s, %s, 'test') returning evaluation_id",
        (as_of, 20 if outcome == "formed" else 3, outcome),
    ).fetchone()
    assert row is not None
    for position in range(1, holdings + 1):
        conn.execute(
            "insert into portfolio.composition values (%s, %s, %s, %s, %s)", (row[0], f"S{position:02d}USDTM", position, weight, 0.5)
        )
    return int(row[0])


# -- the database -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "holdings", "weight", "message"),
    [
        ("formed", 9, Decimal("0.1"), "holds 9 symbols; exactly 10 are required"),
        ("formed", 11, Decimal("0.1"), "composition_position_check"),  # an 11th position cannot even be written
        ("formed", 10, Decimal("0.09"), "weights sum to 0.90"),
        ("not_formed", 10, Decimal("0.1"), "was not formed but holds 10 symbols"),
    ],
)
def test_the_database_refuses_a_portfolio_that_breaks_the_rules(url: str, outcome: str, holdings: int, weight: Decimal, message: str) -> None:
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.CheckViolation, match=message):
        with conn.transaction():
            insert_evaluation(conn, HOUR_START, outcome, holdings, weight)
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from portfolio.evaluations").fetchone() == (0,)  # nothing half-written


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        ("insert into raw.candles_1m (symbol, open_time, open, high, low, close, volume, batch_id) "
         "values ('XBTUSDTM', %(at)s + interval '30 seconds', 100, 101, 99, 100.5, 5, 1)", "candles_1m_open_time_whole_minute_ck"),
        ("insert into raw.load_batch_symbols (batch_id, symbol, span_start, span_end, rows_fetched) "
         "values (%(batch)s, 'XBTUSDTM', %(at)s, %(at)s + interval '90 seconds', 0)", "load_batch_symbols_span_whole_minutes_ck"),
    ],
)
def test_the_database_refuses_candle_times_off_the_whole_minute(url: str, statement: str, constraint: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("select raw.ensure_partitions('raw.candles_1m', %s, %s, '1 day')", (HOUR_START, HOUR_START + timedelta(hours=1)))
        row = conn.execute("insert into raw.load_batches (asset, source) values ('kucoin_candles_1m', 'test') returning batch_id").fetchone()
        assert row is not None
        conn.commit()
        with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
            conn.execute(statement, {"at": HOUR_START, "batch": row[0]})


def test_not_formed_is_only_accepted_before_the_first_portfolio(url: str) -> None:
    with psycopg.connect(url) as conn:
        with conn.transaction():
            insert_evaluation(conn, HOUR_START, "not_formed", 0)
            insert_evaluation(conn, HOUR_START + timedelta(hours=1), "formed", 10)
        with pytest.raises(psycopg.errors.CheckViolation, match="cannot be not_formed"), conn.transaction():
            insert_evaluation(conn, HOUR_START + timedelta(hours=2), "not_formed", 0)


# -- the GX suites ------------------------------------------------------------------------------


def test_the_portfolio_suite_passes_a_good_window_and_catches_what_the_database_would_refuse(
    url: str, pg_cluster: EmbeddedPostgres
) -> None:
    with psycopg.connect(url) as conn, conn.transaction():
        insert_evaluation(conn, HOUR_START + timedelta(hours=1), "not_formed", 0)
        insert_evaluation(conn, HOUR_START + timedelta(hours=2), "formed", 10)
    good = run_suite(url, portfolio.suite(HOUR_START, HOUR_START + timedelta(hours=2)))
    assert good.success, good.summary()

    # Bypass the triggers (as the superuser) to plant what only a bug or a manual edit could write.
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(pg_cluster.superuser_url(database)) as conn, conn.transaction():
        conn.execute("set local session_replication_role = replica")
        insert_evaluation(conn, HOUR_START + timedelta(hours=3), "formed", 9)
        insert_evaluation(conn, HOUR_START + timedelta(hours=4), "formed", 10, Decimal("0.2"))
        insert_evaluation(conn, HOUR_START + timedelta(hours=5), "not_formed", 0)
        # the manager's audit of a holding: a rule in force that it failed
        conn.execute(
            "insert into portfolio.screening select evaluation_id, symbol, 'min_turnover_24h_quote', 5e5, 1e6, false, 'planted' "
            "from portfolio.composition join portfolio.evaluations using (evaluation_id) where as_of = %s and position = 1",
            (HOUR_START + timedelta(hours=4),),
        )
    bad = run_suite(url, portfolio.suite(HOUR_START, HOUR_START + timedelta(hours=5)))
    failed = {o.rule: o.unexpected_count for o in bad.failed}
    # nine holdings; weights summing to 0.9 and to 2; a not-formed hour after a formed one; a failed rule in force
    assert failed == {
        "exactly_ten_holdings": 1, "weights_sum_to_one": 2, "not_formed_only_in_warmup": 1, "holding_passes_constraints_in_force": 1,
    }


def test_the_raw_candle_suite_flags_each_broken_row_by_rule(url: str) -> None:
    def candle(minute: int, o: float, h: float, lo: float, c: float, v: float) -> tuple[object, ...]:
        return ("XBTUSDTM", HOUR_START + timedelta(minutes=minute), o, h, lo, c, v, 1)

    rows = [candle(m, 100, 101, 99, 100.5, 5) for m in range(60)]
    rows[3] = candle(3, 100, 98, 99, 100.5, 5)  # high < low (and < open, < close)
    rows[7] = candle(7, 100, 101, 99, 100.5, -1)  # negative volume
    rows[9] = candle(9, 100, 101, 100.2, 100.5, 5)  # low above the open
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("select raw.ensure_partitions('raw.candles_1m', %s, %s, '1 day')", (HOUR_START, HOUR_START + timedelta(hours=1)))
        with conn.cursor().copy("copy raw.candles_1m (symbol, open_time, open, high, low, close, volume, batch_id) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
    result = run_suite(url, raw_candles.suite(HOUR_START, HOUR_START + timedelta(hours=1)))
    flagged = {o.rule: sorted(k["open_time"].minute for k in o.unexpected_keys) for o in result.failed}
    assert flagged == {
        "high_gte_low": [3], "high_gte_open": [3], "high_gte_close": [3], "volume_non_negative": [7], "low_lte_open": [9],
    }


def test_every_requested_minute_is_accounted_for_whether_its_hour_is_whole_or_not(url: str) -> None:
    """The minute rules read the batch as a bit per stored minute of each hour and list only the
    requested minutes whose bit is unset: a minute lost in an otherwise stored hour, and one lost
    in an hour only half requested whose stored candles number the requested half (one of them
    outside it), are both found; the hours that store every minute list none."""
    def minutes(first: int, last: int, *, leaving: tuple[int, ...] = ()) -> list[int]:
        return [m for m in range(first, last) if m not in leaving]

    stored = {
        "ETHUSDTM": minutes(0, 180),
        # hour 1: minute 65 lost, 67 not served, 69 refused at load; hour 2 (requested until
        # 150): minute 120 lost, 30 candles stored in the hour of which 160 is outside the request
        "XBTUSDTM": minutes(0, 60) + minutes(60, 120, leaving=(65, 67, 69)) + minutes(121, 150) + [160],
    }
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("select raw.ensure_partitions('raw.candles_1m', %s, %s, '1 day')", (HOUR_START, HOUR_START + timedelta(hours=3)))
        row = conn.execute(
            "insert into raw.load_batches (asset, window_start, window_end, source, status) "
            "values ('kucoin_candles_1m', %s, %s, 'test', 'succeeded') returning batch_id",
            (HOUR_START, HOUR_START + timedelta(hours=3)),
        ).fetchone()
        assert row is not None
        batch_id = row[0]
        for symbol, until in (("ETHUSDTM", 180), ("XBTUSDTM", 150)):
            conn.execute(
                "insert into raw.load_batch_symbols (batch_id, symbol, span_start, span_end, rows_fetched) values (%s, %s, %s, %s, %s)",
                (batch_id, symbol, HOUR_START, HOUR_START + timedelta(minutes=until), len(stored[symbol])),
            )
        with conn.cursor().copy("copy raw.candles_1m (symbol, open_time, open, high, low, close, volume, batch_id) from stdin") as copy:
            for symbol, kept in stored.items():
                for m in kept:
                    copy.write_row((symbol, HOUR_START + timedelta(minutes=m), 100, 101, 99, 100.5, 5, batch_id))
        conn.execute("insert into raw.load_batch_gaps values (%s, 'XBTUSDTM', %s)", (batch_id, HOUR_START + timedelta(minutes=67)))
        conn.execute(
            "insert into quarantine.candles_1m (batch_id, stage, rule, symbol, open_time, record) values (%s, 'load', 'non_finite_value', 'XBTUSDTM', %s, '{}')",
            (batch_id, HOUR_START + timedelta(minutes=69)),
        )
    window = (HOUR_START, HOUR_START + timedelta(hours=3))

    result = run_suite(url, raw_candles.suite(*window))
    assert [o.rule for o in result.failed] == ["minutes_accounted_for"]
    (lost,) = result.failed
    assert sorted((r["symbol"], r["minute"]) for r in lost.unexpected_rows) == [
        ("XBTUSDTM", HOUR_START + timedelta(minutes=65)), ("XBTUSDTM", HOUR_START + timedelta(minutes=120)),
    ]
    (incomplete,) = run_suite(url, raw_candles.completeness_suite(*window)).failed
    assert [(r["symbol"], r["missing_minutes"]) for r in incomplete.unexpected_rows] == [("XBTUSDTM", 4)]


def test_an_expectation_that_cannot_run_is_an_error_not_a_verdict(url: str) -> None:
    broken = SuiteSpec(
        name="broken",
        batch_query="select 1 as x",
        expectations=[unexpected_rows("no_such_table", "reads a table that does not exist", "select * from {batch} where x in (select y from nowhere.nothing)")],
    )
    with pytest.raises(GateError, match="no_such_table .* could not be evaluated"):
        run_suite(url, broken)
    unbuilt = SuiteSpec(name="unbuilt", batch_query="select * from nowhere.nothing", expectations=[key_expectations(["x"])[0]])
    with pytest.raises(GateError, match='unbuilt: the batch query could not be evaluated: relation "nowhere.nothing" does not exist'):
        run_suite(url, unbuilt)


def test_unexpected_rows_queries_must_alias_the_batch_exactly_when_they_join() -> None:
    with pytest.raises(ValueError, match="a query with a JOIN must alias the batch"):
        unexpected_rows("r", "d", "select * from {batch} join raw.contracts c using (symbol)")
    with pytest.raises(ValueError, match="must not alias the batch"):
        unexpected_rows("r", "d", "select * from {batch} as b where b.x > 1")



def test_a_gate_reads_its_batch_once_into_a_temporary_table_and_leaves_none_behind(url: str, caplog: pytest.LogCaptureFixture) -> None:
    """GX runs the bare batch query of a query asset to learn its columns, holding the whole result
    in the client (5.3 GiB for M's 21.6M candles); materialised as a temporary table, the batch is
    read on the server only, every expectation sees the same snapshot, and the table goes with the
    gate's sessions."""
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("select raw.ensure_partitions('raw.candles_1m', %s, %s, '1 day')", (HOUR_START, HOUR_START + timedelta(hours=1)))
        conn.execute(
            "insert into raw.candles_1m (symbol, open_time, open, high, low, close, volume, batch_id) "
            "select 'XBTUSDTM', %s + m * interval '1 minute', 100, 101, 99, 100.5, case when m = 7 then -1 else 5 end, 1 "
            "from generate_series(0, 59) m",
            (HOUR_START,),
        )
    spec = raw_candles.suite(HOUR_START, HOUR_START + timedelta(hours=1))
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
        result = run_suite(url, spec)
    assert {o.rule: [k["open_time"].minute for k in o.unexpected_keys] for o in result.failed} == {"volume_non_negative": [7]}
    statements = [" ".join(r.getMessage().split()) for r in caplog.records]
    batch = " ".join(spec.batch_query.split())
    assert batch not in statements  # never fetched as such
    # once for the success pass over all 20 expectations, once for the full pass over the one that failed
    assert sum(s.startswith("CREATE TEMPORARY TABLE") and s.endswith(batch) for s in statements) == 2

    # a suite of unexpected-rows queries reads the batch through them only: no copy, no bare read
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
        assert run_suite(url, raw_candles.completeness_suite(HOUR_START, HOUR_START + timedelta(hours=1))).success
    statements = [" ".join(r.getMessage().split()) for r in caplog.records]
    assert not any(s.startswith("CREATE TEMPORARY TABLE") or s == batch for s in statements)
    assert any("minute" in s for s in statements)  # the query did run

    def temporary_tables() -> int:
        with psycopg.connect(url) as conn:
            row = conn.execute("select count(*) from pg_class where relpersistence = 't' and relname like 'gx_temp_%%'").fetchone()
        return int(row[0]) if row else -1

    deadline = time.monotonic() + 10  # a closed session's backend drops its tables as it exits, just after the close
    while temporary_tables() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert temporary_tables() == 0


def test_a_repeated_key_is_flagged_once_with_its_copies(url: str) -> None:
    spec = SuiteSpec(
        name="keys",
        batch_query="select k, v, x from (values (1, 'a', 0.5), (1, 'a', 0.7), (1, 'b', 0.1), (2, 'b', 0.2), (2, 'b', 0.3), (2, 'b', 0.4)) as t(k, v, x)",
        expectations=key_expectations(("k", "v")),
        key_columns=("k", "v"),
    )
    result = run_suite(url, spec)
    assert [o.rule for o in result.failed] == ["key_unique"]
    (outcome,) = result.failed
    assert outcome.unexpected_count == 2
    assert sorted((r["k"], r["v"], r["copies"]) for r in outcome.unexpected_rows) == [(1, "a", 2), (2, "b", 3)]
