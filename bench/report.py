"""How any benchmark reports: a rich table, a JSON file under bench/results/, and its own section
of docs/benchmarks.md with where and how the numbers were measured.

A benchmark's section sits between markers named after it, so each benchmark rewrites its own
section and leaves the rest of the page (the hand-written text, other benchmarks) alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.machine import Machine


def rich_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[str] = ()) -> Table:
    """Columns named in ``left`` are text (left-aligned); the others are numbers."""
    out = Table(title=title)
    for column in columns:
        out.add_column(column, justify="left" if column in left else "right")
    for row in rows:
        out.add_row(*row)
    return out


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[str] = ()) -> list[str]:
    return [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" if column in left else "---:" for column in columns) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


@dataclass(frozen=True)
class Measurement:
    """What every benchmark result records besides its numbers: which benchmark, the command,
    the machine, when, and how loaded the machine was."""

    name: str
    command: str
    machine: Machine
    started_at: datetime
    finished_at: datetime
    load_average_before: tuple[float, float, float]
    load_average_after: tuple[float, float, float]

    def provenance(self) -> list[str]:
        return provenance(self.command, self.started_at, self.finished_at, self.machine, self.load_average_before, self.load_average_after)


def provenance(
    command: str, started: datetime, finished: datetime, machine: Machine, load_before: Sequence[float], load_after: Sequence[float],
) -> list[str]:
    """The lines that say when, how and on what a result was measured."""
    minutes = (finished - started).total_seconds() / 60
    return [
        f"Measured {started:%Y-%m-%d %H:%M} UTC with `{command}` ({minutes:.1f} minutes in all).",
        "",
        f"- Machine: {machine.describe()}.",
        f"- Load average (1, 5, 15 min) before: {_numbers(load_before)}; after: {_numbers(load_after)}.",
    ]


def write_json(name: str, started: datetime, data: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    return path


def write_docs(name: str, section: str, path: Path, command: str | None = None) -> None:
    """Replace section ``name`` of ``path`` (appended when the page has none yet); ``command``
    (default ``python -m bench.<name>``) is what its begin marker says writes it."""
    begin = f"<!-- {name}: begin (written by {command or f'python -m bench.{name}'}; edits inside are overwritten) -->"
    end = f"<!-- {name}: end -->"
    block = f"{begin}\n{section}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(f"<!-- {name}: begin") + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text, count=1) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _numbers(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)
