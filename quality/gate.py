"""Run a Great Expectations 1.x checkpoint over a SQL batch of the warehouse and summarise it.

A suite is code (see ``quality.suites``): a batch query, the expectations, and the key columns
that identify a row, so a failed row-level expectation yields the exact rows to quarantine.
Each expectation names its rule in ``meta["rule"]``; that name is what quarantine records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import great_expectations as gx
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations import Expectation


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    batch_query: str  # SQL selecting the rows under test
    expectations: Sequence[Expectation]
    key_columns: Sequence[str] = ()


@dataclass(frozen=True)
class Outcome:
    rule: str
    expectation: str
    success: bool
    unexpected_count: int
    unexpected_keys: list[dict[str, Any]] = field(default_factory=list)
    observed: Any = None


@dataclass(frozen=True)
class GateResult:
    suite: str
    outcomes: list[Outcome]

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]

    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: all {len(self.outcomes)} expectations passed"
        parts = [f"{o.rule} ({o.unexpected_count} unexpected)" for o in self.failed]
        return f"{self.suite}: {len(self.failed)} of {len(self.outcomes)} expectations failed: " + "; ".join(parts)


def run_suite(database_url: str, spec: SuiteSpec) -> GateResult:
    """Validate ``spec.batch_query`` against ``spec.expectations`` through a GX checkpoint."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_postgres("warehouse", connection_string=_sqlalchemy_url(database_url))
    asset = datasource.add_query_asset(spec.name, query=spec.batch_query)
    suite = context.suites.add(gx.ExpectationSuite(name=spec.name))
    for expectation in spec.expectations:
        suite.add_expectation(expectation.model_copy(deep=True))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=spec.name, data=asset.add_batch_definition_whole_table("batch"), suite=suite)
    )
    result_format: dict[str, Any] = {"result_format": "COMPLETE"}
    if spec.key_columns:
        result_format["unexpected_index_column_names"] = list(spec.key_columns)
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=spec.name, validation_definitions=[validation], result_format=result_format)
    )
    run = checkpoint.run()
    outcomes = [_outcome(r, spec.key_columns) for vr in run.run_results.values() for r in vr.results]
    return GateResult(spec.name, sorted(outcomes, key=lambda o: o.rule))


def _outcome(result: ExpectationValidationResult, key_columns: Sequence[str]) -> Outcome:
    config = result.expectation_config
    assert config is not None
    rule = str((config.meta or {}).get("rule") or config.type)
    detail = result.result or {}
    if result.exception_info and result.exception_info.get("raised_exception"):
        raise RuntimeError(f"expectation {rule} could not run: {result.exception_info.get('exception_message')}")
    keys = [{k: row[k] for k in key_columns} for row in detail.get("unexpected_index_list") or [] if isinstance(row, dict)]
    unexpected = detail.get("unexpected_count")
    if unexpected is None:  # batch-level expectations (e.g. unexpected-rows queries) report an observed value
        unexpected = int(detail.get("observed_value") or 0) if not result.success else 0
    return Outcome(rule, config.type, bool(result.success), int(unexpected), keys, detail.get("observed_value"))


def _sqlalchemy_url(url: str) -> str:
    # SQLAlchemy picks the driver from the scheme; the project's driver is psycopg 3.
    return "postgresql+psycopg://" + url.split("://", 1)[1]
