"""Time partitions (UTC): market history by the hour, the unit of every increment; funding by the day."""

from datetime import UTC, datetime

import dagster as dg

HISTORY_START = datetime(2025, 1, 1, tzinfo=UTC)

hourly = dg.HourlyPartitionsDefinition(start_date=HISTORY_START.strftime("%Y-%m-%d-%H:%M"), timezone="UTC")
# Funding settles every 8 h (4 h or 1 h for some contracts): a day is the natural request.
daily = dg.DailyPartitionsDefinition(start_date=HISTORY_START.strftime("%Y-%m-%d"), timezone="UTC")


def range_tags(first_key: str, last_key: str) -> dict[str, str]:
    """Tags that make one run cover the partitions first_key .. last_key (a single-run backfill)."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    return {ASSET_PARTITION_RANGE_START_TAG: first_key, ASSET_PARTITION_RANGE_END_TAG: last_key}
