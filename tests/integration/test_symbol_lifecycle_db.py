"""The lifecycle state machine in PostgreSQL: illegal transitions are rejected by the database,
the log is append-only for everyone (the owner included), and the allowed transitions the
database holds are the ones the Python rules make."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from models.security import AUDIT_OWNER
from orchestration.lifecycle.rules import ALLOWED

AS_OF = datetime(2026, 11, 1, 1, tzinfo=UTC)
INSERT = "insert into lifecycle.transitions (symbol, as_of, from_state, to_state, reason, run_id) values (%s, %s, %s, %s, %s, 'test')"


def move(url: str, symbol: str, from_state: str | None, to_state: str, hours: int = 0) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(INSERT, (symbol, AS_OF + timedelta(hours=hours), from_state, to_state, "test"))


def test_the_database_allows_exactly_the_transitions_of_the_rules(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        rows = set(conn.execute("select from_state, to_state from lifecycle.allowed_transitions").fetchall())
        states = {r[0] for r in conn.execute("select state from lifecycle.states")}
    assert rows == {(a and str(a), str(b)) for a, b in ALLOWED}
    assert states == {str(b) for _, b in ALLOWED}


def test_legal_transitions_are_logged_and_give_the_current_state(database_url: str) -> None:
    for hours, (from_state, to_state) in enumerate([(None, "discovery"), ("discovery", "evaluation"), ("evaluation", "active")]):
        move(database_url, "LEGALUSDTM", from_state, to_state, hours)
    with psycopg.connect(database_url) as conn:
        current = conn.execute("select state, since from lifecycle.current_states where symbol = 'LEGALUSDTM'").fetchone()
        who = conn.execute("select distinct recorded_by, run_id from lifecycle.transitions where symbol = 'LEGALUSDTM'").fetchall()
    assert current == ("active", AS_OF + timedelta(hours=2))
    assert who == [("zmart", "test")]


@pytest.mark.parametrize(
    ("history", "attempt", "message"),
    [
        ([], ("discovery", "active"), "illegal lifecycle transition for symbol BADUSDTM: discovery -> active is not in lifecycle.allowed_transitions"),
        ([], ("evaluation", "active"), "illegal lifecycle transition for symbol BADUSDTM: evaluation -> active, but its current state is (none)"),
        ([(None, "discovery")], (None, "discovery"), "illegal lifecycle transition for symbol BADUSDTM: (none) -> discovery, but its current state is discovery"),
        ([(None, "discovery"), ("discovery", "delisted")], ("delisted", "retired"), "BADUSDTM: delisted -> retired is not in lifecycle.allowed_transitions"),
        ([(None, "discovery")], ("discovery", "discovery"), "BADUSDTM: discovery -> discovery is not in lifecycle.allowed_transitions"),
    ],
)
def test_an_illegal_transition_is_rejected_naming_symbol_and_states(
    pg_cluster, history: list[tuple[str | None, str]], attempt: tuple[str, str], message: str  # type: ignore[no-untyped-def]
) -> None:
    from tests.conftest import create_database

    url = create_database(pg_cluster)
    for from_state, to_state in history:
        move(url, "BADUSDTM", from_state, to_state)
    with pytest.raises(psycopg.errors.CheckViolation) as raised:
        move(url, "BADUSDTM", *attempt)
    assert message in str(raised.value)
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from lifecycle.transitions").fetchone() == (len(history),)


def test_a_transition_cannot_go_back_in_time(database_url: str) -> None:
    move(database_url, "TIMEUSDTM", None, "discovery", hours=5)
    with pytest.raises(psycopg.errors.CheckViolation, match="TIMEUSDTM .discovery -> evaluation. at .* is earlier than its latest transition"):
        move(database_url, "TIMEUSDTM", "discovery", "evaluation", hours=4)


@pytest.mark.parametrize(
    "statement",
    [
        "update lifecycle.transitions set reason = 'rewritten'",
        "delete from lifecycle.transitions",
        "truncate lifecycle.transitions",
        "update lifecycle.evaluated_hours set transitions = 0",
        "delete from lifecycle.evaluated_hours",
        "truncate lifecycle.evaluated_hours",
    ],
)
def test_the_log_and_the_hour_ledger_cannot_be_changed_by_the_application_role(database_url: str, statement: str) -> None:
    # Sealed (models/security.py): zmart_audit owns them and the app role may only read and append.
    # That their triggers refuse the owner too is tested in test_roles_and_audit.py.
    move(database_url, f"LOG{len(statement)}USDTM", None, "discovery")
    with psycopg.connect(database_url) as conn:
        conn.execute("insert into lifecycle.evaluated_hours (as_of, algorithm_version, transitions) values (%s, 'v1', 1) on conflict do nothing", (AS_OF,))
        conn.commit()
        owner = conn.execute("select tableowner from pg_tables where schemaname = 'lifecycle' and tablename = 'transitions'").fetchone()
        assert owner == (AUDIT_OWNER,)
        before = conn.execute("select count(*), md5(string_agg(t::text, ',' order by transition_id)) from lifecycle.transitions t").fetchone()
        table = statement.split("lifecycle.")[1].split()[0]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"permission denied for table {table}"):
            conn.execute(statement)
        conn.rollback()
        after = conn.execute("select count(*), md5(string_agg(t::text, ',' order by transition_id)) from lifecycle.transitions t").fetchone()
    assert after == before
