"""The partition lifecycle on real PostgreSQL: partitions ahead, hot/warm index tiers, and the
Parquet cold tier's archive -> restore round trip, through the real loaders and the real CLI.

Data: four days of simulator candles and trades for three contracts, loaded by the ingestion
code (validation + raw loader), and a probe table holding what the raw tables do not (numeric
with varying scale, arrays, jsonb, NULLs, awkward text, special floats).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models.candles import validate_candles
from models.tables import CANDLES_1M, PARTITIONED_TABLES, TRADES, RawTable
from models.trades import validate_trades
from orchestration.embedded_postgres import EmbeddedPostgres
from orchestration.ingestion.batches import BatchSpec, complete_batch, open_batch
from orchestration.ingestion.loader import load_rows
from orchestration.partitioning import archive as archive_module
from orchestration.partitioning.archive import archive_partitions, restore_partitions
from orchestration.partitioning.errors import ChecksumError
from orchestration.partitioning.job import partition_maintenance
from orchestration.partitioning.maintenance import run_maintenance
from orchestration.partitioning.tiers import TierPolicy
from orchestration.resources.database import PostgresResource
from orchestration.resources.partitioning import PartitionPolicy
from orchestration.schedules import partition_maintenance_daily
from simulator.config import SimulatorConfig
from simulator.exchange import Exchange, KlineQuery
from tests.conftest import create_database

ZMART = Path(sys.executable).parent / "zmart"
DAY1 = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = [DAY1 + timedelta(days=d) for d in range(4)]
MS = 1000
PROBE = RawTable(
    schema="raw", name="lifecycle_probe", columns=(), key=("symbol", "observed_at"), time_column="observed_at",
    partition_step="1 day", quarantine_time_column=None,
)
PROBE_DDL = """
create table raw.lifecycle_probe (
    symbol       text not null,
    observed_at  timestamptz not null,
    price        numeric,
    amount       numeric(20, 8),
    ratio        real,
    value        double precision,
    small        smallint,
    flag         boolean,
    day          date,
    local_time   timestamp,
    tags         text[],
    levels       double precision[],
    amounts      numeric[],
    payload      jsonb,
    note         text,
    primary key (symbol, observed_at)
) partition by range (observed_at);
select raw.ensure_partitions('raw.lifecycle_probe'::regclass, '2026-10-01', '2026-10-03', '1 day');
insert into raw.lifecycle_probe values
    ('A', '2026-10-01 00:00:00.000001+00', 1.50, 0.10000000, 0.1, 0.1, -32768, true, '1969-07-20', '1999-12-31 23:59:59.999999',
     '{"a,b","c\\"d","{e}",NULL,""}', '{1e-300,-0,NULL}', '{1.50,-0.000000001,NaN}',
     '{"k": [1.0, 2.50, null], "é": "\\u00e9\\n", "n": {"deep": true}}', E'tab\\there\\nnewline \\\\ backslash ''quote'''),
    ('A', '2026-10-01 23:59:59.999999+00', 123456789012345678901234567890.123456789, -99999999999.99999999, 'NaN', 'Infinity', 0,
     false, null, null, '{}', '{}', '{}', '[]', ''),
    ('B', '2026-10-01 12:00:00+00', null, null, null, '-Infinity', null, null, null, null, null, null, null, null, null),
    ('B', '2026-10-02 00:00:00+00', 0.000000000000000000001, 1, 3.4028235e38, 5e-324, 32767, true, '2026-10-02',
     '2026-10-02 00:00:00', '{"ünïcode ✓"}', '{NaN,Infinity}', '{0}', '"a string"', 'the second day');
"""


def rows_text(conn: psycopg.Connection, relation: str) -> list[str]:
    """Every row as PostgreSQL's exact text (UTC, shortest exact floats), sorted: the data itself."""
    conn.execute("set timezone to 'UTC'; set extra_float_digits to 1; set datestyle to 'ISO, YMD'")
    return [r for (r,) in conn.execute(f"select t::text from {relation} t order by 1").fetchall()]


def python_checksum(texts: list[str]) -> str:
    """raw.content_checksum computed independently: the 64-bit halves of md5, as signed integers, summed."""
    def signed(hex16: str) -> int:
        value = int(hex16, 16)
        return value - (1 << 64) if value >= 1 << 63 else value

    digests = [hashlib.md5(t.encode("utf-8")).hexdigest() for t in texts]
    return f"md5x2:{len(texts)}:{sum(signed(d[:16]) for d in digests)}:{sum(signed(d[16:]) for d in digests)}"


def partitions(conn: psycopg.Connection, table: RawTable) -> list[str]:
    rows = conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = %s::regclass order by 1",
        (table.qualified,),
    ).fetchall()
    return [name for (name,) in rows]


def indexes(conn: psycopg.Connection, partition: str) -> set[tuple[str, str]]:
    """(access method, indexed columns) of each index of a partition, from pg_catalog."""
    rows = conn.execute(
        """
        select am.amname, string_agg(a.attname, ',' order by k.ord)
        from pg_index x
        join pg_class i on i.oid = x.indexrelid
        join pg_am am on am.oid = i.relam
        cross join lateral unnest(x.indkey) with ordinality k(attnum, ord)
        join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum
        where x.indrelid = %s::regclass
        group by x.indexrelid, am.amname
        """,
        (f"raw.{partition}",),
    ).fetchall()
    return set(rows)


def plan_nodes(node: dict[str, object]) -> Iterator[dict[str, object]]:
    yield node
    for child in node.get("Plans", []):  # type: ignore[attr-defined]
        yield from plan_nodes(child)


def load(url: str, table: RawTable, accepted: pd.DataFrame, rejections: list[object]) -> None:
    batch_id = open_batch(url, BatchSpec(asset=f"test_{table.name}", source="simulator", run_id=None))
    with psycopg.connect(url) as conn, conn.transaction():
        counts = load_rows(conn, table, batch_id, accepted, rejections)  # type: ignore[arg-type]
        complete_batch(conn, batch_id, counts, request_count=1, checksum="x")


def load_simulated(url: str) -> None:
    """Four days of candles (one load for the whole span, symbol after symbol, as a backfill chunk
    would be) and one trades snapshot per day, from the simulator's own payloads."""
    end = DAYS[-1] + timedelta(days=1)
    exchange = Exchange(SimulatorConfig(seed=7, n_contracts=10, now_ms=int(end.timestamp()) * MS, kline_max_points=1440))
    symbols = [c.symbol for c in exchange.listed(exchange.now())][:3]
    start_ms, end_ms = int(DAY1.timestamp()) * MS, int(end.timestamp()) * MS

    def klines(symbol: str) -> list[list[object]]:  # a page a day
        return [row for d in DAYS for row in exchange.klines(KlineQuery(symbol, 1, int(d.timestamp()) * MS, int(d.timestamp()) * MS + 86_399_999))]

    validations = [validate_candles(s, klines(s), start_ms, end_ms) for s in symbols]
    load(url, CANDLES_1M, pd.concat([v.accepted for v in validations], ignore_index=True), [r for v in validations for r in v.rejections])
    for day in DAYS:
        noon = day + timedelta(hours=12)
        snapshot = Exchange(SimulatorConfig(seed=7, n_contracts=10, now_ms=int(noon.timestamp()) * MS))
        trades = [validate_trades(s, snapshot.trade_history(s), noon) for s in symbols]
        load(url, TRADES, pd.concat([t.accepted for t in trades], ignore_index=True), [r for t in trades for r in t.rejections])


def zmart(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ZMART_", "DAGSTER_"))}
    return subprocess.run([str(ZMART), *args], env={**clean, **env}, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def url(pg_cluster: EmbeddedPostgres) -> str:
    url = create_database(pg_cluster)
    load_simulated(url)
    with psycopg.connect(url) as conn:
        conn.execute(PROBE_DDL)
    return url


@pytest.fixture(scope="module")
def archive_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="zmart-archive-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def cli_env(url: str, archive_root: Path) -> Iterator[dict[str, str]]:
    home = Path(tempfile.mkdtemp(prefix="zmart-home-"))
    yield {"ZMART_DATABASE_URL": url, "ZMART_HOME": str(home), "ZMART_ARCHIVE_DIR": str(archive_root)}
    shutil.rmtree(home, ignore_errors=True)


def test_loads_insert_rows_hour_by_hour(url: str) -> None:
    """BRIN's premise: a multi-day, symbol-after-symbol load lands in the heap hour by hour, each
    hour in key order."""
    with psycopg.connect(url) as conn:
        for table in (CANDLES_1M, TRADES):
            for day in DAYS:
                stored = conn.execute(
                    f"select {', '.join(table.key)} from raw.{table.name}_p{day:%Y%m%d} order by ctid"
                ).fetchall()
                assert len(stored) == 3 * 1440 if table is CANDLES_1M else len(stored) == 3 * 100  # 100 trades a symbol
                position = table.key.index(table.time_column)
                assert stored == sorted(stored, key=lambda row: (row[position].replace(minute=0, second=0, microsecond=0), row))


def test_maintenance_creates_partitions_ahead_and_indexes_each_tier(url: str, archive_root: Path) -> None:
    as_of = DAYS[3]  # hot: partitions ending after DAYS[2] starts (DAYS[2] on); warm: DAYS[0], DAYS[1]
    policy = TierPolicy(ahead_days=3, hot_days=1, retention_days=0)
    run_maintenance(url, policy, archive_root, as_of)
    with psycopg.connect(url) as conn:
        for table in PARTITIONED_TABLES:
            ahead = conn.execute(
                "select max(range_end) from raw.partition_ranges(%s::regclass)", (table.qualified,)
            ).fetchone()
            assert ahead is not None and ahead[0] >= as_of + timedelta(days=3), table.qualified
        # the primary key's btree on every partition; the tier's own indexes beside it
        expected = {
            (CANDLES_1M, "hot"): {("btree", "symbol,open_time")},  # the key is (symbol, open_time): no second btree
            (CANDLES_1M, "warm"): {("btree", "symbol,open_time"), ("brin", "open_time")},
            (TRADES, "hot"): {("btree", "symbol,trade_id,traded_at"), ("btree", "symbol,traded_at")},
            (TRADES, "warm"): {("btree", "symbol,trade_id,traded_at"), ("brin", "traded_at")},
        }
        for day in DAYS + [DAYS[-1] + timedelta(days=d) for d in (1, 2)]:  # the days loaded and two ahead
            tier = "warm" if day + timedelta(days=1) <= as_of - timedelta(days=policy.hot_days) else "hot"
            assert tier == ("warm" if day < DAYS[2] else "hot")
            for table in (CANDLES_1M, TRADES):
                assert indexes(conn, f"{table.name}_p{day:%Y%m%d}") == expected[(table, tier)], (table.name, day)
        # BRIN prunes: a one-hour window of a warm day reads only the block ranges holding that hour
        conn.execute("analyze raw.candles_1m")
        conn.execute("set enable_seqscan = off")
        plan = conn.execute(
            "explain (analyze, format json) select count(*) from raw.candles_1m where open_time >= %s and open_time < %s",
            (DAYS[0] + timedelta(hours=5), DAYS[0] + timedelta(hours=6)),
        ).fetchone()[0]
        nodes = list(plan_nodes(plan[0]["Plan"]))
        assert any(n.get("Index Name") == f"candles_1m_p{DAYS[0]:%Y%m%d}_time_brin" for n in nodes)
        [heap] = [n for n in nodes if n["Node Type"] == "Bitmap Heap Scan"]
        pages = conn.execute("select relpages from pg_class where oid = %s::regclass", (f"raw.candles_1m_p{DAYS[0]:%Y%m%d}",)).fetchone()[0]
        assert 0 < heap.get("Lossy Heap Blocks", 0) + heap.get("Exact Heap Blocks", 0) <= 32 < pages  # one range of 32 pages
    again = run_maintenance(url, policy, archive_root, as_of)
    assert all(t.partitions_created == 0 and not t.changes for t in again.tables)  # idempotent
    later = run_maintenance(url, policy, archive_root, as_of + timedelta(days=1))  # DAYS[2] turns warm
    moved = {c.partition: c.statements for t in later.tables for c in t.changes}
    assert moved[f"raw.trades_p{DAYS[2]:%Y%m%d}"] == (
        f"create index trades_p{DAYS[2]:%Y%m%d}_time_brin on raw.trades_p{DAYS[2]:%Y%m%d} using brin (traded_at) with (pages_per_range = 32)",
        f"drop index raw.trades_p{DAYS[2]:%Y%m%d}_symbol_time_ix",
    )


def test_archive_and_restore_round_trip_identical_data(url: str, archive_root: Path, cli_env: dict[str, str]) -> None:
    tables = {CANDLES_1M.qualified: CANDLES_1M, TRADES.qualified: TRADES, PROBE.qualified: PROBE}
    with psycopg.connect(url) as conn:
        before = {name: rows_text(conn, name) for name in tables}
        checksums = {
            (t.qualified, p): conn.execute("select raw.content_checksum(%s::regclass)", (f"raw.{p}",)).fetchone()[0]
            for t in tables.values() for p in partitions(conn, t)
        }
        counts = {(t.qualified, p): conn.execute(f"select count(*) from raw.{p}").fetchone()[0] for t in tables.values() for p in partitions(conn, t)}
        probe_day1 = rows_text(conn, "raw.lifecycle_probe_p20261001")
    assert checksums[(PROBE.qualified, "lifecycle_probe_p20261001")] == python_checksum(probe_day1)
    assert python_checksum(list(reversed(probe_day1))) == python_checksum(probe_day1)  # order-independent by construction

    cut = DAYS[2]  # archive DAYS[0] and DAYS[1]
    archived_cli = zmart("archive", "--table", "raw.candles_1m", "--before", f"{cut:%Y-%m-%d}", env=cli_env)
    assert archived_cli.returncode == 0, archived_cli.stderr
    assert archived_cli.stdout.count("archived raw.candles_1m candles_1m_p2026100") == 2
    # retention archives through the maintenance job: trades ending DAYS[1] + 1 day or earlier
    retained = run_maintenance(url, TierPolicy(3, 2, 60), archive_root, cut + timedelta(days=60), tables=(TRADES,))
    assert [a.partition for a in retained.archived] == [f"trades_p{d:%Y%m%d}" for d in DAYS[:2]]
    probe = archive_partitions(url, PROBE, datetime(2026, 10, 2, tzinfo=UTC), archive_root)
    assert [a.partition for a in probe] == ["lifecycle_probe_p20261001"]

    with psycopg.connect(url) as conn:
        for table in (CANDLES_1M, TRADES):
            assert not {f"{table.name}_p{d:%Y%m%d}" for d in DAYS[:2]} & set(partitions(conn, table))
        catalogue = conn.execute(
            "select parent_table, partition_name, range_start, range_end, row_count, content_checksum, manifest_path, manifest_sha256 "
            "from meta.archived_partitions where restored_at is null order by 1, 2"
        ).fetchall()
    assert len(catalogue) == 5
    for table, partition, start, end, rows, checksum, manifest_path, manifest_sha in catalogue:
        manifest_file = archive_root / manifest_path
        assert hashlib.sha256(manifest_file.read_bytes()).hexdigest() == manifest_sha
        manifest = json.loads(manifest_file.read_text())
        assert (manifest["table"], manifest["partition"], manifest["row_count"]) == (table, partition, rows)
        assert (datetime.fromisoformat(manifest["range_start"]), datetime.fromisoformat(manifest["range_end"])) == (start, end)
        assert end - start == timedelta(days=1)
        assert rows == counts[(table, partition)] and checksum == manifest["content_checksum"] == checksums[(table, partition)]
        with psycopg.connect(url) as conn:
            expected_columns = conn.execute(
                "select attname, format_type(atttypid, atttypmod) from pg_attribute where attrelid = %s::regclass and attnum > 0 order by attnum",
                (table,),
            ).fetchall()
        assert [(c["name"], c["type"]) for c in manifest["columns"]] == [tuple(c) for c in expected_columns]
        for entry in manifest["files"]:
            path = manifest_file.parent / entry["path"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
            assert pq.ParquetFile(path).metadata.num_rows == entry["rows"] == rows

    # idempotent: nothing left to archive
    again = zmart("archive", "--table", "candles_1m", "--before", f"{cut:%Y-%m-%d}", env=cli_env)
    assert again.returncode == 0 and "nothing to archive" in again.stdout
    # a load into an archived day is refused, naming the restore
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.RaiseException, match="candles_1m_p20261001 is archived"):
        conn.execute("select raw.ensure_partitions('raw.candles_1m'::regclass, '2026-10-01 05:00+00', '2026-10-01 06:00+00', '1 day')")

    restored_cli = zmart("restore", "--table", "raw.candles_1m", "--partition", f"candles_1m_p{DAYS[0]:%Y%m%d}", env=cli_env)
    assert restored_cli.returncode == 0, restored_cli.stderr
    restored_cli = zmart("restore", "--table", "raw.candles_1m", "--from", f"{DAYS[0]:%Y-%m-%d}", "--to", f"{cut:%Y-%m-%d}", env=cli_env)
    assert restored_cli.returncode == 0 and restored_cli.stdout.count("restored raw.candles_1m") == 1  # DAYS[0] was back already
    assert [a.partition for a in restore_partitions(url, TRADES, archive_root, 2, start=DAYS[0], end=cut)] == [
        f"trades_p{d:%Y%m%d}" for d in DAYS[:2]
    ]
    restore_partitions(url, PROBE, archive_root, 2, partition="lifecycle_probe_p20261001")

    with psycopg.connect(url) as conn:
        for name, texts in before.items():
            assert rows_text(conn, name) == texts, name  # every row and column, exactly
        for (table, partition), checksum in checksums.items():
            assert conn.execute("select raw.content_checksum(%s::regclass)", (f"raw.{partition}",)).fetchone()[0] == checksum
        assert conn.execute("select count(*) from meta.archived_partitions where restored_at is null").fetchone() == (0,)
        assert ("brin", "open_time") in indexes(conn, f"candles_1m_p{DAYS[0]:%Y%m%d}")  # restored into its tier (warm now)
        probe_types = conn.execute(
            "select scale(price), amounts::text, payload from raw.lifecycle_probe where symbol = 'A' order by observed_at limit 1"
        ).fetchone()
    assert probe_types[:2] == (2, "{1.50,-0.000000001,NaN}")
    assert probe_types[2] == {"k": [1.0, 2.5, None], "é": "é\n", "n": {"deep": True}}

    # idempotent: restoring again does nothing
    again = zmart("restore", "--table", "raw.candles_1m", "--partition", f"candles_1m_p{DAYS[0]:%Y%m%d}", env=cli_env)
    assert again.returncode == 0 and "nothing to do" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("archive", "--table", "raw.nope", "--before", "2026-10-02"), "--table 'raw.nope': not a partitioned raw table (one of raw.candles_1m,"),
        (("restore", "--table", "raw.trades", "--partition", "trades_p20261004"),
         "raw.trades: partition trades_p20261004 is not archived (meta.archived_partitions has no archive of it)"),
        (("restore", "--table", "raw.trades"), "restore: give --partition NAME, or --from and --to (not both)"),
        (("archive", "--table", "raw.trades", "--before", "2099-01-01"), "--before 2099-01-01 00:00 UTC is in the future"),
    ],
)
def test_bad_arguments_are_refused_naming_them(cli_env: dict[str, str], args: tuple[str, ...], message: str) -> None:
    result = zmart(*args, env=cli_env)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_a_tampered_archive_is_refused_and_nothing_is_attached(url: str, archive_root: Path) -> None:
    day = DAYS[3]
    partition = f"candles_1m_p{day:%Y%m%d}"
    with psycopg.connect(url) as conn:
        before = rows_text(conn, f"raw.{partition}")
    archives = archive_partitions(url, CANDLES_1M, day + timedelta(days=1), archive_root)  # the days restored above, and this one
    archive = next(a for a in archives if a.partition == partition)
    data_file = archive.manifest.parent / "part-00000.parquet"
    intact = data_file.read_bytes(), archive.manifest.read_bytes()
    rows = pq.read_table(data_file)
    close = rows.column("close").to_pylist()
    close[0] += 0.5  # one value changed, the schema kept
    pq.write_table(rows.set_column(rows.schema.get_field_index("close"), "close", pa.array(close, pa.float64())), data_file)

    with pytest.raises(ChecksumError, match="part-00000.parquet: sha256 differs from the manifest's"):
        restore_partitions(url, CANDLES_1M, archive_root, 2, partition=partition)
    # the manifest edited to match the file is caught by the catalogue's sha256 of the manifest ...
    manifest = json.loads(archive.manifest.read_text())
    manifest["files"][0]["sha256"] = hashlib.sha256(data_file.read_bytes()).hexdigest()
    archive.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    with pytest.raises(ChecksumError, match="the manifest was changed"):
        restore_partitions(url, CANDLES_1M, archive_root, 2, partition=partition)
    # ... and with the catalogue edited too, by the rows' checksum computed in PostgreSQL
    set_manifest_sha = "update meta.archived_partitions set manifest_sha256 = %s where partition_name = %s and restored_at is null"
    with psycopg.connect(url) as conn:
        conn.execute(set_manifest_sha, (hashlib.sha256(archive.manifest.read_bytes()).hexdigest(), partition))
    with pytest.raises(ChecksumError, match="the restored rows' checksum .* differs from the archived .*; nothing was attached"):
        restore_partitions(url, CANDLES_1M, archive_root, 2, partition=partition)
    with psycopg.connect(url) as conn:
        assert conn.execute("select to_regclass(%s)", (f"raw.{partition}",)).fetchone() == (None,)
        live = conn.execute("select count(*) from meta.archived_partitions where partition_name = %s and restored_at is null", (partition,))
        assert live.fetchone() == (1,)  # still archived

    # the intact copy (and the catalogue's true manifest sha256) restore the partition whole
    data_file.write_bytes(intact[0])
    archive.manifest.write_bytes(intact[1])
    with psycopg.connect(url) as conn:
        conn.execute(set_manifest_sha, (hashlib.sha256(intact[1]).hexdigest(), partition))
    restore_partitions(url, CANDLES_1M, archive_root, 2, partition=partition)
    with psycopg.connect(url) as conn:
        assert rows_text(conn, f"raw.{partition}") == before


def test_a_file_that_fails_verification_drops_nothing(url: str, archive_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Crash-safe order: the file is damaged between its write and its verification (a disk
    fault); the archive must stop before the partition is dropped, and leave it whole."""
    real_verify = archive_module._verify_rows

    def damage_then_verify(conn: psycopg.Connection, table: RawTable, directory: Path, manifest: dict[str, object]) -> None:
        data_file = directory / "part-00000.parquet"
        data_file.write_bytes(data_file.read_bytes()[:-16] + bytes(16))
        real_verify(conn, table, directory, manifest)

    monkeypatch.setattr(archive_module, "_verify_rows", damage_then_verify)
    with psycopg.connect(url) as conn:
        before = rows_text(conn, TRADES.qualified), partitions(conn, TRADES)
    with pytest.raises(ChecksumError, match="part-00000.parquet: sha256 differs from the manifest's"):
        archive_partitions(url, TRADES, DAYS[3] + timedelta(days=1), archive_root)
    with psycopg.connect(url) as conn:
        assert (rows_text(conn, TRADES.qualified), partitions(conn, TRADES)) == before
        live = conn.execute("select count(*) from meta.archived_partitions where parent_table = 'raw.trades' and restored_at is null")
        assert live.fetchone() == (0,)
    assert list((archive_root / "raw" / "trades" / f"trades_p{DAYS[0]:%Y%m%d}").iterdir())  # the orphan attempt, left for inspection

def test_the_daily_job_runs_the_maintenance_in_dagster(pg_cluster: EmbeddedPostgres, archive_root: Path) -> None:
    fresh = create_database(pg_cluster)
    policy = PartitionPolicy(ahead_days=2, hot_days=7, retention_days=365, archive_dir=str(archive_root))
    result = partition_maintenance.execute_in_process(resources={"database": PostgresResource(url=fresh), "partitioning": policy})
    assert result.success
    [materialised] = [e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    created = materialised.event_specific_data.metadata["partitions_created"].data  # type: ignore[union-attr]
    today = datetime.now(UTC)
    with psycopg.connect(fresh) as conn:
        for table in PARTITIONED_TABLES:
            assert created[table.qualified] == len(partitions(conn, table)) > 0  # a fresh database: all of them new
            covered = conn.execute(
                "select min(range_start), max(range_end) from raw.partition_ranges(%s::regclass)", (table.qualified,)
            ).fetchone()
            assert covered is not None and covered[0] <= today and covered[1] >= today + timedelta(days=2), table.qualified
    assert partition_maintenance_daily.cron_schedule == "40 0 * * *" and partition_maintenance_daily.execution_timezone == "UTC"
