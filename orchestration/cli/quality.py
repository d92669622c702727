"""``zmart quality docs``: Great Expectations Data Docs of every suite, as a static site."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from orchestration.cli.errors import cli_errors
from orchestration.platform import prepare
from orchestration.settings import load_settings


@click.group()
def quality() -> None:
    """Great Expectations suites of every layer."""


@quality.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of the GX file context and its site (default: <state dir>/gx).")
@click.option("--hour", "start", default=None, callback=lambda _ctx, _param, text: _hour(text) if text else None,
              help="Hour to validate, YYYY-MM-DD-HH:MM UTC (default: the latest hour with candles).")
@cli_errors
def docs(out_dir: Path | None, start: datetime | None) -> None:
    """Validate every suite on one hour and build the GX Data Docs site from the results."""
    from quality.docs import build_site, latest_hour  # imports Great Expectations

    settings = load_settings()
    platform = prepare(settings)
    start = start or latest_hour(platform.database_url)
    if start is None:
        raise click.ClickException("raw.candles_1m holds no candle yet: load an hour first (zmart demo) or pass --hour")
    site = build_site(platform.database_url, out_dir or settings.state_dir / "gx", start)
    for result in site.results:
        click.echo(result.summary())
    for name, reason in site.not_evaluated.items():
        click.echo(f"{name}: not evaluated: {reason}")
    click.echo(f"GX Data Docs: {site.index}")


def _hour(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected an hour such as 2026-11-01-07:00 (UTC)") from None
