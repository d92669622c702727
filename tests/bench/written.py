"""A benchmark's result written the way its CLI writes it, into a docs page that has other text."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def written_twice(write: Callable[[Path, Path], Path], tmp_path: Path) -> tuple[dict[str, Any], str]:
    """``write(results_dir, docs_file)`` run twice (the second must replace its own section): the
    JSON it wrote and the page's text."""
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nkept\n")
    data = json.loads(write(tmp_path / "results", docs).read_text())
    write(tmp_path / "results", docs)
    return data, docs.read_text()
