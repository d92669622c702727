"""A multi-day portfolio history over the synthetic market of synthetic.py, for the portfolio
history and analytics marts.

Two algorithm versions besides synthetic.populate's v1, each formed at every hour from its first
to END (the holding hour of the evaluation at END is never loaded), with compositions that change
over time and weights that sum to exactly 1 in numeric(20, 18):

* `rotation`: random weights every hour and a few symbols swapped most hours; it holds SOLUSDTM
  through its gap (no bar in the hour, then a return after the gap), DOTUSDTM after its
  delisting (no bar any more) and NEWUSDTM in its listing hour (no bar before it: no return);
* `steady`: equal weights from hour 24 on, one to three symbols swapped every six hours.

Rows are written as the portfolio manager writes them: the evaluation, its ten holdings and its
decisions (hold / remove / add against the version's previous hour, each add recording the symbols
it replaces in details.replaces as selection.select does) in one transaction (the deferred
triggers check ten holdings summing to 1 at commit).

add_policy_evaluation adds to a built database one formed v1 evaluation under the seed's default
policy (the shared builds have none, so fct_constraint_compliance is empty there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from orchestration.portfolio.selection import PORTFOLIO_SIZE
from tests.integration.dbt import synthetic
from tests.integration.dbt.dbt_cli import Dbt

WEIGHT_UNITS = 10**18  # numeric(20, 18): weights are whole multiples of 1e-18
LISTING_HOUR = next(i.first_hour for i in synthetic.INSTRUMENTS if i.symbol == "NEWUSDTM")
DELISTING_HOUR = next(i.last_hour for i in synthetic.INSTRUMENTS if i.symbol == "DOTUSDTM")
GAP_HOURS = synthetic.GAP_HOURS["SOLUSDTM"]
# symbols each version must hold at these holding hours (offsets from START), for the edge cases
FORCED = {
    "rotation": {
        **{h: {"SOLUSDTM"} for h in range(GAP_HOURS.start, GAP_HOURS.stop + 1)},
        LISTING_HOUR: {"NEWUSDTM"},
        DELISTING_HOUR: {"DOTUSDTM"},
        DELISTING_HOUR + 1: {"DOTUSDTM"},
    },
    "steady": {},
}


@dataclass(frozen=True)
class Version:
    name: str
    first_hour: int  # offset of the first as_of from START
    equal_weights: bool
    swap_every: int  # hours between composition changes (1 to 3 symbols swapped)
    seed: int


VERSIONS = (Version("rotation", 1, False, 1, 7), Version("steady", 24, True, 6, 11))


def _tradable(hour: int) -> list[str]:
    """Symbols a version may pick at holding hour `hour` without a forced edge case: listed
    before the hour, not delisted, and not in or just after a gap."""
    symbols = []
    for instrument in synthetic.INSTRUMENTS:
        delisted = instrument.last_hour < synthetic.HOURS and instrument.last_hour <= hour
        in_gap = instrument.symbol == "SOLUSDTM" and GAP_HOURS.start <= hour <= GAP_HOURS.stop
        if instrument.first_hour < hour and not delisted and not in_gap:
            symbols.append(instrument.symbol)
    return symbols


def _weights(rng: np.random.Generator, equal: bool) -> list[Decimal]:
    """Ten positive weights summing to exactly 1 at scale 18."""
    if equal:
        return [Decimal("0.1")] * PORTFOLIO_SIZE
    raw = rng.integers(1, 1000, PORTFOLIO_SIZE).astype(float)
    units = [int(u) for u in np.floor(raw / raw.sum() * WEIGHT_UNITS)]
    units[-1] += WEIGHT_UNITS - sum(units)
    return [Decimal(u).scaleb(-18) for u in units]


def compositions(version: Version) -> dict[int, list[tuple[str, Decimal]]]:
    """Holding hour -> the ten (symbol, weight) held, for every hour of the version's history."""
    rng = np.random.default_rng(version.seed)
    forced = FORCED[version.name]
    held: list[str] = []
    result = {}
    for hour in range(version.first_hour, synthetic.HOURS + 1):
        tradable, must = _tradable(hour), sorted(forced.get(hour, set()))
        keep = [s for s in held if s in tradable and s not in must]
        if (hour - version.first_hour) % version.swap_every == 0 and keep:
            dropped = set(rng.choice(keep, size=min(int(rng.integers(1, 4)), len(keep)), replace=False))
            keep = [s for s in keep if s not in dropped]
        chosen = [*must, *keep][:PORTFOLIO_SIZE]
        candidates = [s for s in tradable if s not in chosen]
        chosen += [str(s) for s in rng.choice(candidates, size=PORTFOLIO_SIZE - len(chosen), replace=False)]
        held = chosen
        result[hour] = list(zip(held, _weights(rng, version.equal_weights), strict=True))
    return result


def reference_closes(data: synthetic.Synthetic) -> dict[str, pd.Series]:
    """Each contract's reference 1h closes by bucket_start (pandas resample of the minutes)."""
    bars = synthetic.expected_candles_1h(data)
    return {str(symbol): rows.set_index("bucket_start")["close"] for symbol, rows in bars.groupby("symbol")}


def populate(url: str) -> None:
    """Insert the versions' evaluations and holdings (after synthetic.populate)."""
    with psycopg.connect(url) as conn:
        for version in VERSIONS:
            previous: list[str] = []
            for hour, holdings in compositions(version).items():
                _insert(conn, version.name, synthetic.START + timedelta(hours=hour), holdings, previous)
                previous = [symbol for symbol, _ in holdings]


def decisions(held: list[str], previous: list[str]) -> list[tuple[str, str, dict[str, object]]]:
    """(symbol, action, details) of one evaluation against the version's previous holdings."""
    dropped = [s for s in previous if s not in held]
    return [
        *((s, "hold", {"keep_rank": 20}) for s in held if s in previous),
        *((s, "remove", {"keep_rank": 20}) for s in dropped),
        *((s, "add", {"replaces": dropped}) for s in held if s not in previous),
    ]


def _insert(conn: psycopg.Connection, version: str, as_of: datetime, holdings: list[tuple[str, Decimal]], previous: list[str]) -> None:
    with conn.transaction():
        row = conn.execute(
            "insert into portfolio.evaluations (as_of, algorithm_version, run_id, universe_size, eligible_count, outcome, "
            "outcome_reason, score_batch_ids) values (%s, %s, 'test', 13, 12, 'formed', 'synthetic history', '{}') "
            "returning evaluation_id",
            (as_of, version),
        ).fetchone()
        assert row is not None
        with conn.cursor() as cur:
            cur.executemany(
                "insert into portfolio.composition (evaluation_id, symbol, position, weight, composite_score) values (%s, %s, %s, %s, %s)",
                [(row[0], symbol, position, weight, 1.0 - position / 20) for position, (symbol, weight) in enumerate(holdings, start=1)],
            )
            cur.executemany(
                "insert into portfolio.decisions (evaluation_id, symbol, action, reason, details) values (%s, %s, %s, %s, %s)",
                [(row[0], symbol, action, f"synthetic {action}", Jsonb(details))
                 for symbol, action, details in decisions([symbol for symbol, _ in holdings], previous)],
            )


POLICY_AS_OF = synthetic.START + timedelta(hours=40)  # during SOLUSDTM's gap, before synthetic.py's v1 evaluations


def add_policy_evaluation(url: str, dbt: Dbt) -> None:
    """A formed v1 evaluation under the seed's default policy (the shared builds have none, so
    fct_constraint_compliance is empty there) with a declared relaxation, as the manager writes
    one; then the portfolio marts rebuilt with it."""
    parameters = Jsonb({"policy": "default", "regime": "neutral"})
    with psycopg.connect(url) as conn, conn.transaction():
        row = conn.execute(
            "insert into portfolio.evaluations (as_of, algorithm_version, run_id, universe_size, eligible_count, outcome, outcome_reason, "
            "policy, regime, policy_parameters, policy_hash, relaxations, weighting) "
            "values (%s, 'v1', 'lineage-test', 12, 12, 'formed', 'synthetic policy', 'default', 'neutral', %s, md5('default'), "
            "'{sector_cap}', 'equal') returning evaluation_id",
            (POLICY_AS_OF, parameters),
        ).fetchone()
        assert row is not None
        for position, symbol in enumerate(synthetic.FIRST_HOLDINGS, start=1):
            conn.execute("insert into portfolio.composition values (%s, %s, %s, %s, %s)", (row[0], symbol, position, Decimal("0.1"), 1.0 - position / 20))
            conn.execute(
                "insert into portfolio.decisions (evaluation_id, symbol, action, reason, composite_score, score_rank, details) "
                "values (%s, %s, 'add', 'ranked in the top ten', %s, %s, '{}')",
                (row[0], symbol, 1.0 - position / 20, position),
            )
    dbt.run("run", "-s", "tag:portfolio", "--full-refresh")
