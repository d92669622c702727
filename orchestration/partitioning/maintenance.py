"""One maintenance pass over every partitioned raw table: retention first (what is archived needs
no new index), then partitions ahead and the index tiers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from models.tables import PARTITIONED_TABLES, RawTable
from orchestration.partitioning.archive import PartitionArchive, archive_partitions
from orchestration.partitioning.tiers import TableMaintenance, TierPolicy, maintain_tiers


@dataclass(frozen=True)
class MaintenanceReport:
    tables: list[TableMaintenance]
    archived: list[PartitionArchive]


def run_maintenance(
    url: str, policy: TierPolicy, archive_root: Path, as_of: datetime, tables: tuple[RawTable, ...] = PARTITIONED_TABLES
) -> MaintenanceReport:
    horizon = policy.retention_horizon(as_of)
    archived: list[PartitionArchive] = []
    reports: list[TableMaintenance] = []
    for table in tables:
        if horizon is not None:
            archived += archive_partitions(url, table, horizon, archive_root, now=as_of)
        reports.append(maintain_tiers(url, table, policy, as_of))
    return MaintenanceReport(reports, archived)
