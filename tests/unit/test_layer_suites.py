"""The layer gates' suites name only columns their model documents: a column renamed in dbt must
be renamed in quality/suites/layers.py too, or the gate cannot evaluate (and blocks every run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from orchestration.settings import DBT_PROJECT_DIR
from quality.suites.layers import LAYERS

START = datetime(2026, 11, 1, 5, tzinfo=UTC)
_COLUMN_ARGUMENTS = ("column", "column_A", "column_B")


def documented_columns() -> dict[str, set[str]]:
    """Model name -> its columns, from every YAML file of the dbt project."""
    columns: dict[str, set[str]] = {}
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            columns[model["name"]] = {c["name"] for c in model.get("columns", [])}
    return columns


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_every_suite_names_documented_columns_of_its_model(layer: str) -> None:
    documented = documented_columns()
    for suite in LAYERS[layer](START, START + timedelta(hours=1)):
        assert f"from {layer}.{suite.name} " in suite.batch_query + " ", f"{suite.name}: the batch reads another relation"
        named = {*suite.key_columns}
        for expectation in suite.expectations:
            config = expectation.configuration.kwargs
            named |= {config[a] for a in _COLUMN_ARGUMENTS if config.get(a)}
            named |= set(config.get("column_list") or ())
        missing = named - documented[suite.name]
        assert not missing, f"{layer} suite {suite.name}: columns {sorted(missing)} are not columns of the model"
