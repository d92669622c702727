"""The database roles and the sealing of the append-only ledgers: the two steps that need a superuser.

Everything else about security (grants, default privileges, the audit triggers) is in the schema
migrations, which run as the application role. Two things cannot be: roles are cluster-wide
objects an unprivileged role cannot create, and a ledger the application role could drop or
whose triggers it could disable is not append-only, so the ledgers must belong to a role the
application role is not a member of (``zmart_audit``). Only a superuser can give it to them.

``ensure_roles`` runs before the migrations (V0008 refuses to run without the roles), ``seal``
after them; both are idempotent. A sealed database upgrades the same way: while its migrations
run, the application role may also register new ledgers (``migrate``). The embedded cluster
runs them itself (orchestration.platform); on a server of your own a superuser runs ``zmart db
secure`` (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from models.migrate import MIGRATIONS_DIR, Migration, apply_migrations

AUDIT_OWNER = "zmart_audit"
TRANSFORM_ROLE = "zmart_transform"
ADMIN_ROLE = "zmart_admin"

# NOLOGIN group roles: people and services get LOGIN roles that are members of one of them.
GROUP_ROLES: dict[str, str] = {
    "zmart_ingest": "Loads exchange data: writes raw.*, quarantine.* and the load ledger; reads meta.",
    TRANSFORM_ROLE: "Runs dbt: reads raw, quarantine, portfolio, lifecycle; creates and replaces relations in the dbt schemas.",
    "zmart_analyst": "Reads the marts only.",
    "zmart_trader": "Reads the marts and the portfolio; writes portfolio.overrides only.",
    ADMIN_ROLE: "Everything the application role may do, migrations included (it is a member of the application role).",
    AUDIT_OWNER: "Owns the audit log and the append-only ledgers; has no members, so nobody but a superuser acts as it.",
}


class SecurityError(RuntimeError):
    """The roles or the ledgers cannot be set up as docs/security.md requires."""


def ensure_roles(conn: psycopg.Connection, app_role: str) -> None:
    """Create the missing group roles and the two memberships; ``conn`` is a superuser's."""
    _assert_superuser(conn)
    _assert_unprivileged(conn, app_role)
    for role, purpose in GROUP_ROLES.items():
        if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is None:
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
        conn.execute(sql.SQL("comment on role {} is {}").format(sql.Identifier(role), sql.Literal(purpose)))
    # The application role sets the default privileges of what dbt creates as zmart_transform
    # (ALTER DEFAULT PRIVILEGES FOR ROLE needs membership) and reads it; admin acts as the app role.
    _grant_membership(conn, TRANSFORM_ROLE, app_role)
    _grant_membership(conn, app_role, ADMIN_ROLE)


def seal(conn: psycopg.Connection, app_role: str) -> None:
    """Give the audit schema and every ledger in audit.ledgers to zmart_audit; ``conn`` is a superuser's
    connection to the warehouse database, migrated to V0008 or later.

    The application role keeps what it needs to append: USAGE (and CREATE, for its other tables)
    on the ledgers' schemas, SELECT and INSERT on the ledgers, SELECT on the audit log and EXECUTE
    on the audit trigger function. Changing a ledger's structure from then on is a superuser's job.
    """
    _assert_superuser(conn)
    _assert_unprivileged(conn, app_role)
    if conn.execute("select to_regclass('audit.ledgers')").fetchone() == (None,):
        raise SecurityError("audit.ledgers does not exist: apply the migrations (V0008) before sealing")
    owner, app = sql.Identifier(AUDIT_OWNER), sql.Identifier(app_role)
    with conn.transaction():
        conn.execute(sql.SQL("alter schema audit owner to {}").format(owner))
        for (table,) in conn.execute("select c.oid::regclass::text from pg_class c where c.relnamespace = 'audit'::regnamespace and c.relkind in ('r', 'p', 'v')").fetchall():
            conn.execute(sql.SQL("alter table {} owner to {}").format(sql.SQL(table), owner))
        for (function,) in conn.execute("select p.oid::regprocedure::text from pg_proc p where p.pronamespace = 'audit'::regnamespace").fetchall():
            conn.execute(sql.SQL("alter function {} owner to {}").format(sql.SQL(function), owner))
        conn.execute(sql.SQL("grant usage on schema audit to {}").format(app))
        conn.execute(sql.SQL("grant select on all tables in schema audit to {}").format(app))
        conn.execute(sql.SQL("grant execute on function audit.record_change() to {}").format(app))
        for table, schema in conn.execute(
            "select l.relation::text, c.relnamespace::regnamespace::text from audit.ledgers l join pg_class c on c.oid = l.relation"
        ).fetchall():
            _seal_ledger(conn, table, schema, owner, app)


def _seal_ledger(conn: psycopg.Connection, table: str, schema: str, owner: sql.Identifier, app: sql.Identifier) -> None:
    # table, schema and the functions are regclass / regnamespace / regprocedure text from the
    # catalog: already quoted identifiers, never data.
    conn.execute(sql.SQL("alter table {} owner to {}").format(sql.SQL(table), owner))
    # The owner of a schema may drop it with everything in it, whoever owns the contents.
    conn.execute(sql.SQL("alter schema {} owner to {}").format(sql.SQL(schema), owner))
    conn.execute(sql.SQL("grant usage, create on schema {} to {}").format(sql.SQL(schema), app))
    conn.execute(sql.SQL("grant select, insert on {} to {}").format(sql.SQL(table), app))
    # A trigger function the application role owns could be replaced by a no-op.
    for (function,) in conn.execute(
        "select distinct t.tgfoid::regprocedure::text from pg_trigger t where t.tgrelid = %s::regclass and not t.tgisinternal",
        (table,),
    ).fetchall():
        conn.execute(sql.SQL("alter function {} owner to {}").format(sql.SQL(function), owner))


def _grant_membership(conn: psycopg.Connection, role: str, member: str) -> None:
    granted = conn.execute(
        "select 1 from pg_auth_members m join pg_roles r on r.oid = m.roleid join pg_roles u on u.oid = m.member "
        "where r.rolname = %s and u.rolname = %s",
        (role, member),
    ).fetchone()
    if granted is None:
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(role), sql.Identifier(member)))


def _assert_superuser(conn: psycopg.Connection) -> None:
    if conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() != (True,):
        raise SecurityError(f"connected as {conn.info.user!r}, which is not a superuser: roles and ledger ownership need one")


def _assert_unprivileged(conn: psycopg.Connection, app_role: str) -> None:
    row = conn.execute("select rolsuper, rolcreaterole from pg_roles where rolname = %s", (app_role,)).fetchone()
    if row is None:
        raise SecurityError(f"application role {app_role!r} does not exist")
    if row[0] or row[1]:
        # A superuser passes every check; a CREATEROLE role (PostgreSQL 15) can grant itself zmart_audit.
        raise SecurityError(
            f"application role {app_role!r} is a superuser or has CREATEROLE: the database could not hold it to its "
            "privileges nor keep the ledgers append-only; use an ordinary role (docs/security.md)"
        )


def migrate(url: str, superuser_url: str | None, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply the pending migrations as the application role (``url``).

    With ``superuser_url`` (a superuser's connection to the same database) the roles are created
    first and the ledgers sealed afterwards; without it they must have been, by someone who has one.
    A sealed database is upgraded too: a migration that adds a ledger registers it in
    audit.ledgers and gives it audit.refuse_change() triggers, which the application role may
    then only read and not execute, so it may while the migrations run (``_ledger_registration``);
    sealing then seals the new ledger.
    """
    if superuser_url is None:
        return apply_migrations(url, directory)
    with psycopg.connect(url) as conn:
        app_role = conn.info.user
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        ensure_roles(conn, app_role)
    with _ledger_registration(superuser_url, app_role):
        applied = apply_migrations(url, directory)
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        seal(conn, app_role)
    return applied


# What a migration that adds a ledger or an audited table uses of a sealed audit schema
# (docs/security.md, "What a future migration must do"): registering the ledger, its refusing
# trigger (CREATE TRIGGER needs EXECUTE on the function; firing it does not) and audit.track.
_MIGRATION_PRIVILEGES = (
    "insert on audit.ledgers",
    "execute on function audit.refuse_change()",
    "execute on function audit.track(regclass)",
)


@contextmanager
def _ledger_registration(superuser_url: str, app_role: str) -> Iterator[None]:
    """Let the application role register ledgers in a sealed database for the duration, and no longer.

    Only INSERT on audit.ledgers and EXECUTE on the two functions: a registered ledger gains
    protection when sealed, none is lost; the rows already there and every sealed ledger stay out
    of reach (owned by zmart_audit), and the functions only refuse changes or add triggers to
    tables the caller owns. Before sealing (or before V0008) the application role owns them all.
    """
    app = sql.Identifier(app_role)
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        sealed = conn.execute("select pg_get_userbyid(relowner) = %s from pg_class where oid = to_regclass('audit.ledgers')",
                              (AUDIT_OWNER,)).fetchone() == (True,)
        for privilege in _MIGRATION_PRIVILEGES if sealed else ():
            conn.execute(sql.SQL("grant " + privilege + " to {}").format(app))
    try:
        yield
    finally:
        with psycopg.connect(superuser_url, autocommit=True) as conn:
            for privilege in _MIGRATION_PRIVILEGES if sealed else ():
                conn.execute(sql.SQL("revoke " + privilege + " from {}").format(app))
