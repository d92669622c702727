"""Every asset of the code location sits in a layer group, none in Dagster's 'default' group
(where an asset without a group, such as an undeclared dbt source, lands)."""

from __future__ import annotations

from orchestration.assets import LAYERS
from orchestration.definitions import defs


def test_every_asset_is_in_a_layer_group() -> None:
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    outside = {key: group for key, group in groups.items() if group not in LAYERS}
    assert outside == {}, f"assets outside the layer groups {LAYERS}: {outside}"
    assert set(groups.values()) == set(LAYERS)  # and every layer has assets
    assert groups["raw/signals"] == groups["raw/signal_sentiment"] == groups["raw/load_batches"] == "raw"
