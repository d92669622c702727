"""The signals rebuild sensor on a real Dagster instance: a signal file imported after the hours it
covers were built gets those hours of the dbt models that read signals rebuilt, and the rebuild
gives what rebuilding every market model over those hours gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from orchestration.assets.transformation import MARKET_LAYERS
from orchestration.resources.database import PostgresResource
from orchestration.runs import failure_messages
from orchestration.sensors import SIGNALS_DEPENDENT, signals_rebuild_sensor
from tests.integration.pipeline.conftest import Pipeline, hour

SIGNAL_TABLES = ("intermediate.int_signal_sentiment_1h", "intermediate.int_score_components_1h", "marts.fct_symbol_scores")


def write_signals(path: Path, *signals: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps({"source": "rebuild_feed", "kind": "news", "confidence": 0.8, **s}) + "\n" for s in signals))
    return path


def import_signals(pipeline: Pipeline, path: Path) -> dg.ExecuteInProcessResult:
    from orchestration.definitions import defs

    result = defs.resolve_job_def("signals_import").execute_in_process(
        instance=pipeline.instance, run_config={"ops": {"signals_file": {"config": {"path": str(path)}}}},
    )
    assert result.success
    return result


def evaluate(pipeline: Pipeline, imported: dg.ExecuteInProcessResult) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_run_status_sensor_context(
        sensor_name="signals_rebuild_sensor", dagster_event=imported.get_run_success_event(), dagster_instance=pipeline.instance,
        dagster_run=imported.dagster_run, resources={"database": PostgresResource(url=pipeline.url)},
    )
    return signals_rebuild_sensor(context)  # type: ignore[return-value]


def tables(pipeline: Pipeline) -> dict[str, pd.DataFrame]:
    return {table: pd.DataFrame(pipeline.query(f"select * from {table} t order by t::text")) for table in SIGNAL_TABLES}


def test_an_import_after_the_build_rebuilds_the_hours_it_changes(pipeline: Pipeline, tmp_path: Path) -> None:
    pipeline.start_simulator()
    assert pipeline.run("contracts_snapshot").success
    first, second = (s for (s,) in pipeline.query("select distinct symbol from raw.contracts order by 1 limit 2"))
    early = write_signals(tmp_path / "early.jsonl", {
        "external_id": "a-1", "symbol": first, "direction": "long", "text": f"{first} breaks out above resistance on heavy volume",
        "published_at": "2026-11-01T00:40:00Z", "received_at": "2026-11-01T00:45:00Z",
    })
    imported = import_signals(pipeline, early)
    assert isinstance(evaluate(pipeline, imported), dg.SkipReason)  # nothing built yet: the hourly runs will read it
    built = pipeline.run("market_pipeline", hour(0), hour(3))
    assert built.success, failure_messages(built)

    late = write_signals(tmp_path / "late.jsonl", {
        # a repost 30 min after a-1 (within event_window_minutes): it joins a-1's event, first received in hour 0
        "external_id": "a-2", "symbol": first, "direction": "long", "text": f"{first} breaks out above resistance on heavy volume!",
        "published_at": "2026-11-01T01:10:00Z", "received_at": "2026-11-01T01:20:00Z",
    }, {
        "external_id": "b-1", "symbol": second, "direction": "short", "text": f"{second} slides after an exchange outage",
        "published_at": "2026-11-01T02:05:00Z", "received_at": "2026-11-01T02:10:00Z",
    }, {  # after the last built hour: the hourly run of its hour will read it
        "external_id": "c-1", "symbol": second, "direction": "long", "text": f"{second} recovers",
        "published_at": "2026-11-01T06:00:00Z", "received_at": "2026-11-01T06:01:00Z",
    })
    imported = import_signals(pipeline, late)
    sentiment = "select signal_count from intermediate.int_signal_sentiment_1h where symbol = %s and bucket_start = %s"
    assert pipeline.query(sentiment, (second, "2026-11-01T02:00:00Z")) == []  # stale: built before b-1 was imported

    request = evaluate(pipeline, imported)
    assert isinstance(request, dg.RunRequest)
    assert request.asset_selection == SIGNALS_DEPENDENT
    assert not {k.path[0] for k in SIGNALS_DEPENDENT} & {"raw", "portfolio"}  # the signals' readers only
    assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]) == (hour(0), hour(3))
    assert request.run_key == f"signals-rebuild:{imported.run_id}"

    rebuilt = pipeline.run("market_pipeline", hour(0), hour(3), assets=request.asset_selection)
    assert rebuilt.success, failure_messages(rebuilt)
    assert {e.asset_key for e in rebuilt.get_asset_materialization_events()} == set(SIGNALS_DEPENDENT)
    assert pipeline.query(sentiment, (second, "2026-11-01T02:00:00Z")) == [(1,)]
    after_rebuild = tables(pipeline)

    every_model = pipeline.run("market_pipeline", hour(0), hour(3), assets=[key for layer in MARKET_LAYERS.values() for key in layer.keys])
    assert every_model.success, failure_messages(every_model)
    for table, frame in tables(pipeline).items():
        pd.testing.assert_frame_equal(after_rebuild[table], frame, obj=table)

    again = import_signals(pipeline, late)  # the same bytes: nothing inserted, nothing to rebuild
    assert isinstance(evaluate(pipeline, again), dg.SkipReason)
