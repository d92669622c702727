"""``zmart portfolio``: replay the portfolio manager over history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import psycopg

from orchestration.cli.errors import cli_errors
from orchestration.platform import embedded_cluster
from orchestration.portfolio.manager import ManagerError, evaluate_window
from orchestration.portfolio.selection import PolicyError, SelectionError
from orchestration.settings import load_settings


@click.group()
def portfolio() -> None:
    """The ten-symbol portfolio manager."""


@portfolio.command()
@click.option("--version", "algorithm_version", required=True, help="Scoring algorithm version of marts.fct_symbol_scores.")
@click.option("--policy", required=True, help="Policy of seed portfolio_policies.")
@click.option("--from", "first", required=True, help="First evaluation time, a whole UTC hour (ISO-8601, e.g. 2026-11-01T01:00Z).")
@click.option("--to", "last", required=True, help="Last evaluation time (inclusive), a whole UTC hour.")
@cli_errors
def replay(algorithm_version: str, policy: str, first: str, last: str) -> None:
    """Evaluate every hour from --from to --to in order, as the hourly asset does: each hour
    reads only what was known at its end, and hours already evaluated are left as decided."""
    start, end = _hour("--from", first), _hour("--to", last)
    if end < start:
        raise click.BadParameter(f"{last!r} is before --from {first!r}", param_hint="--to")
    settings = load_settings()
    url = settings.database_url or embedded_cluster(settings).url()
    with psycopg.connect(url) as conn:
        if conn.execute("select 1 from marts.fct_symbol_scores where algorithm_version = %s limit 1", (algorithm_version,)).fetchone() is None:
            raise click.BadParameter(f"{algorithm_version!r}: marts.fct_symbol_scores has no score of this version", param_hint="--version")
    try:
        outcomes = evaluate_window(url, start - timedelta(hours=1), end, algorithm_version, policy, run_id=None)
    except (PolicyError, ManagerError, SelectionError) as error:
        raise click.ClickException(str(error)) from error
    created = [o for o in outcomes if o.created]
    formed = [o for o in outcomes if o.formed]
    click.echo(
        f"{algorithm_version} / {policy}: {len(outcomes)} hours {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC, "
        f"{len(created)} evaluated, {len(outcomes) - len(created)} already decided, {len(formed)} formed, "
        f"{sum(o.adds for o in created)} adds, {sum(o.removes for o in created)} removes"
    )
    if formed:
        click.echo(f"holdings at {formed[-1].as_of:%Y-%m-%d %H:%M} UTC: {', '.join(formed[-1].holdings)}")


def _hour(option: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO-8601 date-time (e.g. 2026-11-01T01:00Z)", param_hint=option) from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset: write it as e.g. 2026-11-01T01:00Z", param_hint=option)
    moment = moment.astimezone(UTC)
    if moment != moment.replace(minute=0, second=0, microsecond=0):
        raise click.BadParameter(f"{value!r} is not a whole UTC hour: evaluations are made at the end of each hour", param_hint=option)
    return moment
