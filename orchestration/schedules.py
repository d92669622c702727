"""Schedules: the market pipeline for each hour, shortly after the hour has closed."""

import dagster as dg

from orchestration.jobs import market_pipeline

market_pipeline_hourly = dg.build_schedule_from_partitioned_job(
    market_pipeline,
    minute_of_hour=2,  # candles of the last minute are closed and served by then
    name="market_pipeline_hourly",
    description="Runs the market pipeline for the hour that just ended.",
)
