"""dbt models as Dagster assets (one asset per model), run for the partition window.

Two invocations split the graph around the portfolio manager: the market models (staging,
intermediate, scores) run before it, the portfolio marts (tag ``portfolio``) after it. The
scores and portfolio marts get previews and charts as metadata once dbt has built them.
"""

import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
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
    # dagster_run_id: the run the algorithm-version ledger records (macros/change_history.sql)
    dbt_vars = {"window_start": window.start.isoformat(), "window_end": window.end.isoformat(), "dagster_run_id": context.run_id}
    for event in dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream():
        if isinstance(event, dg.Output):
            extra = _charts(context.asset_key_for_output(event.output_name), database.url, window.end)
            if extra:
                event = event.with_metadata({**event.metadata, **extra})
        yield event


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


@dbt_assets(
    manifest=dbt_project.manifest_path,
    exclude=PORTFOLIO_SELECTION,
    name="dbt_market_models",
    partitions_def=hourly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    project=dbt_project,
)
def dbt_market_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, database: PostgresResource) -> Iterator[Any]:
    yield from _build(context, dbt, database)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select=PORTFOLIO_SELECTION,
    name="dbt_portfolio_models",
    partitions_def=hourly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    project=dbt_project,
)
def dbt_portfolio_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, database: PostgresResource) -> Iterator[Any]:
    yield from _build(context, dbt, database)
