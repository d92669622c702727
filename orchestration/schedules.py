"""Schedules: a contracts snapshot every hour, then the market pipeline for the hour that closed."""

import dagster as dg

from orchestration.jobs import contracts_snapshot, market_pipeline

contracts_snapshot_hourly = dg.ScheduleDefinition(
    name="contracts_snapshot_hourly",
    job=contracts_snapshot,
    cron_schedule="1 * * * *",
    execution_timezone="UTC",
    description="Snapshots the contract universe a minute past every hour, before the market pipeline runs.",
)

market_pipeline_hourly = dg.build_schedule_from_partitioned_job(
    market_pipeline,
    minute_of_hour=2,  # candles of the last minute are closed and served by then
    name="market_pipeline_hourly",
    description="Runs the market pipeline for the hour that just ended.",
)
