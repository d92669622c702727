"""The signals drop-folder sensor, evaluated by Dagster with a real instance, and the runs it asks for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import psycopg

from orchestration.assets.signals import signals_file
from orchestration.resources.database import PostgresResource
from orchestration.resources.signals import SignalsInbox
from orchestration.sensors import signals_drop_folder_sensor


def row(external_id: str, confidence: float = 0.6) -> str:
    return json.dumps({
        "source": "sensor_feed", "external_id": external_id, "kind": "technical", "symbol": "XBTUSDTM", "direction": "short",
        "confidence": confidence, "published_at": "2026-11-01T01:00:00Z", "received_at": "2026-11-01T01:00:05Z",
    }) + "\n"


def evaluate(instance: dg.DagsterInstance, inbox: Path, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"signals_inbox": SignalsInbox(path=str(inbox))})
    return signals_drop_folder_sensor(context)  # type: ignore[return-value]


def test_the_sensor_asks_for_one_run_per_new_or_changed_file_and_the_runs_load_them(database_url: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    with dg.instance_for_test() as instance:
        assert isinstance(evaluate(instance, inbox, None), dg.SkipReason)  # no folder yet
        inbox.mkdir()
        (inbox / "a.jsonl").write_text(row("s-1"))
        (inbox / "b.csv").write_text("source,external_id,kind,symbol,direction,confidence,text,published_at,received_at\n"
                                     "sensor_feed,s-2,technical,ETHUSDTM,long,0.5,,2026-11-01T01:00:00Z,2026-11-01T01:00:09Z\n")
        (inbox / "notes.txt").write_text("not a signal file")
        first = evaluate(instance, inbox, None)
        assert isinstance(first, dg.SensorResult)
        assert [r.tags["zmart/signals_file"] for r in first.run_requests] == ["a.jsonl", "b.csv"]
        assert len({r.run_key for r in first.run_requests}) == 2
        for request in first.run_requests:
            result = dg.materialize(
                [signals_file], run_config=request.run_config, instance=instance, tags=request.tags,
                resources={"database": PostgresResource(url=database_url)},
            )
            assert result.success
            assert result.asset_materializations_for_node("signals_file")[0].metadata["rows_inserted"].value == 1

        assert evaluate(instance, inbox, first.cursor).run_requests == []  # type: ignore[union-attr]
        os.utime(inbox / "a.jsonl", ns=(1, 1))  # touched, same bytes: nothing to do
        touched = evaluate(instance, inbox, first.cursor)
        assert isinstance(touched, dg.SensorResult) and touched.run_requests == []

        (inbox / "a.jsonl").write_text(row("s-1") + row("s-3"))  # changed
        (inbox / "c.jsonl").write_text(row("s-4", 0.9))  # new
        later = evaluate(instance, inbox, touched.cursor)
        assert isinstance(later, dg.SensorResult)
        assert [r.tags["zmart/signals_file"] for r in later.run_requests] == ["a.jsonl", "c.jsonl"]
        assert not {r.run_key for r in later.run_requests} & {r.run_key for r in first.run_requests}
        for request in later.run_requests:
            assert dg.materialize([signals_file], run_config=request.run_config, instance=instance,
                                  resources={"database": PostgresResource(url=database_url)}).success
        with psycopg.connect(database_url) as conn:
            stored = conn.execute("select external_id from raw.signals where source = 'sensor_feed' order by 1").fetchall()
        assert stored == [("s-1",), ("s-2",), ("s-3",), ("s-4",)]


def test_an_unreadable_file_fails_its_run_without_retries(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("nothing,useful\n")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [signals_file], run_config={"ops": {"signals_file": {"config": {"path": str(tmp_path / "bad.csv")}}}},
            instance=instance, resources={"database": PostgresResource(url=database_url)}, raise_on_error=False,
        )
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error  # type: ignore[union-attr]
    assert "the CSV header lacks source, external_id" in failure.message
