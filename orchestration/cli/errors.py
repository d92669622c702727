"""Turn the platform's expected failures into one clear CLI error line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import click

from models.migrate import MigrationError
from models.security import SecurityError
from orchestration.embedded_postgres import EmbeddedPostgresError
from orchestration.partitioning.errors import ArchiveError
from orchestration.settings import SettingsError

P = ParamSpec("P")
R = TypeVar("R")
EXPECTED = (SettingsError, EmbeddedPostgresError, MigrationError, ArchiveError, SecurityError)


@contextmanager
def expected_errors() -> Iterator[None]:
    try:
        yield
    except EXPECTED as error:
        raise click.ClickException(str(error)) from error


def cli_errors(command: Callable[P, R]) -> Callable[P, R]:
    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with expected_errors():
            return command(*args, **kwargs)

    return wrapper
