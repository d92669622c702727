"""The sensors, evaluated by Dagster against real data: new listings, gap repair, failed runs.

Sensors reason about the wall clock (the last closed hour), so these tests freeze the exchange at
the current hour rather than at the fixed date of the other pipeline tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestration.ingestion.monitoring import candle_gaps
from orchestration.partitions import hourly
from orchestration.resources.database import PostgresResource
from orchestration.resources.ingestion import IngestionPolicy
from orchestration.runs import failure_messages
from orchestration.sensors import gap_repair_sensor, new_listing_sensor, run_failure_recorder
from simulator.faults import parse_faults
from simulator.universe import build_universe
from tests.integration.pipeline.conftest import SYMBOLS, Pipeline, partition_key

RAW_MARKET = [dg.AssetKey(["raw", "kucoin_candles_1m"]), dg.AssetKey(["raw", "kucoin_open_interest"])]


def last_closed_hour() -> datetime:
    key = hourly.get_last_partition_key()
    assert key is not None
    return datetime.strptime(key, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)


def now_ms() -> int:
    return int((last_closed_hour() + timedelta(hours=1, minutes=1)).timestamp() * 1000)


def resources(pipeline: Pipeline, max_symbols: int) -> dict[str, object]:
    return {"database": PostgresResource(url=pipeline.url), "ingestion": IngestionPolicy(max_symbols=max_symbols)}


def test_a_new_listing_gets_a_run_for_its_history_and_only_once(pipeline: Pipeline) -> None:
    # The exchange a day before its most recent listing, then just after it (the universe is the
    # simulator's ground truth): the contract listed in between appears in the second snapshot.
    listing = max(c.listed_ms for c in build_universe(42, 700) if c.listed_ms <= now_ms() - 3_600_000)
    pipeline.start_simulator(n_contracts=700, now_ms=listing - 86_400_000)
    assert pipeline.run("contracts_snapshot").success
    before = {s for (s,) in pipeline.query("select symbol from raw.contracts")}
    pipeline.start_simulator(n_contracts=700, now_ms=listing + 2 * 3_600_000)
    assert pipeline.run("contracts_snapshot").success
    latest = pipeline.query("select max(snapshot_time) from raw.contracts")[0][0]
    listed = {s for (s,) in pipeline.query("select symbol from raw.contracts where snapshot_time = %s and status = 'Open'", (latest,))}
    new = sorted(listed - before)
    assert new, "the simulated universe lists contracts every few days"

    context = dg.build_sensor_context(instance=pipeline.instance, resources=resources(pipeline, 0))
    result = new_listing_sensor(context)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.run_config["ops"]["raw__kucoin_candles_1m"]["config"]["symbols"] == new
    assert request.tags["dagster/asset_partition_range_end"] == partition_key(last_closed_hour())
    first = datetime.strptime(request.tags["dagster/asset_partition_range_start"], "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
    assert last_closed_hour() - timedelta(days=7) <= first <= last_closed_hour()

    again = new_listing_sensor(dg.build_sensor_context(instance=pipeline.instance, resources=resources(pipeline, 0), cursor=result.cursor))
    assert again.run_requests == []  # the cursor moved past the snapshot: nothing twice


def test_missing_minutes_are_requested_again_and_a_repaired_hour_is_left_alone(pipeline: Pipeline) -> None:
    hour = partition_key(last_closed_hour())
    pipeline.start_simulator(parse_faults("kline_gap=0.05"), now_ms=now_ms())
    assert pipeline.run("contracts_snapshot").success
    loaded = pipeline.run("market_pipeline", hour, assets=RAW_MARKET)
    assert loaded.success, failure_messages(loaded)
    gapped = sorted({g.symbol for g in candle_gaps(pipeline.url, last_closed_hour(), last_closed_hour() + timedelta(hours=1), SYMBOLS)})
    assert gapped

    result = gap_repair_sensor(dg.build_sensor_context(instance=pipeline.instance, resources=resources(pipeline, SYMBOLS)))
    [request] = result.run_requests
    assert request.run_config["ops"]["raw__kucoin_candles_1m"]["config"]["symbols"] == gapped
    assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]) == (hour, hour)

    # The exchange has the minutes now: running the request fills them, and the sensor goes quiet.
    pipeline.start_simulator(now_ms=now_ms())
    from orchestration.definitions import defs

    job = defs.resolve_job_def("market_pipeline")
    repaired = job.execute_in_process(
        instance=pipeline.instance, run_config=request.run_config, tags=request.tags, asset_selection=RAW_MARKET, raise_on_error=False
    )
    assert repaired.success, failure_messages(repaired)
    assert candle_gaps(pipeline.url, last_closed_hour(), last_closed_hour() + timedelta(hours=1), SYMBOLS) == []
    quiet = gap_repair_sensor(dg.build_sensor_context(instance=pipeline.instance, resources=resources(pipeline, SYMBOLS)))
    assert isinstance(quiet, dg.SkipReason)


def test_a_failed_run_is_recorded_with_its_steps_and_error(pipeline: Pipeline) -> None:
    pipeline.start_simulator(now_ms=now_ms())
    failed = pipeline.run("market_pipeline", partition_key(last_closed_hour()), assets=RAW_MARKET)  # no contracts snapshot yet
    assert not failed.success
    failure = pipeline.instance.all_logs(failed.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[-1].dagster_event
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_recorder", dagster_event=failure, dagster_instance=pipeline.instance,
        dagster_run=failed.dagster_run, resources={"database": PostgresResource(url=pipeline.url)},
    ).for_run_failure()
    run_failure_recorder(context)
    [(job, steps, message)] = pipeline.query("select job_name, failed_steps, message from meta.run_failures where run_id = %s", (failed.run_id,))
    assert job == "market_pipeline" and "raw__kucoin_candles_1m" in steps
    assert "run the contracts_snapshot job" in message
