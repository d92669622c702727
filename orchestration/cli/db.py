"""``zmart db``: the embedded PostgreSQL cluster (used when ZMART_DATABASE_URL is unset)."""

from __future__ import annotations

import os

import click
from rich.console import Console

from models.migrate import Migration
from models.security import migrate as secure_migrate
from orchestration.cli.errors import cli_errors
from orchestration.embedded_postgres import WAREHOUSE_DB
from orchestration.platform import embedded_cluster, prepare, redact
from orchestration.settings import load_settings

console = Console(soft_wrap=True)  # URLs and paths stay on one line, whatever the width


@click.group()
def db() -> None:
    """Manage the warehouse database (the embedded cluster under .zmart/ by default)."""


@db.command()
@cli_errors
def start() -> None:
    """Initialise (first time), start and migrate the embedded cluster. Idempotent."""
    settings = load_settings()
    if settings.database_url:
        raise click.ClickException("ZMART_DATABASE_URL is set: the platform uses that server and runs no cluster of its own")
    platform = prepare(settings)
    assert platform.embedded is not None
    console.print(f"PostgreSQL running on 127.0.0.1:{platform.embedded.port} (data: {platform.embedded.data_dir})")


@db.command()
@cli_errors
def stop() -> None:
    """Stop the embedded cluster (fast shutdown)."""
    cluster = embedded_cluster(load_settings())
    console.print("stopped" if cluster.stop() else "not running")


@db.command()
@cli_errors
def status() -> None:
    """Show whether the embedded cluster is initialised and running."""
    settings = load_settings()
    if settings.database_url:
        console.print(f"using ZMART_DATABASE_URL={redact(settings.database_url)}")
        return
    state = embedded_cluster(settings).status()
    running = f"running (pid {state.pid}) on 127.0.0.1:{state.port}" if state.running else "stopped"
    console.print(f"embedded cluster at {state.data_dir}: {'initialised' if state.initialized else 'not initialised'}, {running}")


@db.command()
@cli_errors
def url() -> None:
    """Print the warehouse connection URL (includes the embedded cluster's local password)."""
    settings = load_settings()
    if settings.database_url:
        click.echo(settings.database_url)
        return
    cluster = embedded_cluster(settings)
    if not cluster.is_initialized():
        raise click.ClickException("the embedded cluster is not initialised yet: run `zmart db start`")
    click.echo(cluster.url())


@db.command()
@cli_errors
def migrate() -> None:
    """Apply pending schema migrations (models/migrations) to the warehouse."""
    settings = load_settings()
    if settings.database_url:
        applied = secure_migrate(settings.database_url, None)
    else:
        cluster = embedded_cluster(settings)
        applied = secure_migrate(cluster.url(), cluster.superuser_url(WAREHOUSE_DB))
    _print_applied(applied)


@db.command()
@cli_errors
def secure() -> None:
    """On a server of your own: create the roles, migrate as ZMART_DATABASE_URL's role, seal the ledgers.

    The superuser's URL to the warehouse database comes from ZMART_SUPERUSER_URL (an environment
    variable, not an option: a password on the command line would show in the process list).
    Idempotent; run it instead of `zmart db migrate` whenever there are migrations to apply
    (docs/security.md). The embedded cluster does this by itself.
    """
    settings = load_settings()
    if not settings.database_url:
        raise click.ClickException("ZMART_DATABASE_URL is not set: the embedded cluster secures itself on `zmart db start`")
    superuser_url = os.environ.get("ZMART_SUPERUSER_URL", "").strip()
    if not superuser_url:
        raise click.ClickException("ZMART_SUPERUSER_URL is not set: a superuser's postgresql:// URL to the warehouse database is needed")
    _print_applied(secure_migrate(settings.database_url, superuser_url))
    console.print("roles ensured, ledgers sealed")


def _print_applied(applied: list[Migration]) -> None:
    console.print(f"applied {len(applied)} migrations" + (": " + ", ".join(m.path.name for m in applied) if applied else ""))
