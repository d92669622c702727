"""The warehouse PostgreSQL: connection parameters and the Dagster resource that hands out connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import dagster as dg
import psycopg


@dataclass(frozen=True)
class ConnectionParams:
    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_url(cls, url: str) -> ConnectionParams:
        parts = urlsplit(url)
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/"),
        )

    def dbt_env(self) -> dict[str, str]:
        """The variables dbt_project/profiles.yml reads."""
        return {
            "ZMART_DBT_HOST": self.host,
            "ZMART_DBT_PORT": str(self.port),
            "ZMART_DBT_USER": self.user,
            "ZMART_DBT_PASSWORD": self.password,
            "ZMART_DBT_DBNAME": self.database,
        }

    def dagster_storage_env(self) -> dict[str, str]:
        """The variables the generated dagster.yaml reads for dagster-postgres storage."""
        return {
            "ZMART_DAGSTER_PG_HOST": self.host,
            "ZMART_DAGSTER_PG_PORT": str(self.port),
            "ZMART_DAGSTER_PG_USER": self.user,
            "ZMART_DAGSTER_PG_PASSWORD": self.password,
            "ZMART_DAGSTER_PG_DB": self.database,
        }


class PostgresResource(dg.ConfigurableResource):
    """The warehouse database. ``url`` comes from ``ZMART_DATABASE_URL`` (set by ``zmart`` for the embedded default)."""

    url: str

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.url, autocommit=autocommit, application_name="zmart-dagster") as conn:
            yield conn
