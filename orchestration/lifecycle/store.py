"""Apply the lifecycle rules hour by hour against the database.

Each hour (as_of = its end) reads only what was known at as_of: the contracts the point-in-time
symbol master lists then (marts.dim_symbols_history), the scores published then
(marts.fct_symbol_scores, score_time = as_of) and the portfolio evaluation of that hour
(portfolio.composition with the ranks of portfolio.decisions). The hour's transitions and its
lifecycle.evaluated_hours row are written in one transaction; the database checks every
transition against lifecycle.allowed_transitions. An hour already evaluated is left as it was
(a re-run writes nothing); an hour before one already evaluated is refused, since its
transitions would rewrite the later history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from orchestration.lifecycle.rules import HourFacts, Rules, Standing, State, Transition, plan_hour
from orchestration.portfolio.manager import hours


class LifecycleInputError(RuntimeError):
    """An input the lifecycle needs for an hour is missing or out of order."""


@dataclass(frozen=True)
class HourOutcome:
    as_of: datetime
    created: bool  # False: the hour had been evaluated before and was left as it was
    transitions: list[Transition]


def apply_window(url: str, start: datetime, end: datetime, version: str, rules: Rules, run_id: str | None) -> list[HourOutcome]:
    """Evaluate the hours whose buckets start in [start, end), in time order."""
    with psycopg.connect(url, application_name="zmart-lifecycle") as conn:
        return [_apply_hour(conn, as_of, version, rules, run_id) for as_of in hours(start, end)]


def _apply_hour(conn: psycopg.Connection, as_of: datetime, version: str, rules: Rules, run_id: str | None) -> HourOutcome:
    with conn.transaction():
        # one lifecycle writer at a time: the hour ledger decides what is left to do
        # (an advisory lock: the hour ledger is sealed, and locking it would need UPDATE on it)
        conn.execute("select pg_advisory_xact_lock(hashtext('lifecycle.evaluated_hours'))")
        if conn.execute("select 1 from lifecycle.evaluated_hours where as_of = %s", (as_of,)).fetchone():
            return HourOutcome(as_of, False, [])
        later = conn.execute("select max(as_of) from lifecycle.evaluated_hours where as_of > %s", (as_of,)).fetchone()
        if later is not None and later[0] is not None:
            raise LifecycleInputError(
                f"lifecycle hour {as_of:%Y-%m-%d %H:%M} UTC has not been evaluated but {later[0]:%Y-%m-%d %H:%M} UTC has: "
                "hours are evaluated in time order, so an earlier hour cannot be added afterwards"
            )
        transitions = plan_hour(_standings(conn, as_of), _facts(conn, as_of, version), rules)
        with conn.cursor() as cur:
            cur.executemany(
                "insert into lifecycle.transitions (symbol, as_of, from_state, to_state, reason, run_id) values (%s, %s, %s, %s, %s, %s)",
                [(t.symbol, as_of, t.from_state, t.to_state, t.reason, run_id) for t in transitions],
            )
        conn.execute(
            "insert into lifecycle.evaluated_hours (as_of, algorithm_version, run_id, transitions) values (%s, %s, %s, %s)",
            (as_of, version, run_id, len(transitions)),
        )
    return HourOutcome(as_of, True, transitions)


def _standings(conn: psycopg.Connection, as_of: datetime) -> dict[str, Standing]:
    rows = conn.execute(
        """
        select distinct on (symbol) symbol, to_state, as_of
        from lifecycle.transitions
        where as_of <= %s
        order by symbol, transition_id desc
        """,
        (as_of,),
    ).fetchall()
    return {symbol: Standing(State(state), since) for symbol, state, since in rows}


def _facts(conn: psycopg.Connection, as_of: datetime, version: str) -> HourFacts:
    # the universe as of as_of: the pattern of macro universe_as_of (dbt_project/macros/symbol_master.sql)
    listed = conn.execute(
        """
        select symbol from marts.dim_symbols_history
        where valid_from <= %(as_of)s and (valid_to is null or %(as_of)s < valid_to) and is_listed
        """,
        {"as_of": as_of},
    ).fetchall()
    eligible = conn.execute(
        "select symbol from marts.fct_symbol_scores where score_time = %s and algorithm_version = %s and is_eligible",
        (as_of, version),
    ).fetchall()
    evaluation = conn.execute(
        "select evaluation_id, outcome from portfolio.evaluations where as_of = %s and algorithm_version = %s", (as_of, version)
    ).fetchone()
    if evaluation is None:
        raise LifecycleInputError(
            f"no portfolio evaluation of {version} at {as_of:%Y-%m-%d %H:%M} UTC: the portfolio manager must evaluate the hour first"
        )
    holdings = conn.execute(
        """
        select composition.symbol, decisions.score_rank
        from portfolio.composition
        left join portfolio.decisions using (evaluation_id, symbol)
        where composition.evaluation_id = %s
        """,
        (evaluation[0],),
    ).fetchall()
    unranked = sorted(symbol for symbol, rank in holdings if rank is None)
    if unranked:
        raise LifecycleInputError(f"portfolio evaluation {evaluation[0]} holds {', '.join(unranked)} without a decision with a score rank")
    return HourFacts(
        as_of=as_of,
        listed=frozenset(r[0] for r in listed),
        eligible=frozenset(r[0] for r in eligible),
        holdings={symbol: int(rank) for symbol, rank in holdings},
    )
