"""dbt models as Dagster assets (one asset per model), run for the partition window.

One dbt invocation per layer, so that each layer's blocking GX gate (orchestration.checks.layers)
stands between two ops and stops the next layer: staging, intermediate, the market marts (with
the seeds they read), then, after the portfolio manager, the portfolio marts (tag ``portfolio``).
The scores and portfolio marts get previews and charts as metadata once dbt has built them.
"""

import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.assets.portfolio import SCORES
from orchestration.partitions import hourly
from orchestration.portfolio.selection import ALGORITHM_VERSION
from orchestration.presentation.asset_metadata import equity_metadata, scores_metadata, sector_metadata
from orchestration.resources.database import ConnectionParams, PostgresResource
from orchestration.resources.dbt import dbt_project, ensure_manifest

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


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, database: PostgresResource) -> Iterator[Any]:
    # dbt reads its connection from ZMART_DBT_*; derive them from the one database setting.
    os.environ.update(ConnectionParams.from_url(database.url).dbt_env())
    window = context.partition_time_window
    invocation = dbt.cli(["build", *_window_args(window)], context=context, target_path=_run_target_path(context))
    for event in invocation.stream():
        if isinstance(event, dg.Output):
            extra = _charts(context.asset_key_for_output(event.output_name), database.url, window.end)
            if extra:
                event = event.with_metadata({**event.metadata, **extra})
        yield event


def _window_args(window: dg.TimeWindow) -> list[str]:
    """The partition window as dbt arguments (read by macros/window.sql), the same for every layer of a run."""
    return ["--vars", json.dumps({"window_start": window.start.isoformat(), "window_end": window.end.isoformat()})]


def _run_target_path(context: dg.AssetExecutionContext) -> Path:
    """One dbt target folder per run, shared by its layer invocations (which run one after another).

    dbt re-parses the whole project when the vars differ from those its partial_parse.msgpack was
    saved with, and the window changes every run. In a shared folder the first layer pays that
    parse and saves the msgpack; the later layers (same vars, same project) parse partially.
    """
    return dbt_project.target_path / f"run-{context.run.run_id}"


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
