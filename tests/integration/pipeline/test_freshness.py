"""The raw freshness checks on a real instance: fresh right after a load, overdue when never loaded."""

from __future__ import annotations

import dagster as dg

from orchestration.checks.freshness import FRESHNESS_CHECKS
from tests.integration.pipeline.conftest import Pipeline


def test_a_snapshot_just_loaded_is_fresh_and_what_was_never_loaded_is_overdue(pipeline: Pipeline) -> None:
    from orchestration.definitions import defs

    pipeline.start_simulator()
    assert pipeline.run("contracts_snapshot").success
    freshness = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS))
    job = dg.Definitions.merge(defs, dg.Definitions(jobs=[freshness])).resolve_job_def("freshness")
    result = job.execute_in_process(instance=pipeline.instance, raise_on_error=False)
    outcome = {e.asset_key.path[-1]: (e.passed, e.severity) for e in result.get_asset_check_evaluations()}
    assert outcome.pop("kucoin_contracts") == (True, dg.AssetCheckSeverity.WARN)
    # the market snapshots, the hourly partitions and the funding day were never loaded
    assert outcome == dict.fromkeys(
        ("kucoin_tickers", "kucoin_order_books", "kucoin_trades", "kucoin_candles_1m", "kucoin_open_interest", "kucoin_funding_rates"),
        (False, dg.AssetCheckSeverity.WARN),
    )
    assert "raw_freshness_sensor" in {s.name for s in defs.sensors or []}
