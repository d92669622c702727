"""``zmart report``: reports built from the marts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
import psycopg

from orchestration.cli.errors import cli_errors
from orchestration.platform import prepare
from orchestration.portfolio.selection import ALGORITHM_VERSION
from orchestration.settings import load_settings


@click.group()
def report() -> None:
    """Write reports from the marts (run the market pipeline first: `zmart demo`)."""


@report.command()
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="HTML file to write (its folder must exist); overwritten if present.",
)
@click.option("--version", "version", default=ALGORITHM_VERSION, show_default=True, help="Scoring algorithm version whose portfolio to report.")
@cli_errors
def portfolio(out: Path, version: str) -> None:
    """A self-contained HTML report of one portfolio: equity curve and drawdown, analytics per
    period, holdings with the reason for each, sector exposure."""
    from orchestration.presentation.portfolio_report import ReportError, load, render  # matplotlib: only when reporting

    if out.suffix.lower() not in (".html", ".htm"):
        raise click.ClickException(f"--out {out}: the report is HTML; give a file ending in .html")
    if not out.parent.is_dir():
        raise click.ClickException(f"--out {out}: folder {out.parent} does not exist")
    platform = prepare(load_settings())
    with psycopg.connect(platform.database_url) as conn:
        try:
            data = load(conn, version)
        except ReportError as error:
            raise click.ClickException(str(error)) from error
    out.write_text(render(data, datetime.now(UTC)), encoding="utf-8")
    click.echo(f"wrote {out} ({out.stat().st_size:,} bytes): portfolio {version}, {len(data.returns)} evaluation hours")
