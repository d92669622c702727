"""The daily maintenance job of the raw partitions."""

from datetime import UTC, datetime

import dagster as dg

from orchestration.partitioning.maintenance import run_maintenance
from orchestration.resources.database import PostgresResource
from orchestration.resources.partitioning import PartitionPolicy


@dg.op(description="Archive partitions past retention, create partitions ahead, and index every partition for its tier.")
def maintain_raw_partitions(context: dg.OpExecutionContext, database: PostgresResource, partitioning: PartitionPolicy) -> dg.Output[int]:
    report = run_maintenance(database.url, partitioning.tier_policy(), partitioning.archive_root, datetime.now(UTC))
    for archive in report.archived:
        context.log.info(f"archived {archive.table} {archive.partition}: {archive.row_count} rows -> {archive.manifest}")
    changes = [c for t in report.tables for c in t.changes]
    return dg.Output(
        len(report.archived),
        metadata={
            "partitions_created": dg.MetadataValue.json({t.table: t.partitions_created for t in report.tables}),
            "tier_changes": dg.MetadataValue.json([{"partition": c.partition, "tier": c.tier, "ddl": list(c.statements)} for c in changes]),
            "archived": dg.MetadataValue.json([f"{a.table} {a.partition} ({a.row_count} rows)" for a in report.archived]),
        },
    )


@dg.job(description="Daily: raw partitions ahead of the data, hot (btree) and warm (BRIN) index tiers, retention to the Parquet archive.")
def partition_maintenance() -> None:
    maintain_raw_partitions()
