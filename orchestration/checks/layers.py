"""Blocking GX gates on the derived layers: one check op per layer, one blocking check per model.

A blocking check only holds back the steps of other ops that read the asset it checks, so each
layer (its own dbt invocation, see orchestration.assets.transformation) gets a check on every
one of its models: a failed gate stops every model of the next layer, whichever of this
layer's models it reads. The layer's suites (quality.suites.layers) run once; each model's check
fails when the gate failed, and its metadata names the suites and rules that did. Flagged rows
stay in place and are recorded in quarantine.gate_findings.
"""


from collections.abc import Callable, Iterator
from datetime import datetime

import dagster as dg

from orchestration.checks.gates import check_result, record_findings
from orchestration.partitions import hourly
from orchestration.resources.database import PostgresResource
from quality.gate import GateResult, SuiteSpec, run_suites
from quality.suites.layers import LAYERS


def layer_gate(layer: str, assets: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    suites: Callable[[datetime, datetime], list[SuiteSpec]] = LAYERS[layer]
    name = f"{layer}_gate"
    specs = [
        dg.AssetCheckSpec(name, asset=key, blocking=True, partitions_def=hourly, description=_description(layer))
        for key in sorted(k for k in assets.keys if k.path[0] == layer)
    ]

    # can_subset: a run of some of the layer's models (the signals rebuild sensor's) selects only
    # their checks; the layer's suites still run whole over the window and gate what was selected
    @dg.multi_asset_check(name=name, specs=specs, description=_description(layer), can_subset=True)
    def gate(context: dg.AssetCheckExecutionContext, database: PostgresResource) -> Iterator[dg.AssetCheckResult]:
        window = context.partition_time_window
        results = run_suites(database.url, suites(window.start, window.end))
        recorded = record_findings(database.url, layer, results, window.start, window.end, context.run.run_id)
        failed = [r for r in results if not r.success]
        for result in failed:
            context.log.error(result.summary())
        # the layer's verdict and metadata once per evaluation, shared by every model's check
        verdict = GateResult(name, [o for r in results for o in r.outcomes])
        shared = {
            "window": f"{window.start} .. {window.end}",
            "suites": ", ".join(r.suite for r in results),
            "failed_suites": ", ".join(r.suite for r in failed) or "none",
            "rows_recorded": recorded,
        }
        own = {r.suite: r.summary() for r in results}
        selected = context.selected_asset_check_keys
        for spec in (s for s in specs if s.key in selected):
            yield check_result(verdict, {**shared, "own_suite": own.get(spec.asset_key.path[-1], _NO_OWN_SUITE)}, spec=spec)

    return gate


_NO_OWN_SUITE = "none (gated by the layer's suites)"


def _description(layer: str) -> str:
    return (
        f"Great Expectations suites of the {layer} layer on the partition window (quality/suites/layers.py). "
        f"Blocking: a failure in any {layer} suite stops every model that reads this layer; the flagged rows stay in "
        "place and are recorded in quarantine.gate_findings with the suite, expectation and rule."
    )
