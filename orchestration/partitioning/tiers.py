"""Daily partition maintenance: partitions ahead of the data, hot and warm index tiers, retention.

A partition is hot while it ends less than ``hot_days`` before now (btree on (symbol, time)),
warm after (BRIN on the time column), and cold once it ends ``retention_days`` before now: the
maintenance archives it to Parquet (orchestration/partitioning/archive.py), never deletes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from models.tables import RawTable


@dataclass(frozen=True)
class TierPolicy:
    ahead_days: int
    hot_days: int
    retention_days: int  # 0: never archive

    def __post_init__(self) -> None:
        if self.ahead_days < 1:
            raise ValueError(f"ahead_days={self.ahead_days}: must be at least 1")
        if self.hot_days < 1:
            raise ValueError(f"hot_days={self.hot_days}: must be at least 1")
        if self.retention_days < 0 or 0 < self.retention_days <= self.hot_days:
            raise ValueError(f"retention_days={self.retention_days}: must be 0 (never archive) or more than hot_days={self.hot_days}")

    def retention_horizon(self, as_of: datetime) -> datetime | None:
        """Partitions ending on or before this are archived; None: retention is off."""
        return as_of - timedelta(days=self.retention_days) if self.retention_days else None


def tier_of(range_end: datetime, as_of: datetime, hot_days: int) -> str:
    """hot while the partition ends less than hot_days before as_of (so the current and future ones are hot)."""
    return "warm" if range_end <= as_of - timedelta(days=hot_days) else "hot"


@dataclass(frozen=True)
class TierChange:
    partition: str
    tier: str
    statements: tuple[str, ...]


@dataclass
class TableMaintenance:
    table: str
    partitions_created: int = 0
    changes: list[TierChange] = field(default_factory=list)


def maintain_tiers(url: str, table: RawTable, policy: TierPolicy, as_of: datetime) -> TableMaintenance:
    """Create the partitions up to ``ahead_days`` past as_of and index every partition for its tier.

    Autocommit: each partition's DDL is its own short transaction, so one partition's lock is
    not held while the next one's index is built."""
    report = TableMaintenance(table.qualified)
    with psycopg.connect(url, autocommit=True) as conn:
        created = conn.execute(
            "select raw.ensure_partitions(%s::regclass, %s, %s, %s::interval)",
            (table.qualified, as_of, as_of + timedelta(days=policy.ahead_days), table.partition_step),
        ).fetchone()
        report.partitions_created = created[0] if created else 0
        partitions = conn.execute(
            "select partition::text, range_end from raw.partition_ranges(%s::regclass)", (table.qualified,)
        ).fetchall()
        for partition, range_end in partitions:
            tier = tier_of(range_end, as_of, policy.hot_days)
            ran = conn.execute("select raw.apply_partition_tier(%s::regclass, %s)", (partition, tier)).fetchone()
            if ran and ran[0]:
                report.changes.append(TierChange(partition, tier, tuple(ran[0])))
    return report
