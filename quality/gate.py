"""Run a Great Expectations 1.x checkpoint over a SQL batch of the warehouse and summarise it.

A suite is code (see ``quality.suites``): a batch query, the expectations, and the key columns
that identify a row, so a failed row-level expectation yields the exact rows to quarantine.
Each expectation names its rule in ``meta["rule"]``; that name is what quarantine records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import re

import great_expectations as gx
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations import Expectation
from psycopg import sql
import sqlalchemy.exc

# GX substitutes {batch} as "(query) AS subselect" unless the query has a JOIN, in which case
# the query must alias it itself. Its own predicate decides; unexpected_rows() checks each query
# against it so a mismatch is an error where the suite is written, not a SQL error at gate time.
from great_expectations.expectations.metrics.query_metric_provider import _query_has_join_clause

_ALIASED_BATCH = re.compile(r"\{batch\}\s+as\s+\w+", re.IGNORECASE)


class GateError(RuntimeError):
    """An expectation could not be evaluated (bad query, unreachable database): the gate cannot decide."""


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
    description: str = ""
    # The flagged rows as GX reported them: the key columns and the offending value of a
    # column-map expectation, or the rows an unexpected-rows query returned (GX keeps at most 200).
    unexpected_rows: list[dict[str, Any]] = field(default_factory=list)


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


def sql_literal(value: object) -> str:
    """``value`` as an SQL literal, quoted and typed by psycopg: GX takes batch queries as text, not with parameters."""
    return sql.Literal(value).as_string()


def unexpected_rows(rule: str, description: str, query: str) -> gx.expectations.UnexpectedRowsExpectation:
    """An expectation that ``query`` (reading the batch as ``{batch}``) returns no row.

    A query with a JOIN aliases the batch (``{batch} as window_rows``); one without refers to
    it unnamed (``from {batch}``), because GX then names it ``subselect`` itself.
    """
    joined, aliased = _query_has_join_clause(query), bool(_ALIASED_BATCH.search(query))
    if joined != aliased:
        raise ValueError(
            f"unexpected-rows query of rule {rule}: "
            + ("a query with a JOIN must alias the batch ({batch} as <name>)" if joined else
               "a query without a JOIN must not alias the batch: GX aliases it as subselect")
        )
    return gx.expectations.UnexpectedRowsExpectation(unexpected_rows_query=query, description=description, meta={"rule": rule})


def run_suite(database_url: str, spec: SuiteSpec) -> GateResult:
    """Validate ``spec.batch_query`` against ``spec.expectations`` through a GX checkpoint."""
    return run_suites(database_url, [spec])[0]


def run_suites(
    database_url: str, specs: Sequence[SuiteSpec], context: AbstractDataContext | None = None, *, details: bool = False,
) -> list[GateResult]:
    """Validate each suite through its own GX checkpoint, all in one context.

    A suite is validated for success first (GX's BOOLEAN_ONLY results: only the counts that decide
    each expectation) and again, in full (COMPLETE: the flagged keys and rows), for the
    expectations that failed: an expectation that passes costs no queries for unexpected values
    and keys, two or three scans of the batch each. ``details=True`` validates every expectation
    in full at once, for Data Docs that show each one's observed values.

    ``context`` defaults to an ephemeral one; a file context keeps the validation results, from
    which GX renders its Data Docs (see quality.docs).
    """
    if context is None:
        context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasources = {
        materialised: context.data_sources.add_or_update_postgres(
            "warehouse" if materialised else "warehouse_queries",
            connection_string=_sqlalchemy_url(database_url), create_temp_table=materialised,
        )
        for materialised in {_materialised(spec) for spec in specs}
    }
    try:
        return [_validate(context, datasources[_materialised(spec)], spec, details) for spec in specs]
    finally:
        for datasource in datasources.values():
            datasource.get_execution_engine().engine.dispose()  # the pooled sessions, and the temporary tables with them


def _materialised(spec: SuiteSpec) -> bool:
    """Whether the batch is materialised as a temporary table (GX's create_temp_table).

    Materialised, every expectation reads one snapshot of the batch and GX reads its columns from
    the catalog; otherwise GX runs the bare batch query to learn its columns and holds the whole
    result: 5.3 GiB for the 21.6M candles of a 30-day window of 500 contracts (docs/benchmarks.md).
    A suite of unexpected-rows queries only reads the batch through them and never asks for its
    columns: a copy would only cost its writing (13.3 s for those candles).
    """
    return not all(isinstance(e, gx.expectations.UnexpectedRowsExpectation) for e in spec.expectations)


def _validate(context: AbstractDataContext, datasource: Any, spec: SuiteSpec, details: bool) -> GateResult:
    if details:
        return GateResult(spec.name, _run_checkpoint(context, datasource, spec, spec.expectations, "COMPLETE"))
    outcomes = {o.rule: o for o in _run_checkpoint(context, datasource, spec, spec.expectations, "BOOLEAN_ONLY")}
    failed_rules = {rule for rule, outcome in outcomes.items() if not outcome.success}
    failed = [e for e in spec.expectations if _rule(e.meta, e.expectation_type) in failed_rules]
    if failed:
        outcomes.update((o.rule, o) for o in _run_checkpoint(context, datasource, spec, failed, "COMPLETE"))
    return GateResult(spec.name, sorted(outcomes.values(), key=lambda o: o.rule))


def _run_checkpoint(
    context: AbstractDataContext, datasource: Any, spec: SuiteSpec, expectations: Sequence[Expectation], result_format_name: str,
) -> list[Outcome]:
    if spec.name in {a.name for a in datasource.assets}:
        datasource.delete_asset(spec.name)
    asset = datasource.add_query_asset(spec.name, query=spec.batch_query)
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=spec.name))
    for expectation in expectations:
        suite.add_expectation(expectation.copy(deep=True))  # GX 1.x expectations are pydantic-v1 models
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=spec.name, data=asset.add_batch_definition_whole_table("batch"), suite=suite)
    )
    result_format: dict[str, Any] = {"result_format": result_format_name}
    if spec.key_columns and result_format_name == "COMPLETE":
        result_format["unexpected_index_column_names"] = list(spec.key_columns)
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(name=spec.name, validation_definitions=[validation], result_format=result_format)
    )
    try:
        run = checkpoint.run()
    except sqlalchemy.exc.DBAPIError as error:  # the batch itself could not be read (creating its temporary table)
        raise GateError(f"{spec.name}: the batch query could not be evaluated: {str(error.orig).splitlines()[0]}") from error
    return [_outcome(r, spec.key_columns) for vr in run.run_results.values() for r in vr.results]


def _rule(meta: dict[str, Any] | None, expectation_type: str) -> str:
    return str((meta or {}).get("rule") or expectation_type)


def _outcome(result: ExpectationValidationResult, key_columns: Sequence[str]) -> Outcome:
    config = result.expectation_config
    assert config is not None
    rule = _rule(config.meta, config.type)
    detail = result.result or {}
    failure = _raised(result.exception_info)
    if failure is not None:
        raise GateError(f"{rule} ({config.type}) could not be evaluated: {failure}")
    indexed = [row for row in detail.get("unexpected_index_list") or [] if isinstance(row, dict)]
    keys = [{k: row[k] for k in key_columns} for row in indexed]
    unexpected = detail.get("unexpected_count")
    if unexpected is None:  # batch-level expectations (e.g. unexpected-rows queries) report an observed value
        unexpected = int(detail.get("observed_value") or 0) if not result.success else 0
    rows = indexed or list((detail.get("details") or {}).get("unexpected_rows") or [])
    description = str(config.description or (config.meta or {}).get("reason") or config.type)
    return Outcome(rule, config.type, bool(result.success), int(unexpected), keys, detail.get("observed_value"), description, rows)


def _raised(info: dict[str, Any] | None) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, if any.

    GX reports it either at the top level of ``exception_info`` or under each metric it failed
    to compute; either way the expectation did not run, which is not the same as failing.
    """
    if not info:
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "unknown error").splitlines()[0]
    for nested in info.values():
        if isinstance(nested, dict) and nested.get("raised_exception"):
            return str(nested.get("exception_message") or "unknown error").splitlines()[0]
    return None


def _sqlalchemy_url(url: str) -> str:
    # SQLAlchemy picks the driver from the scheme; the project's driver is psycopg 3.
    return "postgresql+psycopg://" + url.split("://", 1)[1]
