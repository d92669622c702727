"""``zmart report``: reports built from the marts."""

from __future__ import annotations

import tempfile
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


OUT_OPTION = click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="HTML file to write (its folder must exist); overwritten if present.",
)
TIME_EXAMPLE = "2026-11-01T00:00:00+00:00"


def check_out(out: Path) -> None:
    """--out must be an .html file in an existing folder we may write to."""
    if out.suffix.lower() not in (".html", ".htm"):
        raise click.ClickException(f"--out {out}: the report is HTML; give a file ending in .html")
    if not out.parent.is_dir():
        raise click.ClickException(f"--out {out}: folder {out.parent} does not exist")
    try:  # tried, not judged from permission bits (which do not bind root, nor see read-only mounts)
        if out.exists():
            out.open("r+b").close()
        else:
            tempfile.TemporaryFile(dir=out.parent).close()
    except OSError as error:
        raise click.ClickException(f"--out {out}: cannot be written ({error.strerror})") from error


def parse_time(option: str, value: str) -> datetime:
    """An ISO-8601 timestamp with an explicit UTC offset (Z or +hh:mm), as UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.ClickException(f"{option} {value!r}: not an ISO-8601 timestamp; expected e.g. {TIME_EXAMPLE}") from None
    if moment.tzinfo is None:
        raise click.ClickException(f"{option} {value!r}: has no UTC offset; add one (Z or +00:00), e.g. {TIME_EXAMPLE}")
    return moment.astimezone(UTC)


@report.command()
@OUT_OPTION
@click.option("--version", "version", default=ALGORITHM_VERSION, show_default=True, help="Scoring algorithm version whose portfolio to report.")
@cli_errors
def portfolio(out: Path, version: str) -> None:
    """A self-contained HTML report of one portfolio: equity curve and drawdown, analytics per
    period, holdings with the reason for each, sector exposure."""
    from orchestration.presentation.portfolio_report import ReportError, load, render  # matplotlib: only when reporting

    check_out(out)
    platform = prepare(load_settings())
    with psycopg.connect(platform.database_url) as conn:
        try:
            data = load(conn, version)
        except ReportError as error:
            raise click.ClickException(str(error)) from error
    out.write_text(render(data, datetime.now(UTC)), encoding="utf-8")
    click.echo(f"wrote {out} ({out.stat().st_size:,} bytes): portfolio {version}, {len(data.returns)} evaluation hours")


@report.command()
@click.option("--from", "start", required=True, help=f"Start of the period, inclusive: ISO-8601 with a UTC offset, e.g. {TIME_EXAMPLE}.")
@click.option("--to", "end", required=True, help="End of the period, exclusive: ISO-8601 with a UTC offset.")
@OUT_OPTION
@cli_errors
def compliance(start: str, end: str, out: Path) -> None:
    """A self-contained HTML report of a period [--from, --to): every decision with its rationale,
    the constraints in force and their compliance, overrides, audited changes, algorithm versions
    and schema migrations, and data quality (batches loaded, quarantined rows, gate outcomes)."""
    from orchestration.presentation.compliance_report import load, render  # the presentation package imports matplotlib

    period_start, period_end = parse_time("--from", start), parse_time("--to", end)
    if period_start >= period_end:
        raise click.ClickException(f"--from {start} must be before --to {end} (the period is [--from, --to))")
    check_out(out)
    platform = prepare(load_settings())
    with psycopg.connect(platform.database_url) as conn:
        data = load(conn, period_start, period_end)
    out.write_text(render(data, datetime.now(UTC)), encoding="utf-8")
    click.echo(
        f"wrote {out} ({out.stat().st_size:,} bytes): {len(data.evaluations)} evaluations, {len(data.decisions)} decisions, "
        f"{len(data.changes)} audited changes"
    )
