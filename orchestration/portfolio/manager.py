"""Step the portfolio manager hour by hour and record evaluations, holdings and decisions.

Each hour reads only the scores published for that hour (score_time = as_of) and the holdings
of the previous formed evaluation, so replaying history never looks ahead. An evaluation, its
ten holdings and its decisions are written in one transaction; an hour already evaluated is left
as it was decided (decisions are a record, not a cache).

Until the first portfolio of a version exists, an hour with fewer than ten eligible symbols
(indicators still warming up) is recorded as ``not_formed`` with the reason. Once a portfolio
exists, such an hour is an error: the run fails rather than invent or silently keep holdings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from orchestration.portfolio.selection import PORTFOLIO_SIZE, Policy, Selection, select


@dataclass(frozen=True)
class EvaluationOutcome:
    as_of: datetime
    evaluation_id: int
    created: bool
    formed: bool
    holdings: list[str]
    adds: int
    removes: int


def hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """Evaluation times (ends of the hours) for the hour buckets starting in [start, end)."""
    moment = start
    while moment < end:
        yield moment + timedelta(hours=1)
        moment += timedelta(hours=1)


def evaluate_window(url: str, start: datetime, end: datetime, version: str, policy: Policy, run_id: str | None) -> list[EvaluationOutcome]:
    outcomes = []
    with psycopg.connect(url, application_name="zmart-portfolio") as conn:
        for as_of in hours(start, end):
            outcomes.append(_evaluate(conn, as_of, version, policy, run_id))
    return outcomes


def _evaluate(conn: psycopg.Connection, as_of: datetime, version: str, policy: Policy, run_id: str | None) -> EvaluationOutcome:
    with conn.transaction():
        existing = conn.execute(
            "select evaluation_id, outcome from portfolio.evaluations where as_of = %s and algorithm_version = %s",
            (as_of, version),
        ).fetchone()
        if existing is not None:
            evaluation_id, outcome = existing
            return EvaluationOutcome(as_of, evaluation_id, False, outcome == "formed", _holdings(conn, evaluation_id), 0, 0)
        previous = conn.execute(
            """
            select evaluation_id from portfolio.evaluations
            where as_of < %s and algorithm_version = %s and outcome = 'formed'
            order by as_of desc limit 1
            """,
            (as_of, version),
        ).fetchone()
        scores = _scores(conn, as_of, version)
        eligible = int((scores["is_eligible"] & scores["composite_score"].notna()).sum())
        if previous is None and eligible < PORTFOLIO_SIZE:
            reason = (
                f"not formed: {eligible} of {len(scores)} symbols have an eligible composite score at {as_of:%Y-%m-%d %H:%M} UTC "
                f"and {PORTFOLIO_SIZE} are needed (indicators are still warming up, or the universe is too small)"
            )
            evaluation_id = _insert_evaluation(conn, as_of, version, run_id, scores, eligible, "not_formed", reason)
            return EvaluationOutcome(as_of, evaluation_id, True, False, [], 0, 0)
        selection = select(scores, _holdings(conn, previous[0]) if previous else [], policy)
        evaluation_id = _write(conn, as_of, version, run_id, selection, scores, eligible)
    actions = [d.action for d in selection.decisions]
    holdings = [h[0] for h in selection.holdings]
    return EvaluationOutcome(as_of, evaluation_id, True, True, holdings, actions.count("add"), actions.count("remove"))


def _scores(conn: psycopg.Connection, as_of: datetime, version: str) -> pd.DataFrame:
    rows = conn.execute(
        """
        select symbol, composite_score, is_eligible, input_batch_ids
        from marts.fct_symbol_scores
        where score_time = %s and algorithm_version = %s
        """,
        (as_of, version),
    ).fetchall()
    return pd.DataFrame(rows, columns=["symbol", "composite_score", "is_eligible", "input_batch_ids"])


def _holdings(conn: psycopg.Connection, evaluation_id: int) -> list[str]:
    rows = conn.execute(
        "select symbol from portfolio.composition where evaluation_id = %s order by position", (evaluation_id,)
    ).fetchall()
    return [r[0] for r in rows]


def _insert_evaluation(
    conn: psycopg.Connection, as_of: datetime, version: str, run_id: str | None, scores: pd.DataFrame,
    eligible: int, outcome: str, reason: str,
) -> int:
    batch_ids = sorted({int(b) for ids in scores["input_batch_ids"] if ids is not None for b in ids})
    row = conn.execute(
        """
        insert into portfolio.evaluations
            (as_of, algorithm_version, run_id, universe_size, eligible_count, outcome, outcome_reason, score_batch_ids)
        values (%s, %s, %s, %s, %s, %s, %s, %s) returning evaluation_id
        """,
        (as_of, version, run_id, len(scores), eligible, outcome, reason, batch_ids),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _write(
    conn: psycopg.Connection, as_of: datetime, version: str, run_id: str | None, selection: Selection,
    scores: pd.DataFrame, eligible: int,
) -> int:
    adds = sum(d.action == "add" for d in selection.decisions)
    reason = f"formed: {PORTFOLIO_SIZE} of {eligible} eligible symbols held, {adds} added"
    evaluation_id = _insert_evaluation(conn, as_of, version, run_id, scores, eligible, "formed", reason)
    with conn.cursor() as cur:
        cur.executemany(
            "insert into portfolio.composition (evaluation_id, symbol, position, weight, composite_score) values (%s, %s, %s, %s, %s)",
            [(evaluation_id, symbol, i + 1, weight, score) for i, (symbol, weight, score) in enumerate(selection.holdings)],
        )
        cur.executemany(
            """
            insert into portfolio.decisions (evaluation_id, symbol, action, reason, composite_score, score_rank, details)
            values (%s, %s, %s, %s, %s, %s, %s)
            """,
            [
                (evaluation_id, d.symbol, d.action, d.reason, d.composite_score, d.score_rank, Jsonb(d.details))
                for d in selection.decisions
            ],
        )
    return evaluation_id
