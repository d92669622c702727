"""The pure parts of the partition lifecycle: tiers by age, the policy's rules, how columns map to
Parquet, table names, and the lifecycle settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from psycopg import sql

from models.tables import CANDLES_1M
from orchestration.partitioning.archive import resolve_table
from orchestration.partitioning.errors import ArchiveError
from orchestration.partitioning.parquet import Column, record_batch
from orchestration.partitioning.tiers import TierPolicy, tier_of
from orchestration.settings import SettingsError, load_settings

AS_OF = datetime(2026, 10, 10, 6, tzinfo=UTC)


def test_a_partition_turns_warm_once_it_ended_hot_days_ago() -> None:
    edge = AS_OF - timedelta(days=7)
    assert tier_of(edge, AS_OF, 7) == "warm"
    assert tier_of(edge + timedelta(microseconds=1), AS_OF, 7) == "hot"
    assert tier_of(AS_OF + timedelta(days=3), AS_OF, 7) == "hot"  # partitions ahead are hot


def test_retention_is_off_at_zero_and_must_outlast_the_hot_tier() -> None:
    assert TierPolicy(3, 7, 0).retention_horizon(AS_OF) is None
    assert TierPolicy(3, 7, 30).retention_horizon(AS_OF) == AS_OF - timedelta(days=30)
    with pytest.raises(ValueError, match="retention_days=7: must be 0 \\(never archive\\) or more than hot_days=7"):
        TierPolicy(3, 7, 7)
    with pytest.raises(ValueError, match="ahead_days=0: must be at least 1"):
        TierPolicy(0, 7, 0)


@pytest.mark.parametrize(
    ("column", "arrow_type", "expression"),
    [
        (Column("n", "bigint", "int8", None), pa.int64(), 'SELECT "n"'),
        (Column("t", "timestamp with time zone", "timestamptz", None), pa.timestamp("us", tz="UTC"), 'SELECT "t"'),
        (Column("p", "numeric(20,8)", "numeric", None), pa.string(), 'SELECT "p"::text'),
        (Column("j", "jsonb", "jsonb", None), pa.string(), 'SELECT "j"::text'),
        (Column("a", "numeric[]", "_numeric", "numeric"), pa.list_(pa.string()), 'SELECT "a"::text[]'),
        (Column("f", "double precision[]", "_float8", "float8"), pa.list_(pa.float64()), 'SELECT "f"'),
    ],
)
def test_columns_travel_natively_or_as_postgresql_text(column: Column, arrow_type: pa.DataType, expression: str) -> None:
    assert column.arrow_type == arrow_type
    assert sql.SQL("SELECT {}").format(column.export_expression()).as_string() == expression


def test_an_empty_batch_keeps_the_schema() -> None:
    batch = record_batch([Column("n", "bigint", "int8", None), Column("p", "numeric", "numeric", None)], [])
    assert batch.num_rows == 0 and batch.schema.names == ["n", "p"]


def test_tables_are_named_with_or_without_their_schema() -> None:
    assert resolve_table("raw.candles_1m") is CANDLES_1M and resolve_table("candles_1m") is CANDLES_1M
    with pytest.raises(ArchiveError, match="--table 'quarantine.candles_1m': not a partitioned raw table \\(one of raw.candles_1m, "):
        resolve_table("quarantine.candles_1m")


def test_lifecycle_settings_defaults_and_rules(tmp_path: Path) -> None:
    settings = load_settings({"ZMART_HOME": str(tmp_path)})
    assert settings.archive_dir == tmp_path.resolve() / "archive"
    assert (settings.partitions_ahead_days, settings.hot_days, settings.retention_days) == (3, 7, 365)
    assert load_settings({"ZMART_RETENTION_DAYS": "0"}).retention_days == 0
    with pytest.raises(SettingsError, match="ZMART_RETENTION_DAYS=5: must be 0 \\(never archive\\) or more than ZMART_HOT_DAYS=7"):
        load_settings({"ZMART_RETENTION_DAYS": "5"})
    with pytest.raises(SettingsError, match="ZMART_PARTITIONS_AHEAD_DAYS='0': must be a whole number between 1 and 366"):
        load_settings({"ZMART_PARTITIONS_AHEAD_DAYS": "0"})
