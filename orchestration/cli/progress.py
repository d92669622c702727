"""Rich progress bars for long in-process runs: assets materialised so far, read from the run's
event log while the run executes (the run itself prints only to its log file)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import dagster as dg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from orchestration.runs import run_job

POLL_SECONDS = 1.0


def progress_bar(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("assets"), TimeElapsedColumn(),
        console=console,
    )


def run_with_progress(
    progress: Progress, description: str, defs: dg.Definitions, instance: dg.DagsterInstance, job: str,
    partitions: tuple[str, str] | None, log_path: Path,
) -> dg.ExecuteInProcessResult:
    """Run ``job`` like run_job, advancing one bar per distinct asset materialised (a partition
    range materialises each partitioned asset once per partition: counted once)."""
    total = len(defs.resolve_job_def(job).asset_layer.selected_asset_keys)
    task = progress.add_task(description, total=total)
    run_id = str(uuid.uuid4())  # Dagster's own run ids are uuid4 strings
    finished = threading.Event()

    def follow() -> None:
        seen: set[dg.AssetKey] = set()
        cursor = None
        while not finished.wait(POLL_SECONDS):
            page = instance.get_records_for_run(run_id, cursor=cursor, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            cursor = page.cursor
            seen.update(r.event_log_entry.dagster_event.asset_key for r in page.records if r.event_log_entry.dagster_event)
            progress.update(task, completed=len(seen))

    follower = threading.Thread(target=follow, name=f"progress-{job}", daemon=True)
    follower.start()
    try:
        result = run_job(defs, instance, job, partitions, log_path, run_id=run_id)
    finally:
        finished.set()
        follower.join()
    if result.success:
        progress.update(task, completed=total)
    return result
