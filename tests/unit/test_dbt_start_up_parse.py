"""The start-up `dbt parse` (prepare_manifest) uses the profile of the runs, so the first run after a
start reuses it: dbt logs that it skips parsing, not that the profile changed. Real dbt, as a run
invokes it (its environment, its own target path holding a copy of the start-up parse, as
dagster-dbt copies it from the project's target); a parse never connects, so the database need not
exist. The parses go to the test's own folders: the project's saved parse is shared with whatever
else runs dbt meanwhile (a parallel test worker's pipeline runs replace it)."""

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from orchestration.assets.transformation import dbt_environment
from orchestration.resources.dbt import DATABASE_URL_ENV, PARTIAL_PARSE_FILE, dbt_resource, prepare_manifest, project_changed_after

URL = "postgresql://zmart:password@127.0.0.1:5999/zmart_start_up_parse"  # never connected to
WINDOW = dg.TimeWindow(datetime(2026, 11, 1, 5, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC))
PARSE_EVENTS = ("PartialParsingSkipParsing", "PartialParsingEnabled", "UnableToPartialParse", "PartialParsingNotEnabled")


def first_run_parse(start_up: Path, target: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(event, message) of what a run's dbt invocation says about the start-up parse in `start_up`."""
    target.mkdir()
    shutil.copy(start_up / PARTIAL_PARSE_FILE, target / PARTIAL_PARSE_FILE)
    with monkeypatch.context() as run:
        for key, value in dbt_environment(URL, WINDOW, "a-run-id").items():
            run.setenv(key, value)
        invocation = dbt_resource().cli(["parse", "--log-level", "debug"], target_path=target)
        events = [(e.raw_event["info"]["name"], e.raw_event["info"]["msg"]) for e in invocation.stream_raw_events()]
    return [event for event in events if event[0] in PARSE_EVENTS]


def test_the_first_run_after_start_up_skips_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    # the reference: a start-up parse with the defaults of profiles.yml is thrown away by the run
    prepare_manifest(target=tmp_path / "start_up_defaults")
    assert first_run_parse(tmp_path / "start_up_defaults", tmp_path / "run_1", monkeypatch) == [("UnableToPartialParse", "Unable to do partial parsing because profile has changed")]
    # the runs' database: the run starts from the start-up parse as it is
    prepare_manifest(URL, target=tmp_path / "start_up_runs_profile")
    assert first_run_parse(tmp_path / "start_up_runs_profile", tmp_path / "run_2", monkeypatch) == [
        ("PartialParsingEnabled", "Partial parsing enabled: 0 files deleted, 0 files added, 0 files changed."),
        ("PartialParsingSkipParsing", "Partial parsing enabled, no changes found, skipping parsing"),
    ]


def test_a_project_file_changed_after_the_parse_is_seen_and_dbt_output_is_not(tmp_path: Path) -> None:
    """ensure_manifest re-parses when this says so: a code location importing over a manifest older
    than the models would build an asset graph without the models added since."""
    for name in ("models/marts/fct_x.sql", "models/marts/_x__models.yml", "seeds/weights.csv", "dbt_project.yml",
                 "target/manifest.json", "target/compiled/zmart/fct_x.sql", "logs/dbt.log", "dbt_packages/p/m.sql"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    parsed = 1_000_000.0
    for path in tmp_path.rglob("*"):
        os.utime(path, (parsed - 10, parsed - 10))
    assert not project_changed_after(tmp_path, parsed)
    for output in ("target/manifest.json", "target/compiled/zmart/fct_x.sql", "logs/dbt.log", "dbt_packages/p/m.sql"):
        os.utime(tmp_path / output, (parsed + 10, parsed + 10))
    assert not project_changed_after(tmp_path, parsed)
    for source in ("models/marts/_x__models.yml", "seeds/weights.csv", "dbt_project.yml"):
        os.utime(tmp_path / source, (parsed + 10, parsed + 10))
        assert project_changed_after(tmp_path, parsed), source
        os.utime(tmp_path / source, (parsed - 10, parsed - 10))
    (tmp_path / "models/marts/fct_new.sql").write_text("select 1")  # added now, after the parse
    assert project_changed_after(tmp_path, parsed)
