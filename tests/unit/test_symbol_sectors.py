"""The sector seed of the symbol master against the simulator's factor-model sectors."""

from __future__ import annotations

import csv

from orchestration.settings import DBT_PROJECT_DIR
from simulator import universe


def test_the_sector_seed_agrees_with_the_simulators_sectors_for_the_bases_it_knows() -> None:
    with (DBT_PROJECT_DIR / "seeds" / "symbol_sectors.csv").open(newline="") as handle:
        seed = {row["base_currency"]: row["sector"] for row in csv.DictReader(handle)}
    assert set(seed.values()) <= set(universe.SECTORS)
    known = {("XBT" if base == "BTC" else base): sector for base, (sector, _, _) in universe._KNOWN.items()}
    assert {base: seed.get(base) for base in known} == known
    # every real contract's base currency is covered; the synthetic names are not (they stay 'unknown')
    contracts = universe.build_universe(42, 700)
    synthetic_from_ms = universe._SYNTHETIC_LISTING_FROM.timestamp() * 1000
    real = {c.base for c in contracts if c.listed_ms < synthetic_from_ms} | {c.base for c in contracts if c.contract_type == universe.DATED}
    synthetic = {c.base for c in contracts} - real
    assert real <= set(seed) and len(real) > 250
    # a synthetic name can collide with a real coin's (WIF): it gets the real coin's sector
    assert len(synthetic) > 400 and synthetic & set(seed) <= set(known)
