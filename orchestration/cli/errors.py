"""Turn the platform's expected failures into one clear CLI error line naming the input and the rule."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import click
import psycopg

from models.migrate import MigrationError
from models.security import SecurityError
from orchestration.embedded_postgres import EmbeddedPostgresError
from orchestration.partitioning.errors import ArchiveError
from orchestration.platform import redact
from orchestration.settings import SettingsError

P = ParamSpec("P")
R = TypeVar("R")
EXPECTED = (SettingsError, EmbeddedPostgresError, MigrationError, ArchiveError, SecurityError)


def unreachable(error: psycopg.OperationalError) -> str:
    """Which database could not be reached, and psycopg's first line of why (the rest is hints)."""
    url = os.environ.get("ZMART_DATABASE_URL")
    target = f"ZMART_DATABASE_URL={redact(url)}" if url else "the embedded cluster (zmart db status)"
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"database unreachable: {target}: {reason}"


@contextmanager
def expected_errors() -> Iterator[None]:
    try:
        yield
    except EXPECTED as error:
        raise click.ClickException(str(error)) from error
    except psycopg.OperationalError as error:
        raise click.ClickException(unreachable(error)) from error


def cli_errors(command: Callable[P, R]) -> Callable[P, R]:
    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with expected_errors():
            return command(*args, **kwargs)

    return wrapper


def require_free_port(option: str, port: int) -> None:
    """Refuse a loopback port another process listens on, before starting anything."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free to listen on
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise click.ClickException(f"{option} {port}: 127.0.0.1:{port} is already in use ({error.strerror}); choose a free port") from error
