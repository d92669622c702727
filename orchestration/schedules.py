"""Schedules (UTC): the contracts snapshot hourly, market snapshots every five minutes, the market
pipeline for each hour that closed, funding history for each day that closed, and the daily
maintenance of the raw partitions."""

import dagster as dg

from orchestration.jobs import contracts_snapshot, funding_history, market_pipeline, market_snapshots
from orchestration.partitioning.job import partition_maintenance

contracts_snapshot_hourly = dg.ScheduleDefinition(
    name="contracts_snapshot_hourly",
    job=contracts_snapshot,
    cron_schedule="1 * * * *",
    execution_timezone="UTC",
    description="Snapshots the contract universe a minute past every hour, before the market pipeline runs.",
)

market_snapshots_every_5_minutes = dg.ScheduleDefinition(
    name="market_snapshots_every_5_minutes",
    job=market_snapshots,
    cron_schedule="*/5 * * * *",
    execution_timezone="UTC",
    description="Tickers, order books and recent trades every five minutes (trade snapshots overlap: nothing is missed).",
)

market_pipeline_hourly = dg.build_schedule_from_partitioned_job(
    market_pipeline,
    minute_of_hour=2,  # candles of the last minute are closed and served by then
    name="market_pipeline_hourly",
    description="Runs the market pipeline for the hour that just ended.",
)

funding_history_daily = dg.build_schedule_from_partitioned_job(
    funding_history,
    hour_of_day=0,
    minute_of_hour=20,
    name="funding_history_daily",
    description="Loads the funding rates settled during the day that just ended.",
)

partition_maintenance_daily = dg.ScheduleDefinition(
    name="partition_maintenance_daily",
    job=partition_maintenance,
    cron_schedule="40 0 * * *",
    execution_timezone="UTC",
    description="Partitions ahead, hot/warm index tiers and retention, after the day's funding load.",
)
