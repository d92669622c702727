"""The real dbt CLI as a subprocess against a test database, and small query and comparison helpers."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from orchestration.resources.database import ConnectionParams
from orchestration.resources.dbt import WINDOW_END_ENV, WINDOW_START_ENV
from orchestration.settings import DBT_PROJECT_DIR

DBT = Path(sys.executable).parent / "dbt"
WINDOW_VARS = {"window_start": WINDOW_START_ENV, "window_end": WINDOW_END_ENV}  # var -> environment variable
# what Dagster runs, minus the data tests where they are not the point (each costs seconds)
BUILD_MODELS = ("build", "--exclude-resource-type", "test")
RTOL = 1e-9


@dataclass(frozen=True)
class Dbt:
    """Runs the project's dbt CLI against one database, with its own target and log paths.

    The window vars (window_start, window_end) of `dbt_vars` reach dbt as Dagster passes them, in
    the environment (ZMART_DBT_WINDOW_*), the other vars as --vars; so consecutive windows reuse
    the saved parse in work_dir/target. Pass "--vars" in `args` to test the by-hand path.
    """

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
        other_vars = {k: v for k, v in (dbt_vars or {}).items() if k not in WINDOW_VARS}
        if other_vars:
            command += ["--vars", json.dumps(other_vars)]
        env = {
            **{k: v for k, v in os.environ.items() if k not in WINDOW_VARS.values()},  # none inherited
            **ConnectionParams.from_url(self.url).dbt_env(),
            **{WINDOW_VARS[k]: str(v) for k, v in (dbt_vars or {}).items() if k in WINDOW_VARS and v is not None},
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


def frame(url: str, query: str) -> pd.DataFrame:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query)  # type: ignore[arg-type]
        assert cur.description is not None
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def assert_same_tables(actual: dict[str, list[tuple[object, ...]]], expected: dict[str, list[tuple[object, ...]]]) -> None:
    for table, rows in expected.items():
        assert len(actual[table]) == len(rows), table
        for got, want in zip(actual[table], rows, strict=True):
            assert got == want, f"{table}: {got} != {want}"


def assert_close(actual: object, expected: object, label: object) -> None:
    """Equal to RTOL, or both null (pandas shows a SQL null in a float column as NaN: the caller
    checks that the relation holds no NaN, e.g. test_dbt_portfolio_analytics.assert_no_nan_or_infinity)."""
    actual, expected = (None if v is None or pd.isna(v) else v for v in (actual, expected))  # type: ignore[call-overload]
    if expected is None or actual is None:
        assert actual is None and expected is None, (label, actual, expected)
    else:
        assert math.isclose(float(actual), float(expected), rel_tol=RTOL, abs_tol=0.0), (label, actual, expected)  # type: ignore[arg-type]


def rows_read(plan: dict[str, Any]) -> dict[str, int]:
    """Rows each relation's scans read in an EXPLAIN ANALYZE plan (returned + filtered out), x loops."""
    counts: dict[str, int] = {}
    nodes = [plan]
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", ()))
        if "Relation Name" in node:
            read = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
            name = f"{node.get('Schema', '')}.{node['Relation Name']}"
            counts[name] = counts.get(name, 0) + int(read * node.get("Actual Loops", 1))
    return counts


def query_reads(url: str, sql: str) -> dict[str, int]:
    """Rows each relation's scans read when `sql` runs (EXPLAIN ANALYZE, nothing written)."""
    with psycopg.connect(url) as conn:
        # On 72 hours of test data scanning a whole table is cheaper than probing an index, so
        # the planner would read everything; on a real history it probes the indexes. Measure
        # the plans as they run at scale.
        conn.execute("set enable_seqscan = off")
        conn.execute("set enable_bitmapscan = off")
        plan = conn.execute(f"explain (analyze, verbose, format json) {sql}").fetchone()[0]  # type: ignore[index]
    return rows_read(plan[0]["Plan"])
