"""The dbt project and the dbt CLI the code location runs it with.

Kept apart from the dbt assets: the asset definitions read target/manifest.json when their
module is imported, so a command that changed the project must re-parse it (prepare_manifest)
before importing them.
"""

import sys
from pathlib import Path
from typing import Any

import yaml
from dagster_dbt import DbtCliResource, DbtProject

from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# dbt is installed beside this interpreter; a virtualenv's bin need not be on PATH.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE))


def prepare_manifest() -> None:
    """(Re)parse the dbt project so target/manifest.json matches the models on disk."""
    dbt_resource().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()


def ensure_manifest() -> None:
    """Parse once on a fresh checkout, where no manifest exists yet."""
    if not dbt_project.manifest_path.exists():
        prepare_manifest()


def project_vars() -> dict[str, Any]:
    """The vars block of dbt_project.yml: what the code location's dbt runs use (they pass only the window)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project["vars"])
