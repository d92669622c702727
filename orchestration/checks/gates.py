"""Turn a GX gate result into a Dagster asset-check result (and quarantine what failed)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import dagster as dg

from models.tables import RawTable
from orchestration.ingestion.quarantine import quarantine_stored
from quality.gate import GateResult


def check_result(
    result: GateResult, extra: dict[str, Any] | None = None, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {
        "suite": result.suite,
        "summary": result.summary(),
        "expectations": len(result.outcomes),
        "failed_rules": ", ".join(o.rule for o in result.failed) or "none",
    }
    for outcome in result.failed:
        metadata[f"unexpected/{outcome.rule}"] = outcome.unexpected_count
    metadata.update(extra or {})
    return dg.AssetCheckResult(passed=result.success, severity=severity, metadata=metadata)


def quarantine_failures(url: str, table: RawTable, result: GateResult) -> int:
    """Move every row a row-level expectation flagged into quarantine, once, with all its rules."""
    failures: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for outcome in result.failed:
        for key in outcome.unexpected_keys:
            failures[tuple(key[c] for c in table.key)].append(outcome.rule)
    return quarantine_stored(url, table, failures, gate=result.suite)
