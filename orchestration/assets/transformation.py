"""dbt models as Dagster assets (one asset per model), run for the partition window.

One dbt invocation per layer, so that each layer's blocking GX gate (orchestration.checks.layers)
stands between two ops and stops the next layer: staging, intermediate, the market marts (with
the seeds they read), then, after the portfolio manager, the portfolio marts (tag ``portfolio``).
The scores and portfolio marts get previews and charts as metadata once dbt has built them.
"""

import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets

from orchestration.assets.portfolio import SCORES
from orchestration.partitions import hourly
from orchestration.portfolio.selection import ALGORITHM_VERSION
from orchestration.presentation.asset_metadata import equity_metadata, scores_metadata, sector_metadata
from orchestration.resources.database import ConnectionParams, PostgresResource
from orchestration.resources.dbt import dbt_project, ensure_manifest, keep_partial_parse, window_env

PORTFOLIO_SELECTION = "tag:portfolio"
PORTFOLIO_HISTORY = dg.AssetKey(["marts", "fct_portfolio_history"])
SECTOR_EXPOSURE = dg.AssetKey(["marts", "fct_portfolio_sector_exposure"])


class LayeredTranslator(DagsterDbtTranslator):
    """Models keyed and grouped by their layer (the schema they build into): staging, intermediate, marts."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return str(dbt_resource_props["schema"])
        return super().get_group_name(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:analytics-engineering"]


translator = LayeredTranslator()


def dbt_environment(url: str, window: dg.TimeWindow, run_id: str) -> dict[str, str]:
    """What dbt reads from the environment in a run: the connection (profiles.yml, ZMART_DBT_*
    derived from the one database setting), the partition window (macros/window.sql) and the
    Dagster run the algorithm-version ledger records (macros/change_history.sql).

    Goes into os.environ: DbtCliResource.cli takes no environment, it starts dbt with a copy of
    os.environ (dagster-dbt 0.29). Safe across steps: a process runs one step at a time (the
    multiprocess executor a process per step, the in-process one steps in turn), and every dbt
    step sets all of it before starting dbt; dbt reads the window only at execution, so a value
    left over in the process cannot reach a `dbt parse`.
    """
    return {**ConnectionParams.from_url(url).dbt_env(), **window_env(window.start, window.end), "ZMART_DAGSTER_RUN_ID": run_id}


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, database: PostgresResource) -> Iterator[Any]:
    window = context.partition_time_window
    os.environ.update(dbt_environment(database.url, window, context.run_id))
    invocation = dbt.cli(["build"], context=context)
    for event in invocation.stream():
        if isinstance(event, dg.Output):
            extra = _charts(context.asset_key_for_output(event.output_name), database.url, window.end)
            if extra:
                event = event.with_metadata({**event.metadata, **extra})
        yield event
    keep_partial_parse(invocation.target_path)


def _charts(key: dg.AssetKey, url: str, end: datetime) -> dict[str, dg.MetadataValue]:
    """Previews and charts for the models people look at first, computed once the model is built."""
    if key == SCORES:
        return scores_metadata(url, end)
    if key == PORTFOLIO_HISTORY:
        return equity_metadata(url, ALGORITHM_VERSION, end)
    if key == SECTOR_EXPOSURE:
        return sector_metadata(url, ALGORITHM_VERSION, end)
    return {}


ensure_manifest()  # the asset graph below is read from the manifest


def _layer_models(name: str, select: str, exclude: str | None) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        select=select,
        exclude=exclude,
        name=name,
        partitions_def=hourly,
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
        project=dbt_project,
    )
    def models(context: dg.AssetExecutionContext, dbt: DbtCliResource, database: PostgresResource) -> Iterator[Any]:
        yield from _build(context, dbt, database)

    return models


# Each layer also excludes the layers after it: dbt's (eager) indirect selection runs a test when
# any of its parents is selected, unless one is excluded, so a relationship test from an
# intermediate model to a staging view runs with the intermediate layer, once both exist.
dbt_staging_models = _layer_models("dbt_staging_models", "config.schema:staging", f"{PORTFOLIO_SELECTION} config.schema:intermediate config.schema:marts")
dbt_intermediate_models = _layer_models("dbt_intermediate_models", "config.schema:intermediate", f"{PORTFOLIO_SELECTION} config.schema:marts")
dbt_mart_models = _layer_models("dbt_mart_models", "config.schema:marts", PORTFOLIO_SELECTION)
dbt_portfolio_models = _layer_models("dbt_portfolio_models", PORTFOLIO_SELECTION, None)
MARKET_LAYERS = {"staging": dbt_staging_models, "intermediate": dbt_intermediate_models, "marts": dbt_mart_models}


def external_sources(defined: Iterable[dg.AssetKey]) -> list[dg.AssetSpec]:
    """The dbt sources no asset here materialises: external assets of the raw layer.

    The load ledger, the quarantine and the change history are written as a side effect of the
    loaders, the gates and dbt's hooks; declared, they sit in the raw group with their source's
    description instead of Dagster's 'default' group, and a new source is covered without a line here.
    """
    # the manifest dagster-dbt loaded for the dbt assets (once per path), not a second parse of the file
    manifest, _, _ = get_manifest_and_translator_from_dbt_assets([dbt_staging_models])
    known = set(defined)
    specs = {}
    for props in manifest["sources"].values():
        key = translator.get_asset_key(props)
        if key not in known and key not in specs:
            description = props.get("description") or props.get("source_description") or f"{props['schema']}.{props['name']}"
            specs[key] = dg.AssetSpec(key=key, group_name="raw", owners=["team:platform"], kinds={"postgres"}, description=description)
    return list(specs.values())
