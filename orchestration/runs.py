"""Run the platform's jobs in process (a partition range as one run), recorded in the Dagster instance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg

from orchestration.partitions import hourly, range_tags



@dataclass(frozen=True)
class StageTiming:
    stage: str
    seconds: float
    steps: int


def partition_range(hours: int, last: str | None = None) -> tuple[str, str]:
    """The ``hours`` hourly partition keys ending at ``last`` (default: the last closed hour)."""
    if hours < 1:
        raise ValueError(f"hours={hours}: at least one hour is needed")
    last_key = last or hourly.get_last_partition_key()
    if last_key is None:
        raise ValueError("no closed hourly partition exists yet")
    end = datetime.strptime(last_key, "%Y-%m-%d-%H:%M")
    return (end - timedelta(hours=hours - 1)).strftime("%Y-%m-%d-%H:%M"), last_key


def run_job(
    defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str,
    partitions: tuple[str, str] | None = None, log_path: Path | None = None,
    assets: Sequence[dg.AssetKey] | None = None, run_id: str | None = None,
) -> dg.ExecuteInProcessResult:
    """Run a job in process, recorded in ``instance``; a partition range runs as one run (a single-run backfill).

    With ``log_path``, what the run's steps print (dbt's log, Dagster's console logger) is
    appended to that file instead of the terminal; the run's events are in the instance either way.
    ``run_id`` names the run in advance, so its events can be followed while it runs.
    """
    job = defs.resolve_job_def(job_name)
    tags = range_tags(*partitions) if partitions else {}
    selection = list(assets) if assets else None
    if log_path is None:
        return job.execute_in_process(instance=instance, tags=tags, raise_on_error=False, asset_selection=selection, run_id=run_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as sink, redirect_stdout(sink), redirect_stderr(sink):
        return job.execute_in_process(instance=instance, tags=tags, raise_on_error=False, asset_selection=selection, run_id=run_id)


def stage_timings(instance: dg.DagsterInstance, run_id: str) -> list[StageTiming]:
    """Wall time per stage (ingest, gx, dbt, portfolio) from the run's step events in the event log."""
    starts: dict[str, float] = {}
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            stage = _stage(event.step_key)
            totals[stage] += entry.timestamp - starts.pop(event.step_key)
            counts[stage] += 1
    return [StageTiming(stage, totals[stage], counts[stage]) for stage in ("ingest", "gx", "dbt", "portfolio") if stage in totals]


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """Why each failed step failed, including the attempts that were retried before it gave up."""
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            data, label = event.step_failure_data, ""
        elif event.event_type_value == "STEP_UP_FOR_RETRY":
            data, label = event.event_specific_data, " (retried)"
        else:
            continue
        error = getattr(data, "error", None)
        cause = error.cause if error and error.cause else error
        text = cause.message.strip() if cause else event.message or "failed"
        messages.append(f"{event.step_key}{label}: {text}")
    return messages


def _stage(step_key: str) -> str:
    if step_key.endswith("_gate"):
        return "gx"
    if step_key.startswith("dbt_"):
        return "dbt"
    if step_key.startswith("portfolio"):
        return "portfolio"
    return "ingest"
