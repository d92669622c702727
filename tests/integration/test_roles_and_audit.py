"""The roles of docs/security.md, each through a LOGIN member created here: what it can and cannot
do; the audit log records every change to the portfolio tables and the overrides (who, when,
before, after) while the portfolio manager works as usual; and nobody, the application role
that owns the portfolio tables included, can change, drop or disable the audit log or the
lifecycle ledgers."""

from __future__ import annotations

import secrets
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from models.migrate import apply_migrations, discover
from models.security import AUDIT_OWNER, SecurityError, ensure_roles, migrate, seal
from orchestration.embedded_postgres import APP_ROLE, EmbeddedPostgres
from orchestration.portfolio.manager import evaluate_window
from simulator.hostile import HOSTILE_SYMBOLS
from tests.conftest import create_database
from tests.integration.roles import database_name, login_members

GROUPS = ["zmart_ingest", "zmart_transform", "zmart_analyst", "zmart_trader", "zmart_admin"]
START = datetime(2026, 11, 2, 0, tzinfo=UTC)
# Ten ordinary symbols and hostile ones the manager holds in the first hour (they score best).
SYMBOLS = [f"S{i:02d}USDTM" for i in range(10)] + list(HOSTILE_SYMBOLS[:3]) + [HOSTILE_SYMBOLS[8], HOSTILE_SYMBOLS[11]]
HOSTILE_TEXT = "'); drop table portfolio.composition; --"


@pytest.fixture(scope="module")
def url(pg_cluster: EmbeddedPostgres) -> str:
    url = create_database(pg_cluster)
    with psycopg.connect(url) as conn:
        conn.execute("create table marts.app_built as select 1 as id")
        # What dbt's fct_symbol_scores gives the manager: the hostile symbols best in hour 1, one of them ineligible in hour 2.
        conn.execute(
            "create table marts.fct_symbol_scores (score_time timestamptz, algorithm_version text, symbol text, "
            "composite_score double precision, is_eligible boolean, turnover_quote_24h double precision, input_batch_ids bigint[])"
        )
        for hour in (1, 2):
            conn.cursor().executemany(
                "insert into marts.fct_symbol_scores values (%s, 'v1', %s, %s, %s, 1e9, '{7}')",
                [(START + timedelta(hours=hour), s, float(i), not (hour == 2 and s == HOSTILE_SYMBOLS[0])) for i, s in enumerate(SYMBOLS)],
            )
        # The other inputs the manager's constraints read, as dbt builds them: every symbol listed long ago with an
        # unknown sector, no correlations or regime measured yet, and a permissive policy (the ranking decides).
        conn.execute(
            "create table marts.dim_symbols_history (symbol text, valid_from timestamptz, valid_to timestamptz, is_listed boolean, "
            "listed_at timestamptz, first_seen_at timestamptz, base_currency text)"
        )
        conn.cursor().executemany(
            "insert into marts.dim_symbols_history values (%s, %s, null, true, %s, %s, %s)",
            [(s, START - timedelta(days=400), START - timedelta(days=400), START - timedelta(days=400), s) for s in SYMBOLS],
        )
        conn.execute("create table marts.symbol_sectors (base_currency text, sector text)")
        conn.execute("create table intermediate.int_indicators_1h_volatility (symbol text, bucket_start timestamptz, rv_close_to_close_24 double precision)")
        conn.execute("create table intermediate.int_market_regime_1h (bucket_start timestamptz, regime text)")
        conn.execute(
            "create table intermediate.int_return_correlations_30d (symbol_a text, symbol_b text, as_of timestamptz, "
            "correlation double precision, is_complete boolean)"
        )
        conn.execute(
            "create table marts.portfolio_policies (policy text, regime text, sector_cap integer, max_pairwise_correlation double precision, "
            "min_turnover_24h_quote double precision, min_listing_age_hours double precision, challenger_margin double precision, "
            "challenger_evaluations integer, weighting text, challenger_min_consensus_score double precision, "
            "challenger_min_consensus_confidence double precision, challenger_without_consensus text, challenger_evaluations_if_sell integer)"
        )
        conn.cursor().executemany(
            "insert into marts.portfolio_policies values ('default', %s, 10, 1, 0, 0, 0, 1, 'equal', -1, 0, 'allow', 1)",
            [(r,) for r in ("risk_on", "neutral", "risk_off")],
        )
        # The agents' consensus of hour 1, a hostile text in a vote: the decisions copy it verbatim (and the audit log with them).
        conn.execute(
            "create table intermediate.int_agent_consensus_1h (symbol text, score_time timestamptz, consensus_score double precision, "
            "consensus_confidence double precision, agreement double precision, is_disputed boolean, recommendation text, "
            "total_weight double precision, voting_agent_count integer, weighted_agent_count integer, votes jsonb)"
        )
        conn.cursor().executemany(
            "insert into intermediate.int_agent_consensus_1h values (%s, %s, 0.5, 0.4, 1, false, 'buy', 0.8, 1, 1, %s)",
            [(s, START + timedelta(hours=1), Jsonb({"sentiment": {"evidence": HOSTILE_TEXT, "weight": 0.8}})) for s in SYMBOLS],
        )
    return url


@pytest.fixture(scope="module")
def members(pg_cluster: EmbeddedPostgres, url: str) -> Iterator[dict[str, str]]:
    with login_members(pg_cluster, url, GROUPS) as urls:
        with psycopg.connect(urls["zmart_transform"]) as conn:
            conn.execute("set role zmart_transform")  # as dbt does with ZMART_DBT_ROLE: the group owns what it builds
            conn.execute("create table marts.transform_built as select 1 as id")
            conn.execute("create view staging.transform_view as select symbol, open_time from raw.candles_1m")
        yield urls


def outcome(url: str, statement: str, params: tuple[Any, ...] = ()) -> str:
    """'ok', or the SQLSTATE name and message of the error; nothing is committed."""
    with psycopg.connect(url) as conn:
        try:
            conn.execute(statement, params)  # type: ignore[arg-type]
            return "ok"
        except psycopg.Error as error:
            return f"{type(error).__name__}: {error}"
        finally:
            conn.rollback()


def refused(result: str) -> bool:
    """The database's own refusal: a missing privilege, ownership or role membership."""
    reasons = ("permission denied", "must be owner", "must have admin option")
    assert result.startswith("InsufficientPrivilege: ") and any(r in result for r in reasons), result
    return True


AS_TRANSFORM = "set role zmart_transform; "
OVERRIDE = "insert into portfolio.overrides (symbol, action, valid_from, reason) values ('S01USDTM', 'exclude', now(), 'test')"
CAN: list[tuple[str, str]] = [
    ("zmart_ingest", "insert into raw.load_batches (asset, source) values ('test', 'test')"),
    ("zmart_ingest", "update raw.load_batches set status = 'failed', error = 'test' where batch_id = -1"),
    ("zmart_ingest", "delete from raw.load_batch_gaps where batch_id = -1"),
    ("zmart_ingest", "insert into quarantine.contracts (batch_id, stage, rule, record) values (0, 'load', 'test', '{}')"),
    ("zmart_ingest", "select raw.ensure_partitions('raw.candles_1m', '2030-01-01', '2030-01-02', '1 day')"),
    ("zmart_ingest", "select count(*) from meta.schema_migrations"),
    ("zmart_transform", "select (select count(*) from raw.candles_1m) + (select count(*) from quarantine.candles_1m)"),
    ("zmart_transform", "select (select count(*) from portfolio.decisions) + (select count(*) from lifecycle.transitions)"),
    ("zmart_transform", AS_TRANSFORM + "create table intermediate.scratch as select symbol from raw.contracts"),
    ("zmart_transform", AS_TRANSFORM + "drop table marts.transform_built; create table marts.transform_built as select 2 as id"),
    ("zmart_transform", AS_TRANSFORM + "create or replace view staging.transform_view as select symbol, open_time, close from raw.candles_1m"),
    ("zmart_transform", AS_TRANSFORM + "create or replace function zmart_fn.scratch() returns int language sql as 'select 1'"),
    ("zmart_transform", "select count(*) from history.schema_migrations"),
    ("zmart_transform", "insert into history.algorithm_versions (algorithm_version, parameters_hash, weights, parameters, status, dbt_invocation_id) "
                        "values ('vtest', md5('vtest'), '{}', '{}', 'candidate', 'test')"),
    ("zmart_analyst", "select (select count(*) from marts.app_built) + (select count(*) from marts.transform_built)"),
    ("zmart_trader", "select (select count(*) from marts.app_built) + (select count(*) from marts.transform_built)"),
    ("zmart_trader", "select (select count(*) from portfolio.composition) + (select count(*) from portfolio.decisions)"),
    ("zmart_trader", OVERRIDE),
    ("zmart_trader", "update portfolio.overrides set valid_to = now() + interval '1 day' where override_id = -1"),
    ("zmart_admin", "insert into raw.load_batches (asset, source) values ('test', 'test')"),
    ("zmart_admin", "create table raw.scratch (x int); drop table raw.scratch"),
    ("zmart_admin", "select count(*) from audit.change_log"),
    ("zmart_admin", "delete from portfolio.overrides"),
]
CANNOT: list[tuple[str, str]] = [
    ("zmart_ingest", "insert into marts.app_built values (2)"),
    ("zmart_ingest", "select count(*) from marts.app_built"),
    ("zmart_ingest", "select count(*) from portfolio.evaluations"),
    ("zmart_ingest", "insert into meta.run_failures (run_id, job_name, failed_steps, message, failed_at) values ('r', 'j', '{}', 'm', now())"),
    ("zmart_ingest", "create table raw.scratch (x int)"),
    ("zmart_ingest", "truncate raw.load_batch_gaps"),
    ("zmart_ingest", "select count(*) from lifecycle.transitions"),
    ("zmart_transform", "insert into raw.candles_1m (symbol, open_time, open, high, low, close, volume, batch_id) values ('S', now(), 1, 1, 1, 1, 1, 0)"),
    ("zmart_transform", "update raw.load_batches set status = 'failed' where batch_id = -1"),
    ("zmart_transform", "insert into quarantine.contracts (batch_id, stage, rule, record) values (0, 'load', 'test', '{}')"),
    ("zmart_transform", "delete from portfolio.decisions"),
    ("zmart_transform", OVERRIDE),
    ("zmart_transform", AS_TRANSFORM + "drop table marts.app_built"),
    ("zmart_transform", "select count(*) from meta.schema_migrations"),
    ("zmart_analyst", "select count(*) from raw.candles_1m"),
    ("zmart_analyst", "select count(*) from staging.transform_view"),
    ("zmart_analyst", "select count(*) from intermediate.scratch"),
    ("zmart_analyst", "select count(*) from portfolio.evaluations"),
    ("zmart_analyst", "select count(*) from lifecycle.transitions"),
    ("zmart_analyst", "insert into marts.app_built values (3)"),
    ("zmart_analyst", "create table marts.scratch (x int)"),
    ("zmart_trader", "insert into portfolio.composition values (1, 'S01USDTM', 1, 0.1, 1)"),
    ("zmart_trader", "update portfolio.decisions set reason = 'rewritten'"),
    ("zmart_trader", "delete from portfolio.evaluations"),
    ("zmart_trader", "insert into portfolio.overrides (symbol, action, valid_from, reason, created_by) values ('S01USDTM', 'pin', now(), 'x', 'someone_else')"),
    ("zmart_trader", "update portfolio.overrides set reason = 'rewritten'"),
    ("zmart_trader", "delete from portfolio.overrides"),
    ("zmart_trader", "select count(*) from raw.candles_1m"),
    ("zmart_trader", "insert into marts.app_built values (4)"),
    ("zmart_admin", "update audit.change_log set operation = 'DELETE'"),
    ("zmart_admin", "insert into audit.change_log (table_schema, table_name, operation, primary_key, after, changed_by_session_user, "
                    "changed_by_current_user, application_name, transaction_id) values ('portfolio', 'overrides', 'INSERT', '{}', '{}', 'x', 'x', 'x', '1')"),
    ("zmart_admin", "set role zmart_audit"),
]


@pytest.mark.parametrize(("group", "statement"), CAN, ids=[f"{g}:{s[:60]}" for g, s in CAN])
def test_a_role_can_do_its_job(members: dict[str, str], group: str, statement: str) -> None:
    assert outcome(members[group], statement) == "ok"


@pytest.mark.parametrize(("group", "statement"), CANNOT, ids=[f"{g}:{s[:60]}" for g, s in CANNOT])
def test_a_role_cannot_do_anything_else(members: dict[str, str], group: str, statement: str) -> None:
    assert refused(outcome(members[group], statement))


# The application role owns the portfolio tables and ran every migration; the ledgers are sealed against it.
LEDGER_TAMPERING = [
    "update audit.change_log set after = null",
    "delete from audit.change_log",
    "truncate audit.change_log",
    "drop table audit.change_log",
    "alter table audit.change_log disable trigger change_log_append_only",
    "alter table audit.change_log owner to zmart",
    "drop schema audit cascade",
    "create or replace function audit.record_change() returns trigger language plpgsql as 'begin return null; end'",
    "create or replace function audit.refuse_change() returns trigger language plpgsql as 'begin return null; end'",
    "insert into audit.change_log (table_schema, table_name, operation, primary_key, after, changed_by_session_user, "
    "changed_by_current_user, application_name, transaction_id) values ('portfolio', 'overrides', 'INSERT', '{}', '{}', 'x', 'x', 'x', '1')",
    "update lifecycle.transitions set reason = 'rewritten'",
    "delete from lifecycle.transitions",
    "truncate lifecycle.transitions",
    "drop table lifecycle.transitions cascade",
    "alter table lifecycle.transitions disable trigger transitions_append_only",
    "alter table lifecycle.evaluated_hours disable trigger all",
    "drop schema lifecycle cascade",
    "update history.algorithm_versions set weights = '{}'",
    "delete from history.algorithm_versions",
    "truncate history.algorithm_versions",
    "alter table history.algorithm_versions disable trigger algorithm_versions_append_only",
    "drop schema history cascade",
    "create or replace function lifecycle.assert_transition() returns trigger language plpgsql as 'begin return new; end'",
    "create or replace function lifecycle.refuse_change() returns trigger language plpgsql as 'begin return null; end'",
    "set role zmart_audit",
    "grant zmart_audit to zmart",
]


@pytest.mark.parametrize("statement", LEDGER_TAMPERING)
def test_the_application_role_cannot_change_drop_or_disable_the_ledgers(url: str, statement: str) -> None:
    assert refused(outcome(url, statement))


@pytest.fixture(scope="module")
def ledger_rows(url: str, manager_ran: dict[str, Any]) -> None:
    """Row triggers need rows: the manager's audit rows, one transition and one evaluated hour."""
    with psycopg.connect(url) as conn:
        conn.execute("insert into lifecycle.transitions (symbol, as_of, from_state, to_state, reason) values ('OWNERUSDTM', %s, null, 'discovery', 'test')", (START,))
        conn.execute("insert into lifecycle.evaluated_hours (as_of, algorithm_version, transitions) values (%s, 'v1', 1)", (START,))


@pytest.mark.parametrize(
    ("table", "statement"),
    [
        ("audit.change_log", "update audit.change_log set after = null"),
        ("audit.change_log", "delete from audit.change_log"),
        ("audit.change_log", "truncate audit.change_log"),
        ("lifecycle.transitions", "update lifecycle.transitions set reason = 'rewritten'"),
        ("lifecycle.transitions", "delete from lifecycle.transitions"),
        ("lifecycle.transitions", "truncate lifecycle.transitions"),
        ("lifecycle.evaluated_hours", "truncate lifecycle.evaluated_hours"),
        ("history.algorithm_versions", "truncate history.algorithm_versions"),
    ],
)
def test_the_ledgers_refuse_changes_by_their_owner_too(
    pg_cluster: EmbeddedPostgres, url: str, ledger_rows: None, table: str, statement: str
) -> None:
    owner_session = pg_cluster.superuser_url(database_name(url))
    result = outcome(owner_session, f"set role {AUDIT_OWNER}; {statement}")
    assert result.startswith(f"InsufficientPrivilege: {table} is append-only: "), result


def test_the_ledgers_are_sealed(url: str) -> None:
    with psycopg.connect(url) as conn:
        owners = conn.execute(
            """
            select c.oid::regclass::text, pg_get_userbyid(c.relowner), pg_get_userbyid(n.nspowner)
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.oid in ('audit.change_log'::regclass, 'audit.ledgers'::regclass, 'lifecycle.transitions'::regclass, 'lifecycle.evaluated_hours'::regclass, 'history.algorithm_versions'::regclass)
            order by 1
            """
        ).fetchall()
        functions = conn.execute(
            "select p.oid::regprocedure::text, pg_get_userbyid(p.proowner), p.prosecdef from pg_proc p "
            "where p.oid in ('audit.record_change()'::regprocedure, 'audit.refuse_change()'::regprocedure, 'lifecycle.assert_transition()'::regprocedure, 'lifecycle.refuse_change()'::regprocedure) order by 1"
        ).fetchall()
        member = conn.execute("select pg_has_role(current_user, %s, 'member')", (AUDIT_OWNER,)).fetchone()
    assert {(o, s) for _, o, s in owners} == {(AUDIT_OWNER, AUDIT_OWNER)}
    assert functions == [
        ("audit.record_change()", AUDIT_OWNER, True), ("audit.refuse_change()", AUDIT_OWNER, False),
        ("lifecycle.assert_transition()", AUDIT_OWNER, False), ("lifecycle.refuse_change()", AUDIT_OWNER, False),
    ]
    assert member == (False,)


# -- the audit log's content ------------------------------------------------------------------


def rows(url: str, table: str) -> dict[str, dict[str, Any]]:
    """Each row of table as to_jsonb, keyed by its text."""
    with psycopg.connect(url) as conn:
        return {str(r): r for (r,) in conn.execute(sql.SQL("select to_jsonb(t) from {} t").format(sql.Identifier(*table.split("."))))}


def changes(url: str, table: str, operation: str) -> list[tuple[Any, ...]]:
    schema, name = table.split(".")
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select primary_key, before, after, changed_by_session_user, changed_by_current_user, application_name, transaction_id "
            "from audit.change_log where table_schema = %s and table_name = %s and operation = %s order by change_id",
            (schema, name, operation),
        ).fetchall()


KEYS = {"portfolio.evaluations": ["evaluation_id"], "portfolio.composition": ["evaluation_id", "symbol"], "portfolio.decisions": ["decision_id"]}


@pytest.fixture(scope="module")
def manager_ran(url: str) -> dict[str, dict[str, dict[str, Any]]]:
    outcomes = evaluate_window(url, START, START + timedelta(hours=2), "v1", "default", "test-run")
    assert [o.formed for o in outcomes] == [True, True]
    return {table: rows(url, table) for table in KEYS}


def test_the_portfolio_manager_works_as_before_and_holds_hostile_symbols_verbatim(url: str, manager_ran: dict[str, Any]) -> None:
    with psycopg.connect(url) as conn:
        held = conn.execute("select symbol from portfolio.composition c join portfolio.evaluations e using (evaluation_id) where e.as_of = %s", (START + timedelta(hours=1),)).fetchall()
        tables = conn.execute("select count(*) from pg_tables where schemaname = 'raw' and tablename in ('candles_1m', 'contracts')").fetchone()
    assert {s for (s,) in held} == set(SYMBOLS[-10:])
    assert tables == (2,)


def test_every_row_the_manager_wrote_is_audited_with_who_and_after(url: str, manager_ran: dict[str, dict[str, dict[str, Any]]]) -> None:
    transactions: dict[str, set[int]] = {}
    for table, keys in KEYS.items():
        inserted = changes(url, table, "INSERT")
        assert {str(after) for _, _, after, *_ in inserted} == set(manager_ran[table]), table
        for key, before, after, session, current, application, xid in inserted:
            assert key == {k: after[k] for k in keys} and before is None
            assert (session, current, application) == (APP_ROLE, APP_ROLE, "zmart-portfolio")
            transactions.setdefault(str(after.get("evaluation_id")), set()).add(xid)
    assert len(transactions) == 2 and all(len(x) == 1 for x in transactions.values())  # one transaction per evaluation
    # the decisions' consensus, votes and override columns (V0010) are in the logged rows like the others
    logged = [after for _, _, after, *_ in changes(url, "portfolio.decisions", "INSERT")]
    assert all({"consensus_status", "consensus", "votes", "override_id"} <= after.keys() for after in logged)
    first = [a for a in logged if a["consensus_status"] == "present"]
    assert len(first) == 10 and all(a["votes"] == {"sentiment": {"evidence": HOSTILE_TEXT, "weight": 0.8}} for a in first)
    assert {a["consensus_status"] for a in logged} == {"present", "missing"} and all(a["votes"] is None for a in logged if a not in first)


def test_updates_and_deletes_of_portfolio_rows_are_audited_with_before_and_after(url: str, manager_ran: dict[str, Any]) -> None:
    with psycopg.connect(url, application_name="audit-test") as conn:
        [(before,)] = conn.execute("select to_jsonb(d) from portfolio.decisions d order by decision_id limit 1").fetchall()
        [(after,)] = conn.execute(
            "update portfolio.decisions d set reason = %s where decision_id = %s returning to_jsonb(d)", (HOSTILE_TEXT, before["decision_id"])
        ).fetchall()
        conn.commit()
        [(last,)] = conn.execute("select max(evaluation_id) from portfolio.evaluations").fetchall()
        deleted = {t: [r for r in manager_ran[t].values() if r["evaluation_id"] == last] for t in KEYS}
        for table in ("portfolio.screening", "portfolio.challenger_streaks", "portfolio.decisions", "portfolio.composition", "portfolio.evaluations"):
            conn.execute(sql.SQL("delete from {} where evaluation_id = %s").format(sql.Identifier(*table.split("."))), (last,))
    [(key, logged_before, logged_after, session, current, application, _)] = changes(url, "portfolio.decisions", "UPDATE")
    assert (key, logged_before, logged_after) == ({"decision_id": before["decision_id"]}, before, after)
    assert logged_after["reason"] == HOSTILE_TEXT and (session, current, application) == (APP_ROLE, APP_ROLE, "audit-test")
    for table, gone in deleted.items():
        logged = changes(url, table, "DELETE")
        assert sorted(str(b) for _, b, a, *_ in logged if a is None) == sorted(str(r) for r in gone) and len(logged) == len(gone) > 0
        assert len({xid for *_, xid in logged}) == 1  # deleted together


def test_overrides_are_audited_with_the_login_and_the_role_that_changed_them(url: str, members: dict[str, str]) -> None:
    valid_from = START + timedelta(hours=3)
    with psycopg.connect(members["zmart_trader"]) as conn:
        login = conn.info.user
        [(inserted,)] = conn.execute(
            "insert into portfolio.overrides (symbol, action, valid_from, reason) values (%s, 'exclude', %s, %s) returning to_jsonb(overrides)",
            (HOSTILE_SYMBOLS[0], valid_from, HOSTILE_TEXT),
        ).fetchall()
        conn.commit()
        conn.execute("set role zmart_trader")
        [(updated,)] = conn.execute(
            "update portfolio.overrides set valid_to = %s where override_id = %s returning to_jsonb(overrides)",
            (valid_from + timedelta(days=1), inserted["override_id"]),
        ).fetchall()
    with psycopg.connect(url) as conn:
        conn.execute("delete from portfolio.overrides where override_id = %s", (inserted["override_id"],))
        conn.commit()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="portfolio.overrides is audited row by row .delete the rows instead.: TRUNCATE refused"):
            conn.execute("truncate portfolio.overrides")
    assert (inserted["symbol"], inserted["reason"], inserted["created_by"]) == (HOSTILE_SYMBOLS[0], HOSTILE_TEXT, login)
    key = {"override_id": inserted["override_id"]}
    assert [c[:5] for c in changes(url, "portfolio.overrides", "INSERT")] == [(key, None, inserted, login, login)]
    assert [c[:5] for c in changes(url, "portfolio.overrides", "UPDATE")] == [(key, inserted, updated, login, "zmart_trader")]
    assert [c[:5] for c in changes(url, "portfolio.overrides", "DELETE")] == [(key, updated, None, APP_ROLE, APP_ROLE)]
    assert {k for k in inserted if inserted[k] != updated[k]} == {"valid_to"}


def test_the_lifecycle_rules_are_audited(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("update lifecycle.states set description = description || ' (audited)' where state = 'retired'")
    [(key, before, after, *_)] = changes(url, "lifecycle.states", "UPDATE")
    assert key == {"state": "retired"} and after["description"] == before["description"] + " (audited)"


def test_jsonb_parameter_is_stored_verbatim(url: str) -> None:
    # A hostile text inside jsonb details passes through the audit trigger as data.
    with psycopg.connect(url) as conn:
        [(evaluation_id,)] = conn.execute("select min(evaluation_id) from portfolio.evaluations").fetchall()
        conn.execute(
            "update portfolio.decisions set details = %s where evaluation_id = %s and symbol = %s",
            (Jsonb({"note": HOSTILE_TEXT}), evaluation_id, HOSTILE_SYMBOLS[1]),
        )
    logged = [a for _, _, a, *_ in changes(url, "portfolio.decisions", "UPDATE") if a["symbol"] == HOSTILE_SYMBOLS[1]]
    assert [a["details"] for a in logged] == [{"note": HOSTILE_TEXT}]


# -- the privileged set-up refuses what it cannot make safe -----------------------------------


def test_the_setup_refuses_a_privileged_application_role_and_a_non_superuser(pg_cluster: EmbeddedPostgres, url: str) -> None:
    with psycopg.connect(pg_cluster.superuser_url(), autocommit=True) as conn:
        conn.execute("create role test_creatrole createrole")
        try:
            with pytest.raises(SecurityError, match="application role 'test_creatrole' is a superuser or has CREATEROLE"):
                ensure_roles(conn, "test_creatrole")
        finally:
            conn.execute("drop role test_creatrole")
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(SecurityError, match="connected as 'zmart', which is not a superuser"):
        seal(conn, APP_ROLE)


def test_the_migration_stops_without_the_superuser_step(pg_cluster: EmbeddedPostgres) -> None:
    name, password = f"test_owner_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    with psycopg.connect(pg_cluster.superuser_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login password {}").format(sql.Identifier(name), sql.Literal(password)))
        conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(name)))
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"the migrating role {name} is not a member of zmart_transform: run zmart db secure"):
            apply_migrations(f"postgresql://{name}:{password}@127.0.0.1:{pg_cluster.port}/{name}")
    finally:
        with psycopg.connect(pg_cluster.superuser_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


# -- upgrading a sealed database --------------------------------------------------------------


def test_a_sealed_database_upgrades_and_its_new_ledger_is_sealed_and_append_only(pg_cluster: EmbeddedPostgres, tmp_path: Path) -> None:
    """V0011 registers history.algorithm_versions in audit.ledgers, which a sealed database's
    application role may only read: migrate upgrades it anyway, and seals the new ledger."""
    up_to_v0010 = tmp_path / "migrations"
    up_to_v0010.mkdir()
    for migration in (m for m in discover() if m.version <= 10):
        shutil.copy(migration.path, up_to_v0010)
    name = f"zmart_upgrade_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_cluster.superuser_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(APP_ROLE)))
    url, superuser_url = pg_cluster.url(name), pg_cluster.superuser_url(name)
    try:
        assert [m.version for m in migrate(url, superuser_url, up_to_v0010)] == list(range(1, 11))  # roles, V0001-V0010, sealed
        assert outcome(url, "select to_regclass('history.algorithm_versions')") == "ok"
        assert refused(outcome(url, "insert into audit.ledgers (relation, reason) values ('raw.candles_1m', 'test')"))

        assert [m.version for m in migrate(url, superuser_url)][:1] == [11]
        with psycopg.connect(url) as conn:
            [(owner, schema_owner)] = conn.execute(
                "select pg_get_userbyid(c.relowner), pg_get_userbyid(n.nspowner) from audit.ledgers l "
                "join pg_class c on c.oid = l.relation join pg_namespace n on n.oid = c.relnamespace "
                "where l.relation = 'history.algorithm_versions'::regclass"
            ).fetchall()
            conn.execute(
                "insert into history.algorithm_versions (algorithm_version, parameters_hash, weights, parameters, status, dbt_invocation_id) "
                "values ('v1', md5('v1'), '{}', '{}', 'production', 'test')"
            )
        assert (owner, schema_owner) == (AUDIT_OWNER, AUDIT_OWNER)
        # the application role only appends (and the ledger registry and audit functions are out
        # of its reach again); the owner cannot change the rows either: its triggers refuse
        changes = ("update history.algorithm_versions set weights = '{\"trend\": 1}'", "delete from history.algorithm_versions")
        for statement in (*changes,
                          "alter table history.algorithm_versions disable trigger algorithm_versions_append_only",
                          "drop schema history cascade",
                          "insert into audit.ledgers (relation, reason) values ('raw.candles_1m', 'test')",
                          "select audit.track('raw.candles_1m')"):
            assert refused(outcome(url, statement))
        for statement in changes:
            result = outcome(superuser_url, f"set role {AUDIT_OWNER}; {statement}")
            assert result.startswith("InsufficientPrivilege: history.algorithm_versions is append-only: "), result
        assert migrate(url, superuser_url) == []  # idempotent
    finally:
        with psycopg.connect(pg_cluster.superuser_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
