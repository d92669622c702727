"""A data test confined to the build window reads the window's rows through an index.

An hourly run tests what it rebuilt: the test's ``where`` (macros/where_subquery.sql) must bound
a column that one of the tested table's indexes leads with, from below by window_start and from
above by window_end. A bound on an expression of the column (``bucket_start + interval '1 day' >
__window_start__``) or on a column no index leads with leaves PostgreSQL to read the table up to
the window's end, so the test grows with the history: at workload M such tests made the 30-day
increment 1.31 times the 7-day one (docs/benchmarks.md)."""

from __future__ import annotations

import re
from typing import Any

from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets

from orchestration.assets.transformation import dbt_portfolio_models

# a comparison of the bare column with the placeholder (a function of the placeholder is fine:
# PostgreSQL computes it once; a function of the column is not)
LOWER = r"(?<![\w.]){column}\s*>=?\s*(?:date_trunc\('day',\s*)?__window_start__"
UPPER = r"(?<![\w.]){column}\s*<=?\s*__window_end__"


def windowed_tests(manifest: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(test id, where, tested table node) of every windowed test of a table or incremental model."""
    found = []
    for node in manifest["nodes"].values():
        where = node["config"].get("where") or ""
        if node["resource_type"] != "test" or "__window_start__" not in where:
            continue
        tested = manifest["nodes"][node["attached_node"]]
        if tested["config"]["materialized"] in {"table", "incremental"}:  # a view is read through its tables
            found.append((node["unique_id"], where, tested))
    return found


def uses_an_index(where: str, table: dict[str, Any]) -> bool:
    leading = {index["columns"][0] for index in table["config"].get("indexes") or ()}
    return any(
        re.search(LOWER.format(column=column), where) and re.search(UPPER.format(column=column), where)
        for column in leading
    )


def test_every_windowed_data_test_bounds_an_indexed_column() -> None:
    manifest = get_manifest_and_translator_from_dbt_assets([dbt_portfolio_models])[0]  # one manifest for all dbt assets
    tests = windowed_tests(manifest)
    assert len(tests) > 200  # the rule is checked, not vacuously true
    unindexed = sorted({(table["name"], where) for _, where, table in tests if not uses_an_index(where, table)})
    assert unindexed == []


def test_the_rule_refuses_what_grew_at_workload_m() -> None:
    table = {"config": {"indexes": [{"columns": ["symbol", "score_time"]}, {"columns": ["score_time"]}, {"columns": ["bucket_start"]}]}}
    assert uses_an_index("score_time > __window_start__ and score_time <= __window_end__", table)
    assert uses_an_index("bucket_start > __window_start__ - interval '1 day' and bucket_start < __window_end__", table)
    assert uses_an_index("day >= date_trunc('day', __window_start__, 'UTC') and day < __window_end__", {"config": {"indexes": [{"columns": ["day"]}]}})
    # fct_symbol_scores' old window: no index leads with bucket_start there
    assert not uses_an_index("bucket_start >= __window_start__ and bucket_start < __window_end__", {"config": {"indexes": [{"columns": ["score_time"]}]}})
    # the comoments' old window: the lower bound is on an expression of the column
    assert not uses_an_index("bucket_start + interval '1 day' > __window_start__ and bucket_start < __window_end__", table)
    # a bound from one side only reads the table from the window to its end, or up to the window
    assert not uses_an_index("bucket_end > __window_start__ and bucket_start < __window_end__", table)
    assert not uses_an_index("score_time > __window_start__", table)
