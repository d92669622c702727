"""Every asset of the code location sits in a layer group, none in Dagster's 'default' group
(where an asset without a group, such as an undeclared dbt source, lands)."""

from __future__ import annotations

from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets

from orchestration.assets import LAYERS
from orchestration.assets.transformation import MARKET_LAYERS, dbt_portfolio_models, external_sources, translator
from orchestration.definitions import defs


def test_every_asset_is_in_a_layer_group() -> None:
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    outside = {key: group for key, group in groups.items() if group not in LAYERS}
    assert outside == {}, f"assets outside the layer groups {LAYERS}: {outside}"
    assert set(groups.values()) == set(LAYERS)  # and every layer has assets
    assert groups["raw/signals"] == groups["raw/signal_sentiment"] == groups["raw/load_batches"] == "raw"


def test_the_raw_sources_are_declared_from_the_manifest_the_dbt_assets_loaded() -> None:
    """One manifest in memory: the dbt assets' (dagster-dbt reads a path once), which
    external_sources declares the raw sources from, every one no asset materialises."""
    manifests = [get_manifest_and_translator_from_dbt_assets([a])[0] for a in (*MARKET_LAYERS.values(), dbt_portfolio_models)]
    assert all(m is manifests[0] for m in manifests)
    sources = {translator.get_asset_key(props) for props in manifests[0]["sources"].values()}
    defined = {key for asset in (*MARKET_LAYERS.values(), dbt_portfolio_models) for key in asset.keys}
    assert {spec.key for spec in external_sources(defined)} == sources - defined != set()
