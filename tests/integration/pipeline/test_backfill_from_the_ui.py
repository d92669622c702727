"""A backfill launched the way the Dagster UI launches it (GraphQL, webserver + daemon on
dagster-postgres) over 30 days of hourly partitions becomes one run per BackfillPolicy, not 720."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.dagster_ui import dagster_webserver, graphql
from tests.integration.pipeline.conftest import DAY_START, Pipeline, partition_key

DAYS = 30
MARKET_ASSETS = [["raw", "kucoin_candles_1m"], ["raw", "kucoin_open_interest"]]

LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on UnauthorizedError { message }
  }
}
"""
RUNS = """
query Runs($backfill: String!) {
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $backfill}]}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""
CANCEL = "mutation Cancel($id: String!) { cancelPartitionBackfill(backfillId: $id) { __typename } }"


@pytest.fixture()
def dagster_ui(pipeline: Pipeline, tmp_path: Path) -> Iterator[int]:
    pipeline.start_simulator()
    assert pipeline.run("contracts_snapshot").success
    with dagster_webserver(tmp_path / "dagster.log", daemon=True) as port:
        yield port


def test_a_30_day_backfill_runs_as_one_run(pipeline: Pipeline, dagster_ui: int) -> None:
    partitions = [partition_key(DAY_START - timedelta(days=DAYS) + timedelta(hours=h)) for h in range(DAYS * 24)]
    launched = graphql(
        dagster_ui, LAUNCH,
        {"params": {"partitionNames": partitions, "assetSelection": [{"path": p} for p in MARKET_ASSETS]}},
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill = launched["backfillId"]

    runs: list[dict[str, Any]] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not runs:
        time.sleep(3)
        runs = graphql(dagster_ui, RUNS, {"backfill": backfill})["runsOrError"]["results"]
    time.sleep(10)  # give the daemon the chance to submit more, if it were going to
    runs = graphql(dagster_ui, RUNS, {"backfill": backfill})["runsOrError"]["results"]
    graphql(dagster_ui, CANCEL, {"id": backfill})

    assert len(runs) == 1, [r["runId"] for r in runs]
    tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (partitions[0], partitions[-1])
