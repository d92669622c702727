"""Turn a GX gate result into a Dagster asset-check result (and quarantine what failed)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import dagster as dg
import psycopg
from psycopg.types.json import Jsonb

from models.tables import RawTable
from orchestration.ingestion.quarantine import quarantine_stored
from quality.gate import GateResult


def check_result(
    result: GateResult,
    extra: dict[str, Any] | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    spec: dg.AssetCheckSpec | None = None,
) -> dg.AssetCheckResult:
    """The check's verdict and metadata; ``spec`` names the check when one op evaluates several."""
    metadata: dict[str, Any] = {
        "suite": result.suite,
        "summary": result.summary(),
        "expectations": len(result.outcomes),
        "failed_rules": ", ".join(o.rule for o in result.failed) or "none",
    }
    for outcome in result.failed:
        metadata[f"unexpected/{outcome.rule}"] = outcome.unexpected_count
    metadata.update(extra or {})
    named = {"asset_key": spec.asset_key, "check_name": spec.name} if spec else {}
    return dg.AssetCheckResult(passed=result.success, severity=severity, metadata=metadata, **named)


def quarantine_failures(url: str, table: RawTable, result: GateResult) -> int:
    """Move every row a row-level expectation flagged into quarantine, once, with all its rules."""
    failures: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for outcome in result.failed:
        for key in outcome.unexpected_keys:
            failures[tuple(key[c] for c in table.key)].append(outcome.rule)
    return quarantine_stored(url, table, failures, gate=result.suite)



def record_findings(url: str, layer: str, results: Sequence[GateResult], start: datetime, end: datetime, run_id: str | None) -> int:
    """Record every row a failed expectation flagged (derived layers: the rows stay in place).

    The reason is the expectation's description, or the row's own ``reason`` column when its
    unexpected-rows query gives one (e.g. naming the symbol).
    """
    rows = [
        (layer, result.suite, outcome.expectation, outcome.rule, str(record.get("reason") or outcome.description), start, end, run_id,
         Jsonb(record, dumps=_dumps))
        for result in results
        for outcome in result.failed
        # a batch-level expectation flags no row: record its observed value instead
        for record in outcome.unexpected_rows or [{"unexpected_count": outcome.unexpected_count, "observed": outcome.observed}]
    ]
    if rows:
        with psycopg.connect(url) as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                "insert into quarantine.gate_findings (layer, suite, expectation, rule, reason, window_start, window_end, run_id, record) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
    return len(rows)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)  # timestamps and numerics as GX returned them
