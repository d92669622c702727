"""The dbt project and the dbt CLI the code location runs it with.

Kept apart from the dbt assets: the asset definitions read target/manifest.json when their
module is imported, so a command that changed the project must re-parse it (prepare_manifest)
before importing them.
"""

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from dagster_dbt import DbtCliResource, DbtProject

from orchestration.resources.database import ConnectionParams
from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# dbt is installed beside this interpreter; a virtualenv's bin need not be on PATH.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
# The build window as dbt_project/macros/window.sql reads it, at execution only.
WINDOW_START_ENV = "ZMART_DBT_WINDOW_START"
WINDOW_END_ENV = "ZMART_DBT_WINDOW_END"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
MANIFEST_FILE = "manifest.json"
PARSED_SUFFIXES = (".sql", ".yml", ".yaml", ".csv", ".md")  # the files a project change is looked for in
DATABASE_URL_ENV = "ZMART_DATABASE_URL"  # the warehouse the runs' PostgresResource connects to


def window_env(start: datetime, end: datetime) -> dict[str, str]:
    """The window [start, end) for dbt: environment variables, not --vars, because dbt re-parses
    the whole project whenever its --vars change, and these are read only at execution."""
    return {WINDOW_START_ENV: start.isoformat(), WINDOW_END_ENV: end.isoformat()}


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE))


def prepare_manifest(database_url: str | None = None, target: Path | None = None) -> None:
    """(Re)parse the dbt project so target/manifest.json matches the models on disk.

    Parsed with the connection the runs use (``database_url``, else ZMART_DATABASE_URL, as the
    Dagster resource reads it): dbt keeps a partial parse only for the profile it was made with,
    so the first run after a start parses partially instead of in full. Without either, the
    defaults of profiles.yml (a parse never connects).

    dbt writes its files in place, so the parse goes to a scratch folder and its saved parse and
    manifest replace the project's atomically: another process reading the manifest meanwhile
    (a code location loading, a parallel test worker) sees the old file or the new one whole.
    ``target`` parses into that folder instead and leaves the project's files alone.
    """
    url = database_url or os.environ.get(DATABASE_URL_ENV)
    with _environment(ConnectionParams.from_url(url).dbt_env() if url else {}):
        if target is not None:
            dbt_resource().cli(["parse", "--quiet"], target_path=target).wait()
            return
        project_target = dbt_project.project_dir / dbt_project.target_path  # target_path is relative to it
        project_target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=project_target, prefix="parse-") as scratch:
            # dagster-dbt seeds the scratch folder with the project's saved parse, so this parse is partial too
            dbt_resource().cli(["parse", "--quiet"], target_path=Path(scratch)).wait()
            for name in (PARTIAL_PARSE_FILE, MANIFEST_FILE):  # the manifest last: it is what readers wait for
                os.replace(Path(scratch) / name, project_target / name)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ with ``values`` for the duration (DbtCliResource.cli starts dbt with a copy of it)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ensure_manifest() -> None:
    """Parse when no manifest exists yet (a fresh checkout) or a project file changed after the
    last parse (a model edited or added since): the asset graph must match the models dbt runs,
    or dbt reports a node the graph does not have."""
    manifest = dbt_project.manifest_path
    if not manifest.exists() or project_changed_after(dbt_project.project_dir, manifest.stat().st_mtime):
        prepare_manifest()


def project_changed_after(root: Path, mtime: float) -> bool:
    """Whether a file dbt parses under ``root`` (SQL, YAML, seeds, docs) was modified after
    ``mtime``; dbt's own output folders (target, logs, dbt_packages) are not looked at."""
    ignored = {root / dbt_project.target_path, root / "logs", root / "dbt_packages"}
    for folder, folders, files in os.walk(root):
        folders[:] = [f for f in folders if Path(folder, f) not in ignored]
        if any(Path(folder, f).stat().st_mtime > mtime for f in files if f.endswith(PARSED_SUFFIXES)):
            return True
    return False


def keep_partial_parse(invocation_target: Path) -> None:
    """Make an invocation's saved parse the one the next invocation starts from.

    dagster-dbt copies dbt_project/target/partial_parse.msgpack into each invocation's own
    target path (DbtCliInvocation.run); dbt writes its new parse there, which would be lost with
    that directory. The project's copy comes from `dbt parse` at start-up (prepare_manifest, with
    the runs' profile); each run's own parse replaces it, so the next run starts from the latest.
    Replaced atomically (a concurrent copy reads the old file or the new one whole); a file from
    another database or code version only costs a re-parse: dbt checks it before use.
    """
    source = invocation_target / PARTIAL_PARSE_FILE
    if not source.exists():
        return
    destination = dbt_project.project_dir / dbt_project.target_path / PARTIAL_PARSE_FILE  # target_path is relative to it
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=destination.parent, prefix=PARTIAL_PARSE_FILE, delete=False) as copy:
        copy.write(source.read_bytes())
    os.replace(copy.name, destination)


def project_vars() -> dict[str, Any]:
    """The vars block of dbt_project.yml: what the code location's dbt runs use (they pass only the window)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project["vars"])
