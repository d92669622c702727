"""The real dbt CLI as a subprocess against a test database, and small query helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from orchestration.resources.database import ConnectionParams
from orchestration.settings import DBT_PROJECT_DIR

DBT = Path(sys.executable).parent / "dbt"


@dataclass(frozen=True)
class Dbt:
    """Runs the project's dbt CLI against one database, with its own target and log paths."""

    url: str
    work_dir: Path

    def run(
        self, *args: str, dbt_vars: Mapping[str, Any] | None = None, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        command = [
            str(DBT), "--no-use-colors", *args,
            "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(self.work_dir / "target"),
            "--log-path", str(self.work_dir / "logs"),
        ]
        if dbt_vars is not None:
            command += ["--vars", json.dumps(dict(dbt_vars))]
        env = {
            **os.environ,
            **ConnectionParams.from_url(self.url).dbt_env(),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
        return result


def window(start: Any, end: Any) -> dict[str, str]:
    return {"window_start": start.isoformat(), "window_end": end.isoformat()}


def fetch(url: str, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]
