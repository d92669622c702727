"""fct_portfolio_sector_exposure and fct_portfolio_analytics' largest sector on real PostgreSQL and
dbt, over the multi-day portfolio history of synthetic_portfolio.py on the synthetic market.

The reference is pandas: each holding's base currency from the synthetic contract snapshots by
the point-in-time rule of dim_symbols_history (the latest snapshot at or before as_of that lists
the contract; before its first one, that snapshot's spec from the listing on; none before the
listing), its sector from the seed CSV ('unknown' otherwise), summed exactly in Decimal. Edge
cases: a holding after its delisting (keeps its sector), before any spec is in force and of a
contract the master does not know ('unknown', not dropped), an unclassified base currency.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from orchestration.settings import DBT_PROJECT_DIR
from tests.integration.dbt import synthetic, synthetic_portfolio
from tests.integration.dbt.conftest import BuiltDatabase, Portfolio
from tests.integration.dbt.dbt_cli import Dbt, fetch, frame, query_reads, window
from tests.integration.dbt.synthetic import hour

SECTORS = pd.read_csv(DBT_PROJECT_DIR / "seeds" / "symbol_sectors.csv").set_index("base_currency")["sector"].to_dict()


@dataclass(frozen=True)
class Built:
    url: str
    dbt: Dbt
    contracts: pd.DataFrame  # the raw.contracts snapshots synthetic.populate wrote


@pytest.fixture(scope="module")
def built(portfolio_built: BuiltDatabase[Portfolio], dbt_work_dir: Path) -> Iterator[Built]:
    url, portfolio = portfolio_built.clone()  # synthetic and synthetic_portfolio populate + `dbt build`, once per session
    yield Built(url, Dbt(url, dbt_work_dir), portfolio.data.contracts)


def sector_at(contracts: pd.DataFrame, symbol: str, as_of: pd.Timestamp) -> str:
    """The sector of the contract's spec in force at as_of, by dim_symbols_history's rule."""
    own = contracts.loc[contracts["symbol"] == symbol].sort_values("snapshot_time")
    if own.empty:
        return "unknown"
    before = own.loc[own["snapshot_time"] <= as_of]
    if len(before):
        base = before.iloc[-1]["base_currency"]
    elif own.iloc[0]["first_open_time"] <= as_of:  # back-dated to the listing
        base = own.iloc[0]["base_currency"]
    else:
        return "unknown"
    return str(SECTORS.get(base, "unknown"))


def expected_exposure(holdings: pd.DataFrame, contracts: pd.DataFrame) -> list[tuple[object, ...]]:
    """(algorithm_version, as_of, sector, weight, holding_count, symbols) sorted by key, from
    holdings (algorithm_version, as_of, symbol, weight)."""
    holdings = holdings.assign(sector=[
        sector_at(contracts, s, pd.Timestamp(a)) for s, a in zip(holdings["symbol"], holdings["as_of"], strict=True)
    ])
    rows = []
    for (version, as_of, sector), group in holdings.groupby(["algorithm_version", "as_of", "sector"], sort=True):
        rows.append((version, as_of, sector, sum(group["weight"], Decimal(0)), len(group), sorted(group["symbol"])))
    return rows


def realised_holdings(url: str) -> pd.DataFrame:
    """The formed holdings whose holding hour is loaded (the history's rows), from portfolio.*."""
    return frame(url, """
        select e.algorithm_version, e.as_of, c.symbol, c.weight
        from portfolio.evaluations e join portfolio.composition c using (evaluation_id)
        where e.outcome = 'formed' and e.as_of <= (select max(bucket_start) from intermediate.int_candles_1h)
    """)


def exposure_rows(url: str) -> list[tuple[object, ...]]:
    return fetch(url, """
        select algorithm_version, as_of, sector, weight, holding_count, symbols
        from marts.fct_portfolio_sector_exposure order by algorithm_version, as_of, sector
    """)


def test_exposure_equals_the_pandas_reference(built: Built) -> None:
    actual = exposure_rows(built.url)
    expected = expected_exposure(realised_holdings(built.url), built.contracts)
    assert [tuple(r) for r in actual] == [tuple(r) for r in expected]
    sectors = {r[2] for r in actual}
    assert "unknown" in sectors and "layer1" in sectors  # NEWUSDTM and MICROUSDTM are not classified
    # every evaluation's sector weights sum to exactly 1 (numeric)
    totals = fetch(built.url, "select sum(weight) from marts.fct_portfolio_sector_exposure group by algorithm_version, as_of")
    assert {t for (t,) in totals} == {Decimal(1)}
    evaluations = fetch(built.url, "select count(distinct (algorithm_version, as_of)) from marts.fct_portfolio_history")[0][0]
    assert len(totals) == evaluations


def test_a_delisted_holding_keeps_its_sector(built: Built) -> None:
    row = fetch(built.url, """
        select sector from marts.fct_portfolio_sector_exposure
        where algorithm_version = 'rotation' and as_of = %s and 'DOTUSDTM' = any(symbols)
    """, (hour(synthetic_portfolio.DELISTING_HOUR + 1),))
    assert row == [("layer1",)]


# hand-made holdings written into the history: before any spec is in force, a contract the master
# does not know, a delisted contract, an unclassified base currency
EDGE_HOLDINGS = (
    ("edge", -1, "ETHUSDTM", Decimal("0.5")),  # before ETHUSDTM's listing (START): no spec in force
    ("edge", -1, "GHOSTUSDTM", Decimal("0.5")),  # not in the symbol master at all
    ("edge", 60, "DOTUSDTM", Decimal("0.3")),  # delisted at hour 48: its last spec
    ("edge", 60, "SOLUSDTM", Decimal("0.3")),
    ("edge", 60, "MICROUSDTM", Decimal("0.4")),  # base MICRO is not in the seed
)


def test_holdings_without_a_known_sector_are_unknown_and_not_dropped(built: Built) -> None:
    rows = [{"algorithm_version": v, "as_of": hour(h), "symbol": s, "weight": w, "position": i}
            for i, (v, h, s, w) in enumerate(EDGE_HOLDINGS, start=1)]
    try:
        with psycopg.connect(built.url) as conn, conn.cursor() as cur:
            cur.executemany(
                "insert into marts.fct_portfolio_history (algorithm_version, as_of, symbol, weight, position) values (%s, %s, %s, %s, %s)",
                [tuple(r.values()) for r in rows],
            )
        built.dbt.run("run", "--select", "fct_portfolio_sector_exposure", "fct_portfolio_analytics")
        actual = [r for r in exposure_rows(built.url) if r[0] == "edge"]
        assert actual == expected_exposure(pd.DataFrame(rows), built.contracts)
        assert actual == [
            ("edge", hour(-1), "unknown", Decimal("1.0"), 2, ["ETHUSDTM", "GHOSTUSDTM"]),
            ("edge", hour(60), "layer1", Decimal("0.6"), 2, ["DOTUSDTM", "SOLUSDTM"]),
            ("edge", hour(60), "unknown", Decimal("0.4"), 1, ["MICROUSDTM"]),
        ]
        largest = fetch(built.url, "select distinct largest_sector, largest_sector_weight from marts.fct_portfolio_analytics where algorithm_version = 'edge'")
        assert largest == [("layer1", Decimal("0.6"))]
    finally:
        with psycopg.connect(built.url) as conn:
            conn.execute("delete from marts.fct_portfolio_history where algorithm_version = 'edge'")
        built.dbt.run("run", "--select", "fct_portfolio_sector_exposure", "fct_portfolio_analytics", "--full-refresh")


def test_analytics_report_the_latest_holdings_largest_sector(built: Built) -> None:
    holdings = realised_holdings(built.url)
    exposure = pd.DataFrame(
        expected_exposure(holdings, built.contracts),
        columns=["algorithm_version", "as_of", "sector", "weight", "holding_count", "symbols"],
    )
    analytics = frame(built.url, "select algorithm_version, period, latest_as_of, largest_sector, largest_sector_weight from marts.fct_portfolio_analytics")
    assert len(analytics) > 0
    for row in analytics.to_dict("records"):
        latest = exposure.loc[(exposure["algorithm_version"] == row["algorithm_version"]) & (exposure["as_of"] == row["latest_as_of"])]
        top = min(latest.to_dict("records"), key=lambda r: (-r["weight"], r["sector"]))  # ties: the first sector name
        assert (row["largest_sector"], row["largest_sector_weight"]) == (top["sector"], top["weight"]), row


def test_consecutive_windows_equal_a_full_refresh(built: Built) -> None:
    full = exposure_rows(built.url)
    boundaries = (0, 7, 8, 36, 41, 49, synthetic.HOURS + 1)  # windows ending at the listing, in the gap, after the delisting
    built.dbt.run("run", "--select", "fct_portfolio_sector_exposure", "--full-refresh", dbt_vars=window(hour(0), hour(boundaries[1])))
    assert max(r[1] for r in exposure_rows(built.url)) == hour(boundaries[1] - 1)
    for start, end in zip(boundaries[1:], boundaries[2:]):
        built.dbt.run("run", "--select", "fct_portfolio_sector_exposure", dbt_vars=window(hour(start), hour(end)))
    assert exposure_rows(built.url) == full


def test_an_hourly_increment_reads_one_row_per_holding(built: Built) -> None:
    """The hour's holdings through the history's as_of index and one dim_symbols_history index row
    each (the spec in force, however many versions the contract has): nothing grows with the history."""
    start = hour(60)
    built.dbt.run("compile", "--select", "fct_portfolio_sector_exposure", dbt_vars=window(start, start + timedelta(hours=1)))
    sql = (built.dbt.work_dir / "target" / "compiled" / "zmart" / "models" / "marts" / "portfolio" / "fct_portfolio_sector_exposure.sql").read_text()
    reads = query_reads(built.url, sql)
    holdings = fetch(built.url, "select count(*) from marts.fct_portfolio_history where as_of = %s", (start,))[0][0]
    assert holdings == 2 * synthetic_portfolio.PORTFOLIO_SIZE  # rotation and steady
    assert reads["marts.fct_portfolio_history"] == holdings, reads
    assert reads["marts.dim_symbols_history"] == holdings, reads
