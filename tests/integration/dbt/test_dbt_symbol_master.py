"""The point-in-time symbol master on real PostgreSQL and dbt: dim_symbols_history against a
reference built in Python from the raw snapshots, the universe as of several times through the
macro universe_as_of, snapshot-by-snapshot increments against a full refresh, and dim_symbols'
sector, classes and eligibility against pandas.

The synthetic data (synthetic.py) has two snapshots (hours 2 and 48): NEWUSDTM is listed at hour
36 and first seen in the second, DOTUSDTM is missing from the second (delisted), LINKUSDTM's
multiplier changes between them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
import yaml

from orchestration.settings import DBT_PROJECT_DIR
from tests.integration.dbt import synthetic
from tests.integration.dbt.conftest import BuiltDatabase
from tests.integration.dbt.dbt_cli import Dbt, fetch, frame

START, (FIRST_SNAPSHOT, SECOND_SNAPSHOT) = synthetic.START, synthetic.SNAPSHOT_TIMES
# raw.contracts columns whose change starts a new version (the raw names of tracked_contract_attributes())
TRACKED_RAW = (
    "unified_symbol", "contract_type", "status", "base_currency", "quote_currency", "settle_currency", "is_inverse",
    "multiplier", "lot_size", "tick_size", "max_leverage", "first_open_time", "expire_time", "funding_granularity_ms",
)
HISTORY_COLUMNS = ["symbol", "valid_from", "valid_to", "is_listed", "multiplier", "first_seen_at", "last_seen_at", "last_observed_at", "batch_id"]
MASTER_VARS = {
    "liquidity_tiers_usd": {"high": 2_000_000, "medium": 1_000_000},
    "open_interest_tiers_usd": {"high": 50_000_000, "medium": 5_000_000},
    "volatility_tiers_annualized": {"high": 1.1, "medium": 0.95},
    "min_listing_age_days": 1,
    "min_history_bars": 48,
    "cluster_min_correlation": 0.7,
    "cluster_min_observations": 168,
}


@dataclass(frozen=True)
class Master:
    url: str
    dbt: Dbt
    data: synthetic.Synthetic


@pytest.fixture(scope="module")
def master(synthetic_built: BuiltDatabase[synthetic.Synthetic], dbt_work_dir: Path) -> Iterator[Master]:
    url, data = synthetic_built.clone()  # synthetic.populate + `dbt build`, once per session (conftest.py)
    yield Master(url, Dbt(url, dbt_work_dir), data)


def raw_snapshots(url: str) -> pd.DataFrame:
    return frame(url, f"select snapshot_time, symbol, batch_id, {', '.join(TRACKED_RAW)} from raw.contracts order by snapshot_time, symbol")


def expected_history(snapshots: pd.DataFrame) -> pd.DataFrame:
    """dim_symbols_history from the snapshots, walking each contract through them in time order."""
    times = sorted(snapshots["snapshot_time"].unique())
    batch_of = snapshots.groupby("snapshot_time")["batch_id"].min().to_dict()
    rows = []
    for symbol, own in snapshots.groupby("symbol"):
        by_time = {row.snapshot_time: row for row in own.itertuples(index=False)}
        versions: list[dict[str, Any]] = []
        attributes = None
        for t in (t for t in times if t >= min(by_time)):
            listed = t in by_time
            if listed:
                attributes = tuple(None if pd.isna(v) else v for v in (getattr(by_time[t], c) for c in TRACKED_RAW))
            if versions and versions[-1]["key"] == (listed, attributes):
                versions[-1]["last_observed_at"] = t
                versions[-1]["last_seen_at"] = t if listed else None
                continue
            versions.append({
                "key": (listed, attributes), "symbol": symbol, "valid_from": t, "is_listed": listed,
                "multiplier": attributes[TRACKED_RAW.index("multiplier")] if attributes else None,
                "first_seen_at": t if listed else None, "last_seen_at": t if listed else None, "last_observed_at": t,
                "batch_id": batch_of[t],
            })
        versions[0]["valid_from"] = min(versions[0]["valid_from"], by_time[min(by_time)].first_open_time)  # back-dated to the listing
        for version, following in zip(versions, [*versions[1:], None], strict=True):
            version["valid_to"] = following["valid_from"] if following else None
        rows += versions
    return pd.DataFrame(rows)[HISTORY_COLUMNS].sort_values(["symbol", "valid_from"], ignore_index=True)


def actual_history(url: str) -> pd.DataFrame:
    return frame(url, f"select {', '.join(HISTORY_COLUMNS)} from marts.dim_symbols_history order by symbol, valid_from")


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    actual = actual.astype(object).where(actual.notna(), None)
    expected = expected.astype(object).where(expected.notna(), None)
    assert actual.to_dict("records") == expected.to_dict("records")


def test_history_has_a_row_per_version_and_matches_a_walk_through_the_snapshots(master: Master) -> None:
    history = actual_history(master.url)
    assert_same(history, expected_history(raw_snapshots(master.url)))
    versions = history.groupby("symbol").size().to_dict()
    assert versions.pop("DOTUSDTM") == 2 and versions.pop("LINKUSDTM") == 2 and set(versions.values()) == {1}
    dot = history.loc[history["symbol"] == "DOTUSDTM"].reset_index(drop=True)
    assert dot["valid_from"].tolist() == [START, SECOND_SNAPSHOT] and dot["is_listed"].tolist() == [True, False]
    assert dot["valid_to"].iloc[0] == SECOND_SNAPSHOT and pd.isna(dot["valid_to"].iloc[1])
    link = history.loc[history["symbol"] == "LINKUSDTM"]
    assert link["multiplier"].tolist() == [0.1, 1.0] and link["valid_to"].iloc[0] == SECOND_SNAPSHOT
    new = history.loc[history["symbol"] == "NEWUSDTM"].iloc[0]
    assert new["valid_from"] == START + timedelta(hours=36) and new["first_seen_at"] == SECOND_SNAPSHOT  # back-dated to its listing


def test_the_universe_as_of_a_time_is_what_was_listed_then(master: Master) -> None:
    # the macro the models and tests share, compiled once with a bind parameter
    query = master.dbt.run("--quiet", "compile", "--inline", "{{ universe_as_of('%(as_of)s::timestamptz') }}").stdout
    everyone = {i.symbol for i in synthetic.INSTRUMENTS}
    cases: dict[datetime, tuple[set[str], float | None]] = {
        START - timedelta(minutes=1): (set(), None),  # before any listing
        START: (everyone - {"NEWUSDTM"}, 0.1),  # before the first snapshot: back-dated to the listings
        FIRST_SNAPSHOT: (everyone - {"NEWUSDTM"}, 0.1),
        START + timedelta(hours=36): (everyone, 0.1),  # NEWUSDTM listed, first seen only at hour 48
        SECOND_SNAPSHOT - timedelta(microseconds=1): (everyone, 0.1),  # DOTUSDTM still listed, the old LINK spec
        SECOND_SNAPSHOT: (everyone - {"DOTUSDTM"}, 1.0),
        synthetic.END + timedelta(days=30): (everyone - {"DOTUSDTM"}, 1.0),
    }
    with psycopg.connect(master.url) as conn, conn.cursor() as cur:
        for as_of, (symbols, link_multiplier) in cases.items():
            cur.execute(query, {"as_of": as_of})  # type: ignore[arg-type]
            assert cur.description is not None
            rows = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description]).set_index("symbol")
            assert set(rows.index) == symbols, as_of
            assert rows.index.is_unique and rows["is_listed"].all()
            if link_multiplier is not None:
                assert rows.loc["LINKUSDTM", "multiplier"] == link_multiplier, as_of
    # no survivorship: the delisted contract is in the past universes, and in dim_symbols, not live
    dim = frame(master.url, "select symbol, is_live, first_seen_at, last_seen_at from marts.dim_symbols").set_index("symbol")
    assert set(dim.index) == everyone and set(dim.index[dim["is_live"]]) == everyone - {"DOTUSDTM"}
    assert dim.loc["DOTUSDTM", "last_seen_at"] == FIRST_SNAPSHOT


def expected_master(master: Master, params: dict[str, Any]) -> pd.DataFrame:
    """dim_symbols' sector, classes and flags with pandas from the raw snapshots, the seed and the 1h bars."""
    contracts = frame(master.url, "select * from raw.contracts")
    latest = contracts.sort_values("snapshot_time").groupby("symbol").tail(1).set_index("symbol")
    classified_at = contracts["snapshot_time"].max()
    sectors = pd.read_csv(DBT_PROJECT_DIR / "seeds" / "symbol_sectors.csv").set_index("base_currency")["sector"]
    bars = frame(master.url, "select symbol, bucket_start, close from intermediate.int_candles_1h order by symbol, bucket_start")

    def tier(value: float | None, tiers: dict[str, float]) -> str:
        if value is None or pd.isna(value):
            return "unknown"
        return "high" if value >= tiers["high"] else "medium" if value >= tiers["medium"] else "low"

    rows = []
    for symbol, c in latest.iterrows():
        closes = bars.loc[bars["symbol"] == symbol, "close"].to_numpy(float)
        returns = np.diff(np.log(closes))[-24:]
        volatility = float(np.std(returns)) * np.sqrt(24 * 365) if len(returns) == 24 else None
        turnover = c["volume_24h"] if c["is_inverse"] else c["turnover_24h"]
        listed_days = (classified_at - c["first_open_time"]) / pd.Timedelta(days=1)
        is_live = c["snapshot_time"] == classified_at and c["status"] == "Open"
        row = {
            "symbol": symbol, "sector": sectors.get(c["base_currency"], "unknown"), "is_sector_known": c["base_currency"] in sectors.index,
            "liquidity_class": tier(turnover, params["liquidity_tiers_usd"]), "volatility_class": tier(volatility, params["volatility_tiers_annualized"]),
            "realized_volatility_annualized": volatility, "bar_count": len(closes), "listing_age_days": listed_days,
            "is_live": is_live, "is_linear": not c["is_inverse"], "is_listing_age_met": listed_days >= params["min_listing_age_days"],
            "has_enough_history": len(closes) >= params["min_history_bars"],
        }
        row["is_eligible"] = all(row[k] for k in ("is_live", "is_linear", "is_listing_age_met", "has_enough_history", "is_sector_known"))
        rows.append(row)
    return pd.DataFrame(rows).set_index("symbol").sort_index()


def check_master(master: Master, params: dict[str, Any]) -> pd.DataFrame:
    expected = expected_master(master, params)
    actual = frame(master.url, "select * from marts.dim_symbols order by symbol").set_index("symbol")
    for column in ("sector", "is_sector_known", "liquidity_class", "volatility_class", "bar_count", "is_live", "is_linear",
                   "is_listing_age_met", "has_enough_history", "is_eligible"):
        assert actual[column].tolist() == expected[column].tolist(), column
    np.testing.assert_allclose(actual["listing_age_days"].astype(float), expected["listing_age_days"], rtol=1e-12)
    np.testing.assert_allclose(
        actual["realized_volatility_annualized"].astype(float), expected["realized_volatility_annualized"].astype(float), rtol=1e-9
    )
    assert (actual["size_class"] == "unknown").all()  # the synthetic snapshots carry no open interest
    return actual


def test_a_malformed_symbol_master_var_fails_naming_it(master: Master) -> None:
    for change, message in (
        ({"liquidity_tiers_usd": {"high": 1, "medium": 5}}, "var symbol_master.liquidity_tiers_usd: medium=5 must be below high=1"),
        ({"open_interest_tiers_usd": {"high": 1, "medium": 0}}, "var symbol_master.open_interest_tiers_usd.medium=0 is malformed: expected a number > 0"),
        ({"min_history_bars": -1}, "var symbol_master.min_history_bars=-1 is malformed: expected an integer >= 0"),
        ({"cluster_min_observations": 1}, "var symbol_master.cluster_min_observations=1 is malformed: expected an integer >= 2 (a correlation needs two observations)"),
    ):
        result = master.dbt.run("run", "--select", "dim_symbols", dbt_vars={"symbol_master": {**MASTER_VARS, **change}}, check=False)
        assert result.returncode != 0 and message in result.stdout, result.stdout[-2000:]


def test_snapshot_by_snapshot_increments_equal_a_full_refresh_and_read_only_new_snapshots(master: Master) -> None:
    full = actual_history(master.url)
    with psycopg.connect(master.url) as conn:
        conn.execute("create table public.held_back as select * from raw.contracts where snapshot_time = %s", (SECOND_SNAPSHOT,))
        conn.execute("delete from raw.contracts where snapshot_time = %s", (SECOND_SNAPSHOT,))
    master.dbt.run("run", "--select", "dim_symbols_history", "--full-refresh")
    first_only = actual_history(master.url)
    assert_same(first_only, expected_history(raw_snapshots(master.url)))
    assert first_only["valid_to"].isna().all() and len(first_only) == len(synthetic.IN_FIRST_SNAPSHOT)

    with psycopg.connect(master.url) as conn:
        conn.execute("insert into raw.contracts select * from public.held_back")
        conn.execute("drop table public.held_back")
    master.dbt.run("build", "--select", "dim_symbols_history")  # incremental: folds in the second snapshot, with its tests
    assert_same(actual_history(master.url), full)

    # the increment's SQL (as compiled by that run) with no new snapshot re-emits the current
    # rows unchanged and reads no snapshot row; a new snapshot is read alone, whatever the
    # history before it
    compiled = next((master.dbt.work_dir / "target" / "compiled").rglob("dim_symbols_history.sql")).read_text()
    current = full.loc[full["valid_to"].isna()].reset_index(drop=True)
    rerun = frame(master.url, f"select {', '.join(HISTORY_COLUMNS)} from ({compiled}) as increment order by symbol, valid_from")
    assert_same(rerun, current)
    explain = "explain (analyze, format json) " + compiled
    with psycopg.connect(master.url) as conn:
        plan = conn.execute(explain).fetchone()  # type: ignore[arg-type]
        assert plan is not None and read_contract_rows(plan[0][0]["Plan"]) == 0
        with conn.transaction(force_rollback=True):  # a third snapshot, like the second one at END
            conn.execute("create temp table third on commit drop as select * from raw.contracts where snapshot_time = %s", (SECOND_SNAPSHOT,))
            conn.execute("update third set snapshot_time = %s", (synthetic.END,))
            conn.execute("insert into raw.contracts select * from third")
            plan = conn.execute(explain).fetchone()  # type: ignore[arg-type]
            assert plan is not None and read_contract_rows(plan[0][0]["Plan"]) == len(synthetic.IN_SECOND_SNAPSHOT)


def read_contract_rows(node: dict[str, Any]) -> int:
    """Rows the plan read from raw.contracts' partitions (actual rows x loops of their scans)."""
    own = node["Actual Rows"] * node["Actual Loops"] if str(node.get("Relation Name", "")).startswith("contracts") else 0
    return own + sum(read_contract_rows(child) for child in node.get("Plans", []))


def test_every_column_of_the_symbol_master_is_documented(master: Master) -> None:
    master.dbt.run("docs", "generate", "--select", "dim_symbols", "dim_symbols_history", "symbol_sectors")
    manifest = json.loads((master.dbt.work_dir / "target" / "manifest.json").read_text())
    catalog = json.loads((master.dbt.work_dir / "target" / "catalog.json").read_text())
    for key in ("model.zmart.dim_symbols", "model.zmart.dim_symbols_history", "seed.zmart.symbol_sectors"):
        node = manifest["nodes"][key]
        assert node["description"].strip(), key
        documented = {name for name, column in node["columns"].items() if column["description"].strip()}
        assert documented == set(catalog["nodes"][key]["columns"]), key
    assert fetch(master.url, "select count(*) from marts.symbol_sectors")[0][0] > 250


def test_dim_symbols_sector_classes_and_flags_match_pandas_with_the_default_and_overridden_vars(master: Master) -> None:
    defaults = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["symbol_master"]
    actual = check_master(master, defaults)
    assert actual.loc["XBTUSDTM", "sector"] == "layer1" and actual.loc["LINKUSDTM", "sector"] == "infrastructure"
    assert actual.loc["MICROUSDTM", "sector"] == "unknown" and not actual.loc["MICROUSDTM", "is_sector_known"]  # flagged, not dropped
    assert not actual["is_eligible"].any()  # two days after listing: the 14-day minimum is not met

    # last in the module: leaves dim_symbols built with MASTER_VARS
    master.dbt.run("run", "--select", "dim_symbols", dbt_vars={"symbol_master": MASTER_VARS})
    actual = check_master(master, MASTER_VARS)
    # turnover 1e6 sits exactly on the medium bound (inclusive); the inverse contract's lot volume is not served
    assert set(actual.loc[actual["is_linear"], "liquidity_class"]) == {"medium"} and actual.loc["XBTUSDM", "liquidity_class"] == "unknown"
    assert set(actual.index[actual["is_eligible"]]) == {
        "XBTUSDTM", "ETHUSDTM", "SOLUSDTM", "DOGEUSDTM", "XRPUSDTM", "ADAUSDTM", "LINKUSDTM", "AVAXUSDTM", "BNBUSDTM",
    }  # not: the inverse contract, the delisted one, the late listing (12 hours old, 36 bars), the unknown sector
    assert len(set(actual["volatility_class"])) == 3
