"""``zmart archive`` and ``zmart restore``: raw partitions to the Parquet cold tier and back."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from orchestration.cli.errors import cli_errors
from orchestration.partitioning.archive import PartitionArchive, archive_partitions, resolve_table, restore_partitions
from orchestration.platform import prepare
from orchestration.settings import load_settings

_TIME = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"])


@click.command()
@click.option("--table", "table_name", required=True, help="A partitioned raw table, e.g. raw.candles_1m.")
@click.option("--before", required=True, type=_TIME, help="UTC date (or YYYY-MM-DDTHH:MM): partitions ending on or before it are archived.")
@cli_errors
def archive(table_name: str, before: datetime) -> None:
    """Export whole partitions to Parquet (manifest, checksums), verify them, then detach and drop them."""
    settings = load_settings()
    table = resolve_table(table_name)
    platform = prepare(settings)
    done = archive_partitions(platform.database_url, table, before.replace(tzinfo=UTC), settings.archive_dir)
    _report("archived", done, f"{table.qualified}: no partition ends on or before {before:%Y-%m-%d %H:%M} UTC; nothing to archive")


@click.command()
@click.option("--table", "table_name", required=True, help="A partitioned raw table, e.g. raw.candles_1m.")
@click.option("--partition", default=None, help="The archived partition's name, e.g. candles_1m_p20250101.")
@click.option("--from", "start", default=None, type=_TIME, help="Restore every archived partition overlapping [--from, --to) (UTC).")
@click.option("--to", "end", default=None, type=_TIME, help="End (exclusive, UTC) of the range given with --from.")
@cli_errors
def restore(table_name: str, partition: str | None, start: datetime | None, end: datetime | None) -> None:
    """Load archived partitions back from Parquet, verify their checksum, and attach them."""
    settings = load_settings()
    table = resolve_table(table_name)
    platform = prepare(settings)
    done = restore_partitions(
        platform.database_url, table, settings.archive_dir, settings.hot_days, partition,
        start.replace(tzinfo=UTC) if start else None, end.replace(tzinfo=UTC) if end else None,
    )
    _report("restored", done, f"{table.qualified}: restored already; nothing to do")


def _report(verb: str, done: list[PartitionArchive], nothing: str) -> None:
    if not done:
        click.echo(nothing)
    for a in done:
        click.echo(f"{verb} {a.table} {a.partition} [{a.range_start:%Y-%m-%d %H:%M}, {a.range_end:%Y-%m-%d %H:%M}) {a.row_count} rows, {a.content_checksum} ({a.manifest})")
