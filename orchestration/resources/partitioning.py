"""Partition lifecycle policy: partitions ahead, the hot tier's length, retention and the archive root."""

from pathlib import Path

import dagster as dg

from orchestration.partitioning.tiers import TierPolicy


class PartitionPolicy(dg.ConfigurableResource):
    """Set from ZMART_PARTITIONS_AHEAD_DAYS, ZMART_HOT_DAYS, ZMART_RETENTION_DAYS and ZMART_ARCHIVE_DIR
    (validated with their defaults by orchestration/settings.py and exported by the platform)."""

    ahead_days: int
    hot_days: int
    retention_days: int  # 0: never archive
    archive_dir: str

    def tier_policy(self) -> TierPolicy:
        return TierPolicy(self.ahead_days, self.hot_days, self.retention_days)

    @property
    def archive_root(self) -> Path:
        return Path(self.archive_dir)
