"""dbt invocations as the Dagster assets run them, timed, with each node's time from run_results.json.

The market models' asset (orchestration/assets/transformation.py) runs ``dbt build`` with the
window in ZMART_DBT_WINDOW_START / ZMART_DBT_WINDOW_END, and dagster-dbt adds its selection,
``--select fqn:* --exclude tag:portfolio``, and ``DBT_LOG_FORMAT=json``.

Invocations in one work directory reuse the saved parse (work_dir/target/partial_parse.msgpack),
as consecutive hourly Dagster runs do: the window is read at execution, so parsing does not
depend on it. The first invocation of a work directory parses in full.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from orchestration.resources.database import ConnectionParams
from orchestration.resources.dbt import DBT_EXECUTABLE, window_env
from orchestration.settings import DBT_PROJECT_DIR

# The market models of the per-layer dbt assets (staging, intermediate, market marts) in one
# invocation: every node but the portfolio-tagged ones.
MARKET_SELECTION = ("--select", "fqn:*", "--exclude", "tag:portfolio")
# The selection of the dbt_portfolio_models asset, run after the portfolio manager.
PORTFOLIO_SELECTION = ("--select", "tag:portfolio")
_TIMEOUT_SECONDS = 3600


class DbtFailed(RuntimeError):
    """A dbt invocation exited non-zero."""


@dataclass(frozen=True)
class NodeTiming:
    unique_id: str  # model.zmart.int_candles_1h, test.zmart...., seed.zmart....
    status: str
    seconds: float  # execution_time of run_results.json

    @property
    def resource_type(self) -> str:
        return self.unique_id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.unique_id.split(".")[2]  # a test's id ends in a hash after its name


@dataclass(frozen=True)
class DbtInvocation:
    command: str  # build or run
    window_start: str | None
    window_end: str | None
    wall_seconds: float  # the whole process: start-up, parse, hooks, nodes
    dbt_elapsed_seconds: float  # run_results.json elapsed_time: from the start of execution
    dbt_version: str
    nodes: tuple[NodeTiming, ...]

    def seconds_of(self, resource_type: str) -> float:
        return sum(n.seconds for n in self.nodes if n.resource_type == resource_type)

    def model_seconds(self) -> dict[str, float]:
        return {n.name: n.seconds for n in self.nodes if n.resource_type == "model"}


def window_vars(start: datetime, end: datetime) -> dict[str, str]:
    return {"window_start": start.isoformat(), "window_end": end.isoformat()}


def run_market_models(
    command: str, url: str, work_dir: Path, start: datetime, end: datetime, selection: tuple[str, ...] = MARKET_SELECTION,
) -> DbtInvocation:
    """``dbt <command>`` of the market models (or another asset's ``selection``) for the window [start, end), timed."""
    target = work_dir / "target"
    bounds = window_vars(start, end)
    argv = [
        str(DBT_EXECUTABLE), command, *selection,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target), "--log-path", str(work_dir / "logs"),
    ]
    env = {
        **os.environ, **ConnectionParams.from_url(url).dbt_env(), **window_env(start, end),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_LOG_FORMAT": "json",
    }
    began = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS, check=False)
    wall = time.perf_counter() - began
    if result.returncode != 0:
        raise DbtFailed(f"dbt {command} for {bounds} failed ({result.returncode}); last output:\n{_errors(result.stdout)}")
    results = json.loads((target / "run_results.json").read_text())
    nodes = tuple(NodeTiming(r["unique_id"], r["status"], float(r["execution_time"])) for r in results["results"])
    return DbtInvocation(
        command, bounds["window_start"], bounds["window_end"], wall, float(results["elapsed_time"]),
        str(results["metadata"]["dbt_version"]), nodes,
    )


def _errors(stdout: str) -> str:
    """The messages of dbt's JSON log lines at level error (else the last lines), for the exception."""
    messages = []
    for line in stdout.splitlines():
        try:
            info = json.loads(line)["info"]
        except (ValueError, KeyError, TypeError):
            continue
        if info.get("level") == "error":
            messages.append(str(info.get("msg", "")))
    return "\n".join(messages[-20:]) or "\n".join(stdout.splitlines()[-20:])
