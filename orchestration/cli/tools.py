"""``zmart ui``, ``zmart docs`` and ``zmart env``: the Dagster UI, dbt docs and the environment they read."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import click
from rich.console import Console

from orchestration.cli.errors import cli_errors, require_free_port
from orchestration.cli.simulation import exchange_url
from orchestration.platform import prepare
from orchestration.resources.dbt import prepare_manifest
from orchestration.resources.database import ConnectionParams
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, load_settings

_BIN = Path(sys.executable).parent


@click.command()
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1024, 65535), help="Port of the Dagster UI on 127.0.0.1.")
@click.option(
    "--sim-port", default=8765, show_default=True, type=click.IntRange(1024, 65535),
    help="Port of the simulator started beside the UI (unused with ZMART_SIM_URL or ZMART_EXCHANGE=live).",
)
@cli_errors
def ui(port: int, sim_port: int) -> None:
    """Start the Dagster UI and daemon (schedules, sensors, backfills) on 127.0.0.1."""
    settings = load_settings()
    require_free_port("--port", port)
    if settings.exchange == "sim" and settings.sim_url is None:
        require_free_port("--sim-port", sim_port)
    platform = prepare(settings)
    prepare_manifest(platform.database_url)  # the code location reads the manifest when it loads; the runs' profile: partial parses
    with exchange_url(settings, port=sim_port) as url:
        platform.export(url)
        click.echo(f"Dagster UI on http://127.0.0.1:{port} (exchange: {url}); Ctrl-C stops it")
        subprocess.run(
            [str(_BIN / "dagster"), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT,
            check=False,
        )


@click.command()
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1024, 65535), help="Port of the docs site on 127.0.0.1.")
@cli_errors
def docs(port: int) -> None:
    """Generate the dbt docs (models, columns, tests, lineage from the raw tables to the marts,
    with the warehouse's catalog) and serve them on 127.0.0.1 until Ctrl-C."""
    require_free_port("--port", port)
    platform = prepare(load_settings())
    env = {**os.environ, **ConnectionParams.from_url(platform.database_url).dbt_env()}
    dbt = [str(_BIN / "dbt"), "--no-use-colors"]
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    with Console(soft_wrap=True).status("dbt docs generate (parsing the project, reading the warehouse catalog)"):
        generated = subprocess.run([*dbt, "docs", "generate", *common], env=env, capture_output=True, text=True, check=False)
    if generated.returncode != 0:
        raise click.ClickException("dbt docs generate failed:\n" + (generated.stdout + generated.stderr).strip()[-2000:])
    click.echo(f"dbt docs on http://127.0.0.1:{port}; Ctrl-C stops it")
    subprocess.run([*dbt, "docs", "serve", *common, "--host", "127.0.0.1", "--port", str(port), "--no-browser"], env=env, check=False)


@click.command()
@cli_errors
def env() -> None:
    """Print `export` lines for running dagster or dbt by hand against this platform."""
    platform = prepare(load_settings())
    for key, value in sorted(platform.environment().items()):
        click.echo(f"export {key}={shlex.quote(value)}")

