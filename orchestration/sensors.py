"""Sensors: new listings get their history, missing minutes get re-fetched, failed runs get recorded,
signal files get imported and the hours they change rebuilt."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from models.signals import FORMATS

from orchestration.assets.signals import signals_file
from orchestration.assets.transformation import MARKET_LAYERS
from orchestration.ingestion.monitoring import candle_gaps, latest_snapshot_time, new_listings, record_run_failure
from orchestration.ingestion.signals import first_affected_receipt
from orchestration.jobs import market_pipeline, signals_import
from orchestration.partitions import HISTORY_START, hourly, range_tags
from orchestration.resources.database import PostgresResource
from orchestration.resources.dbt import project_vars
from orchestration.resources.ingestion import IngestionPolicy
from orchestration.resources.signals import SignalsInbox

# How far back a new listing's history is loaded, and how far back gaps are looked for.
LISTING_LOOKBACK = timedelta(days=7)
GAP_LOOKBACK = timedelta(hours=48)
_EXCHANGE_OPS = ("raw__kucoin_candles_1m", "raw__kucoin_open_interest")
# The market dbt models that read the signals, directly or through other models (staging, events,
# reliability, sentiment, then the score components, agents and scores that read them). The
# portfolio marts read them only through the portfolio manager's decisions, which a rebuild of past
# hours does not re-make.
SIGNALS_DEPENDENT = sorted(
    (dg.AssetSelection.assets(signals_file).downstream(include_self=False) & dg.AssetSelection.assets(*MARKET_LAYERS.values()))
    .resolve([signals_file, *MARKET_LAYERS.values()]),
    key=lambda key: key.path,
)


def _symbols_config(symbols: list[str]) -> dict[str, object]:
    return {"ops": {op: {"config": {"symbols": symbols}} for op in _EXCHANGE_OPS}}


def _last_closed_hour() -> datetime | None:
    key = hourly.get_last_partition_key()
    return datetime.strptime(key, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC) if key else None


def _key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d-%H:%M")


@dg.sensor(
    job=market_pipeline,
    minimum_interval_seconds=300,
    description=(
        "When a contract the pipeline follows appears in a new contracts snapshot, runs the market pipeline over "
        "its history (up to 7 days) for that contract only."
    ),
)
def new_listing_sensor(context: dg.SensorEvaluationContext, database: PostgresResource, ingestion: IngestionPolicy) -> dg.SensorResult:
    # The cursor is the newest contracts snapshot already looked at; a first evaluation looks back a week.
    after = datetime.fromisoformat(context.cursor) if context.cursor else datetime.now(UTC) - LISTING_LOOKBACK
    listings = new_listings(database.url, after, ingestion.max_symbols)
    last = _last_closed_hour()
    requests = []
    for listing in listings if last is not None else []:
        first = max(listing.listed_from.replace(minute=0, second=0, microsecond=0), last - LISTING_LOOKBACK, HISTORY_START)
        if first > last:
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"listing:{listing.snapshot_time.isoformat()}:{','.join(listing.symbols)}",
                run_config=_symbols_config(list(listing.symbols)),
                tags={**range_tags(_key(first), _key(last)), "zmart/trigger": "new_listing"},
            )
        )
    newest = latest_snapshot_time(database.url)
    cursor = max(after, newest) if newest else after
    return dg.SensorResult(run_requests=requests, cursor=cursor.isoformat())


@dg.sensor(
    job=market_pipeline,
    minimum_interval_seconds=600,
    description=(
        "Finds followed contracts with fewer stored 1m candles than they traded in the last 48 loaded hours and "
        "re-fetches them (then rebuilds the windows from the earliest gap on)."
    ),
)
def gap_repair_sensor(context: dg.SensorEvaluationContext, database: PostgresResource, ingestion: IngestionPolicy) -> dg.SensorResult | dg.SkipReason:
    last = _last_closed_hour()
    if last is None:
        return dg.SkipReason("no closed hour yet")
    end = last + timedelta(hours=1)
    gaps = candle_gaps(database.url, end - GAP_LOOKBACK, end, ingestion.max_symbols)
    if not gaps:
        return dg.SkipReason("no missing minutes in the last 48 loaded hours")
    symbols = sorted({g.symbol for g in gaps})
    first = min(g.hour for g in gaps)
    missing = sum(g.expected_minutes - g.stored_minutes for g in gaps)
    context.log.info(f"{missing} minutes missing for {len(symbols)} symbols since {first:%Y-%m-%d %H:%M}")
    # The same gaps yield the same run key: a gap the exchange itself has is asked for once, not forever.
    run_key = f"gaps:{_key(first)}:{','.join(symbols)}:{missing}"
    request = dg.RunRequest(
        run_key=run_key,
        run_config=_symbols_config(symbols),
        tags={**range_tags(_key(first), _key(last)), "zmart/trigger": "gap_repair"},
    )
    return dg.SensorResult(run_requests=[request])


@dg.run_failure_sensor(
    name="run_failure_recorder",
    monitor_all_code_locations=False,
    description="Records every failed run (job, partitions, failed steps, error) in meta.run_failures.",
)
def run_failure_recorder(context: dg.RunFailureSensorContext, database: PostgresResource) -> None:
    run = context.dagster_run
    tags = run.tags
    partitions = tags.get("dagster/asset_partition_range_start")
    partition_range = f"{partitions}..{tags.get('dagster/asset_partition_range_end')}" if partitions else tags.get("dagster/partition")
    steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    messages = [e.event_specific_data.error.message.strip() for e in context.get_step_failure_events() if e.event_specific_data and e.event_specific_data.error]
    message = "; ".join(messages) or context.failure_event.message or "failed"
    record = context.instance.get_run_record_by_id(run.run_id)
    failed_at = record.update_timestamp if record else datetime.now(UTC)
    record_run_failure(database.url, run.run_id, run.job_name, partition_range, steps, message, failed_at)


@dg.sensor(
    job=signals_import,
    minimum_interval_seconds=30,
    description=(
        "Imports each new or changed signal file (.jsonl, .ndjson, .csv) of the drop folder (ZMART_SIGNALS_DIR, "
        "default .zmart/signals/inbox): one run per file version, keyed by its path and sha256."
    ),
)
def signals_drop_folder_sensor(context: dg.SensorEvaluationContext, signals_inbox: SignalsInbox) -> dg.SensorResult | dg.SkipReason:
    folder = Path(signals_inbox.path)
    if not folder.is_dir():
        return dg.SkipReason(f"the signals drop folder {folder} does not exist")
    # The cursor maps each file seen to (size, mtime_ns, sha256): an unchanged file is not hashed again.
    seen: dict[str, list[object]] = json.loads(context.cursor) if context.cursor else {}
    current: dict[str, list[object]] = {}
    requests = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FORMATS):
        stat = path.stat()
        before = seen.get(str(path))
        if before is not None and before[:2] == [stat.st_size, stat.st_mtime_ns]:
            current[str(path)] = before
            continue
        with path.open("rb") as handle:
            sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
        current[str(path)] = [stat.st_size, stat.st_mtime_ns, sha256]
        if before is not None and before[2] == sha256:
            continue  # touched, same bytes
        requests.append(
            dg.RunRequest(
                run_key=f"signals:{path}:{sha256}",
                run_config={"ops": {"signals_file": {"config": {"path": str(path)}}}},
                tags={"zmart/trigger": "signals_drop_folder", "zmart/signals_file": path.name},
            )
        )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(current, sort_keys=True))


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[signals_import],
    request_job=market_pipeline,
    minimum_interval_seconds=60,
    description=(
        "After a signals import that inserted signals, rebuilds the dbt models that read signals (not the raw data, "
        "not the portfolio) over the built hours they change: from the first receipt of the events the new signals "
        "can join, to the last built hour."
    ),
)
def signals_rebuild_sensor(context: dg.RunStatusSensorContext, database: PostgresResource) -> dg.RunRequest | dg.SkipReason:
    run_id = context.dagster_run.run_id
    window_minutes = int(project_vars()["signals"]["event_window_minutes"])
    since = first_affected_receipt(database.url, run_id, window_minutes)
    if since is None:
        return dg.SkipReason(f"run {run_id} inserted no signal")
    built = _built_hours(context.instance)
    if built is None:
        return dg.SkipReason("no hour of the models that read signals is built yet: the hourly runs will read them")
    # Every model reads only what was known by its row's time (signals, outcomes, accuracies), so
    # the hours from the first one changed to the last built are all that can be stale.
    first, last = max(_key(since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)), built[0]), built[1]
    if first > last:
        return dg.SkipReason(f"the new signals change no hour up to {last}, the last built: the hourly runs will read them")
    return dg.RunRequest(
        run_key=f"signals-rebuild:{run_id}",
        asset_selection=SIGNALS_DEPENDENT,
        tags={**range_tags(first, last), "zmart/trigger": "signals_import", "zmart/signals_run": run_id},
    )


def _built_hours(instance: dg.DagsterInstance) -> tuple[str, str] | None:
    """The first and last hourly partitions materialised of any model that reads signals."""
    keys = set().union(*(instance.get_materialized_partitions(key) for key in SIGNALS_DEPENDENT))
    return (min(keys), max(keys)) if keys else None
