"""``zmart signals``: import signal files (JSONL or CSV) into raw.signals."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from models.signals import SignalFileError
from orchestration.cli.errors import cli_errors
from orchestration.ingestion.signals import import_signal_file
from orchestration.platform import prepare
from orchestration.settings import load_settings

console = Console(soft_wrap=True)


@click.group()
def signals() -> None:
    """Trading signals from files: technical alerts, news, social posts, on-chain notes."""


@signals.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@cli_errors
def import_(file: Path) -> None:
    """Load FILE (.jsonl, .ndjson or .csv) as one batch; bad rows go to quarantine.signals.

    Re-importing a file already loaded changes nothing (its rows count as unchanged).
    """
    platform = prepare(load_settings())
    try:
        result = import_signal_file(platform.database_url, file)
    except SignalFileError as error:
        raise click.ClickException(str(error)) from error
    c = result.counts
    note = " (this file was loaded before: nothing written)" if result.already_loaded else ""
    console.print(
        f"{result.file.name}: {c.rows_in} rows: loaded {c.inserted}, unchanged {c.unchanged}, "
        f"quarantined {c.quarantined} (batch {result.batch_id}){note}"
    )
    if c.quarantined:
        console.print(f"refused rows, with file, line and rule: select * from quarantine.signals where batch_id = {result.batch_id}")
