"""LOGIN members of the group roles, created for a test and dropped after it (roles are cluster-wide)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from orchestration.embedded_postgres import EmbeddedPostgres


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@contextmanager
def login_members(cluster: EmbeddedPostgres, url: str, groups: list[str]) -> Iterator[dict[str, str]]:
    """One new LOGIN role per group, member of it and of nothing else; yields group -> its URL for ``url``'s database."""
    database = database_name(url)
    members = {group: f"test_{group.removeprefix('zmart_')}_{uuid.uuid4().hex[:8]}" for group in groups}
    password = secrets.token_urlsafe(16)
    with psycopg.connect(cluster.superuser_url(database), autocommit=True) as conn:
        for group, member in members.items():
            conn.execute(
                sql.SQL("create role {} login password {} in role {}").format(
                    sql.Identifier(member), sql.Literal(password), sql.Identifier(group)
                )
            )
    parts = urlsplit(url)
    try:
        yield {
            group: urlunsplit(parts._replace(netloc=f"{member}:{password}@{parts.hostname}:{parts.port}"))
            for group, member in members.items()
        }
    finally:
        with psycopg.connect(cluster.superuser_url(database), autocommit=True) as conn:
            for member in members.values():
                conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(member)))
                conn.execute(sql.SQL("drop role {}").format(sql.Identifier(member)))
