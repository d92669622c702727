"""Time partitions: market history is partitioned by the hour (UTC), the unit of every increment."""

import dagster as dg

HISTORY_START = "2025-01-01-00:00"

hourly = dg.HourlyPartitionsDefinition(start_date=HISTORY_START, timezone="UTC")
