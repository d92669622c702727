"""The configuration files of docs/operations are valid: the Dagster instance file against
Dagster's own instance schema, the Helm values and Python modules at least parse."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

OPERATIONS = Path(__file__).parents[2] / "docs" / "operations"


def test_the_instance_file_passes_dagsters_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "USER", "PASSWORD", "DB"):
        monkeypatch.setenv(f"ZMART_DAGSTER_PG_{name}", "5432" if name == "PORT" else "x")
    shutil.copy(OPERATIONS / "dagster" / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_the_helm_values_keep_the_exchange_pool_and_the_external_database() -> None:
    values = yaml.safe_load((OPERATIONS / "helm" / "values.yaml").read_text(encoding="utf-8"))
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["concurrency"]["pools"]["defaultLimit"] == 1
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert "maxConcurrentRuns" not in str(values["dagsterDaemon"])  # Dagster refuses it there and in concurrency


@pytest.mark.parametrize("module", ["celery_definitions.py", "k8s_definitions.py"])
def test_the_executor_modules_are_python_that_wrap_the_platforms_definitions(module: str) -> None:
    tree = ast.parse((OPERATIONS / "dagster" / module).read_text(encoding="utf-8"))
    imports = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "orchestration.definitions" in imports
