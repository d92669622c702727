"""``zmart lineage trace``: the raw load batches behind model rows, through declared references."""

from __future__ import annotations

import json
from pathlib import Path

import click
import psycopg
from rich.console import Console
from rich.table import Table

from orchestration.cli.errors import cli_errors
from orchestration.lineage.trace import Lineage, LineageError, TracedRow, trace
from orchestration.platform import prepare
from orchestration.resources.dbt import dbt_project, ensure_manifest
from orchestration.settings import load_settings

console = Console(soft_wrap=True)


@click.group()
def lineage() -> None:
    """Lineage of model rows to raw.load_batches."""


@lineage.command("trace")
@click.argument("model")
@click.option("--where", "where", required=True,
              help="SQL predicate on MODEL's rows (alias r), e.g. \"bucket_start = '2026-11-01 07:00+00'\". "
                   "Your own SQL on your own database, run in a read-only transaction.")
@click.option("--manifest", "manifest", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="dbt manifest whose meta.lineage to read (default: dbt_project/target/manifest.json).")
@click.option("--max-rows", default=1000, show_default=True, help="Refuse a predicate selecting more rows than this.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: per row its key, batch_ids and each path's contribution.")
@cli_errors
def trace_command(model: str, where: str, manifest: Path | None, max_rows: int, as_json: bool) -> None:
    """Print each selected row of MODEL with the sorted distinct batch ids behind it: its own array
    and, recursively, those of the rows its meta.lineage.references match."""
    if manifest is None:
        ensure_manifest()  # a fresh checkout has none yet: parse once, as the code location does
    path = manifest or dbt_project.manifest_path
    platform = prepare(load_settings())
    try:
        declared = Lineage.from_manifest_file(path)
        with psycopg.connect(platform.database_url, autocommit=True) as conn:
            rows = trace(conn, declared, model, where, max_rows)
    except LineageError as error:
        raise click.ClickException(str(error)) from error
    except psycopg.OperationalError:
        raise  # unreachable database: cli_errors names it
    except psycopg.Error as error:  # the predicate's own SQL (a syntax error, a write refused)
        raise click.ClickException(f"{model} --where {where!r}: {str(error).strip().splitlines()[0]}") from error
    if as_json:
        click.echo(json.dumps([_as_dict(row) for row in rows], default=str, indent=2))
        return
    table = Table(title=f"{model}: {len(rows)} rows")
    for column in ("key", "batch_ids", "from"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            ", ".join(f"{k}={v}" for k, v in row.key.items()), " ".join(map(str, row.batch_ids)),
            "\n".join(f"{p}: {len(ids)}" for p, ids in row.contributions.items()),
        )
    console.print(table)


def _as_dict(row: TracedRow) -> dict[str, object]:
    return {"key": row.key, "batch_ids": row.batch_ids, "contributions": row.contributions}
