"""Launch the market pipeline over a range of hourly partitions, in process, recorded in the Dagster instance."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from orchestration.partitions import hourly

PIPELINE = "market_pipeline"


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


def run_pipeline(
    defs: dg.Definitions, instance: dg.DagsterInstance, first_key: str, last_key: str, quiet: bool = True
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(PIPELINE)
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}} if quiet else None
    return job.execute_in_process(
        instance=instance,
        run_config=run_config,
        tags={ASSET_PARTITION_RANGE_START_TAG: first_key, ASSET_PARTITION_RANGE_END_TAG: last_key},
        raise_on_error=False,
    )


def stage_timings(result: dg.ExecuteInProcessResult) -> list[StageTiming]:
    """Wall time per stage (ingest, gx, dbt, portfolio) from the run's step events."""
    starts: dict[str, float] = {}
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for event in result.all_events:
        if not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = event.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            stage = _stage(event.step_key)
            totals[stage] += event.timestamp - starts.pop(event.step_key)
            counts[stage] += 1
    return [StageTiming(stage, totals[stage], counts[stage]) for stage in ("ingest", "gx", "dbt", "portfolio") if stage in totals]


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            cause = error.cause if error and error.cause else error
            text = cause.message.strip() if cause else event.message or "failed"
            messages.append(f"{event.step_key}: {text}")
    return messages


def _stage(step_key: str) -> str:
    if step_key.endswith("_gate"):
        return "gx"
    if step_key.startswith("dbt_"):
        return "dbt"
    if step_key.startswith("portfolio"):
        return "portfolio"
    return "ingest"
