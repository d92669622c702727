"""Step the portfolio manager hour by hour and record evaluations, holdings, decisions and audit.

Each evaluation at T (the end of an hour) reads only what is known at T: the scores published for
T (score_time = T), the symbol master rows valid at T, the realized volatility and the market
regime of the hour ending at T, the correlations of the last complete 30-day window ending at or
before T (as_of = the start of T's UTC day), the agents' consensus for T
(int_agent_consensus_1h at score_time = T), the previous formed evaluation's holdings and
challenger streaks, the policy's rows of seed portfolio_policies, and the trader overrides in
force at T (portfolio.overrides with valid_from <= T < valid_to). Replaying history (hour by hour
or over a range) therefore never looks ahead, and gives the decisions an hourly run gave.

Overrides apply by their validity period as stored when the hour is evaluated (created_at is
not consulted): a backdated override applies to the hours evaluated from then on, and never
re-makes an hour already decided. Every decision records the consensus and every agent's vote
of its symbol at T, copied from int_agent_consensus_1h (null, with status missing, when the
model has no row for it), and the override that made it, if any.

An evaluation, its ten holdings, its decisions, its screening audit and its challenger streaks
are written in one transaction; an hour already evaluated is left as it was decided (decisions
are a record, not a cache), and evaluating it again under another policy is refused.

Until the first portfolio of a version exists, an hour with fewer than ten eligible symbols
(indicators still warming up) is recorded as ``not_formed`` with the reason. Once a portfolio
exists, such an hour is an error: the run fails rather than invent or silently keep holdings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from orchestration.portfolio.selection import (
    PORTFOLIO_SIZE,
    UNKNOWN_REGIME,
    UNKNOWN_SECTOR,
    Candidate,
    Constraints,
    Correlations,
    Consensus,
    Override,
    Policy,
    PolicyError,
    Selection,
    consensus_status,
    select,
)

POLICY_SEED = "marts.portfolio_policies"
_POLICY_COLUMNS = (
    "sector_cap", "max_pairwise_correlation", "min_turnover_24h_quote", "min_listing_age_hours",
    "challenger_margin", "challenger_evaluations", "weighting",
    "challenger_min_consensus_score", "challenger_min_consensus_confidence", "challenger_without_consensus", "challenger_evaluations_if_sell",
)
_INTEGER_COLUMNS = ("sector_cap", "challenger_evaluations", "challenger_evaluations_if_sell")
_FLOAT_COLUMNS = (
    "max_pairwise_correlation", "min_turnover_24h_quote", "min_listing_age_hours", "challenger_margin",
    "challenger_min_consensus_score", "challenger_min_consensus_confidence",
)


class ManagerError(RuntimeError):
    """The manager cannot evaluate an hour as asked."""


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


def evaluate_window(url: str, start: datetime, end: datetime, version: str, policy_name: str, run_id: str | None) -> list[EvaluationOutcome]:
    with psycopg.connect(url, application_name="zmart-portfolio") as conn:
        policy = load_policy(conn, policy_name)
        return [_evaluate(conn, as_of, version, policy, run_id) for as_of in hours(start, end)]


def load_policy(conn: psycopg.Connection, name: str) -> Policy:
    """The policy's rows of seed portfolio_policies, validated (PolicyError names the rule broken)."""
    rows = conn.execute(f"select regime, {', '.join(_POLICY_COLUMNS)} from {POLICY_SEED} where policy = %s", (name,)).fetchall()
    if not rows:
        known = [r[0] for r in conn.execute(f"select distinct policy from {POLICY_SEED} order by 1").fetchall()]
        raise PolicyError(f"seed portfolio_policies has no row for policy {name!r} (policies: {', '.join(known) or 'none'})")
    by_regime: dict[str, Constraints] = {}
    for regime, *values in rows:
        fields = dict(zip(_POLICY_COLUMNS, values, strict=True))
        for column in _INTEGER_COLUMNS:
            if fields[column] is None or fields[column] != int(fields[column]):
                raise PolicyError(f"seed portfolio_policies, policy {name!r}, regime {regime!r}: {column}={fields[column]!r} must be an integer")
        for column in _POLICY_COLUMNS:
            if fields[column] is None:
                raise PolicyError(f"seed portfolio_policies, policy {name!r}, regime {regime!r}: {column} is missing")
        if regime in by_regime:
            raise PolicyError(f"seed portfolio_policies, policy {name!r}: regime {regime!r} has more than one row")
        by_regime[regime] = Constraints(
            policy=name, regime=regime,
            weighting=str(fields["weighting"]), challenger_without_consensus=str(fields["challenger_without_consensus"]),
            **{c: int(fields[c]) for c in _INTEGER_COLUMNS}, **{c: float(fields[c]) for c in _FLOAT_COLUMNS},  # type: ignore[arg-type]
        )
    return Policy(name, by_regime)


def _evaluate(conn: psycopg.Connection, as_of: datetime, version: str, policy: Policy, run_id: str | None) -> EvaluationOutcome:
    with conn.transaction():
        existing = conn.execute(
            "select evaluation_id, outcome, policy from portfolio.evaluations where as_of = %s and algorithm_version = %s",
            (as_of, version),
        ).fetchone()
        if existing is not None:
            evaluation_id, outcome, decided_under = existing
            if decided_under is not None and decided_under != policy.name:
                raise ManagerError(
                    f"the hour ending {as_of:%Y-%m-%d %H:%M} UTC of {version} was evaluated under policy {decided_under!r}, "
                    f"not {policy.name!r}: decisions are a record and are not re-made under another policy"
                )
            return EvaluationOutcome(as_of, evaluation_id, False, outcome == "formed", _holdings(conn, evaluation_id), 0, 0)
        previous = conn.execute(
            """
            select evaluation_id from portfolio.evaluations
            where as_of < %s and algorithm_version = %s and outcome = 'formed'
            order by as_of desc limit 1
            """,
            (as_of, version),
        ).fetchone()
        held = _holdings(conn, previous[0]) if previous else []
        candidates, batch_ids, universe, records = _candidates(conn, as_of, version, held)
        regime = _regime(conn, as_of)
        constraints = policy.for_regime(regime)
        eligible = sum(c.scored for c in candidates)
        header = _Header(as_of, version, run_id, universe, eligible, batch_ids, policy.name, regime, constraints)
        if previous is None and eligible < PORTFOLIO_SIZE:
            reason = (
                f"not formed: {eligible} of {universe} symbols have an eligible composite score at {as_of:%Y-%m-%d %H:%M} UTC "
                f"and {PORTFOLIO_SIZE} are needed (indicators are still warming up, or the universe is too small)"
            )
            evaluation_id = _insert_evaluation(conn, header, "not_formed", reason, None)
            return EvaluationOutcome(as_of, evaluation_id, True, False, [], 0, 0)
        streaks = dict(conn.execute(
            "select symbol, streak from portfolio.challenger_streaks where evaluation_id = %s", (previous[0],)
        ).fetchall()) if previous else {}
        selection = select(
            candidates, _correlations(conn, as_of, [c.symbol for c in candidates]), held, streaks, constraints, _overrides(conn, as_of)
        )
        evaluation_id = _write(conn, header, selection, records)
    actions = [d.action for d in selection.decisions]
    return EvaluationOutcome(as_of, evaluation_id, True, True, [h.symbol for h in selection.holdings], actions.count("add"), actions.count("remove"))


@dataclass(frozen=True)
class _ConsensusRecord:
    """A symbol's int_agent_consensus_1h row at as_of as JSON text, copied verbatim onto its decisions."""

    status: str  # present | abstained | missing (no row: consensus and votes are None)
    consensus: str | None  # the row's measures: the contract's columns but symbol and votes
    votes: str | None  # the row's votes


def _candidates(
    conn: psycopg.Connection, as_of: datetime, version: str, held: list[str]
) -> tuple[list[Candidate], list[int], int, dict[str, _ConsensusRecord]]:
    """The symbols scored at as_of and the previous holdings, with what the constraints and the consensus gate measure at as_of."""
    rows = conn.execute(
        """
        with scores as (
            select symbol, composite_score, is_eligible, turnover_quote_24h, input_batch_ids
            from marts.fct_symbol_scores
            where score_time = %(as_of)s and algorithm_version = %(version)s
        ),
        considered as (
            select symbol from scores
            union
            select unnest(%(held)s::text[])
        )
        select
            considered.symbol,
            scores.symbol is not null as is_scored,
            scores.composite_score,
            coalesce(scores.is_eligible, false) as is_eligible,
            coalesce(master.is_listed, false) as is_listed,
            scores.turnover_quote_24h,
            extract(epoch from %(as_of)s - coalesce(master.listed_at, master.first_seen_at)) / 3600 as listing_age_hours,
            coalesce(sectors.sector, %(unknown)s) as sector,
            volatility.rv_close_to_close_24,
            scores.input_batch_ids,
            consensus.symbol is not null as has_consensus,
            consensus.consensus_score,
            consensus.consensus_confidence,
            consensus.is_disputed,
            consensus.recommendation,
            jsonb_build_object(
                'score_time', consensus.score_time, 'consensus_score', consensus.consensus_score,
                'consensus_confidence', consensus.consensus_confidence, 'agreement', consensus.agreement,
                'is_disputed', consensus.is_disputed, 'recommendation', consensus.recommendation,
                'total_weight', consensus.total_weight, 'voting_agent_count', consensus.voting_agent_count,
                'weighted_agent_count', consensus.weighted_agent_count
            )::text as consensus_record,
            consensus.votes::text as votes
        from considered
        left join scores using (symbol)
        left join marts.dim_symbols_history as master
            on master.symbol = considered.symbol
            and master.valid_from <= %(as_of)s and (master.valid_to is null or %(as_of)s < master.valid_to)
        left join marts.symbol_sectors as sectors on sectors.base_currency = master.base_currency
        left join intermediate.int_indicators_1h_volatility as volatility
            on volatility.symbol = considered.symbol and volatility.bucket_start = %(as_of)s - interval '1 hour'
        -- the consensus of T only (score_time = T): an earlier hour's is not carried forward
        left join intermediate.int_agent_consensus_1h as consensus
            on consensus.symbol = considered.symbol and consensus.score_time = %(as_of)s
        order by considered.symbol
        """,
        {"as_of": as_of, "version": version, "held": held, "unknown": UNKNOWN_SECTOR},
    ).fetchall()
    candidates, records, batch_ids = [], {}, set()
    for symbol, _, score, eligible, listed, turnover, age, sector, sigma, ids, has_consensus, *consensus in rows:
        agents = Consensus(_float(consensus[0]), float(consensus[1]), bool(consensus[2]), str(consensus[3])) if has_consensus else None
        candidates.append(Candidate(symbol, _float(score), eligible, listed, _float(turnover), _float(age), sector, _float(sigma), agents))
        records[symbol] = _ConsensusRecord(consensus_status(agents), *((consensus[4], consensus[5]) if has_consensus else (None, None)))
        batch_ids.update(int(b) for b in ids or ())
    return candidates, sorted(batch_ids), sum(bool(r[1]) for r in rows), records


def _overrides(conn: psycopg.Connection, as_of: datetime) -> list[Override]:
    """The trader overrides in force at as_of: valid_from <= as_of < valid_to (no valid_to: open-ended)."""
    rows = conn.execute(
        """
        select override_id, symbol, action, reason from portfolio.overrides
        where valid_from <= %(as_of)s and (valid_to is null or %(as_of)s < valid_to)
        order by override_id
        """,
        {"as_of": as_of},
    ).fetchall()
    return [Override(int(i), symbol, action, reason) for i, symbol, action, reason in rows]


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _regime(conn: psycopg.Connection, as_of: datetime) -> str:
    row = conn.execute(
        "select regime from intermediate.int_market_regime_1h where bucket_start = %s", (as_of - timedelta(hours=1),)
    ).fetchone()
    return UNKNOWN_REGIME if row is None else str(row[0])


def _correlations(conn: psycopg.Connection, as_of: datetime, symbols: list[str]) -> Correlations:
    """The pairs' correlations over the last complete window ending at or before as_of (its UTC day's start)."""
    rows = conn.execute(
        """
        select symbol_a, symbol_b, correlation
        from intermediate.int_return_correlations_30d
        where as_of = date_bin(interval '1 day', %(as_of)s, timestamptz '2000-01-01 00:00:00+00')
          and is_complete and symbol_a = any(%(symbols)s) and symbol_b = any(%(symbols)s)
        """,
        {"as_of": as_of, "symbols": symbols},
    ).fetchall()
    return Correlations({(a, b): rho for a, b, rho in rows})


def _holdings(conn: psycopg.Connection, evaluation_id: int) -> list[str]:
    rows = conn.execute(
        "select symbol from portfolio.composition where evaluation_id = %s order by position", (evaluation_id,)
    ).fetchall()
    return [r[0] for r in rows]


@dataclass(frozen=True)
class _Header:
    as_of: datetime
    version: str
    run_id: str | None
    universe: int
    eligible: int
    batch_ids: list[int]
    policy: str
    regime: str
    constraints: Constraints


def _insert_evaluation(conn: psycopg.Connection, h: _Header, outcome: str, reason: str, selection: Selection | None) -> int:
    row = conn.execute(
        """
        insert into portfolio.evaluations
            (as_of, algorithm_version, run_id, universe_size, eligible_count, outcome, outcome_reason, score_batch_ids,
             policy, regime, policy_parameters, policy_hash, relaxations, weighting, weighting_note)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning evaluation_id
        """,
        (
            h.as_of, h.version, h.run_id, h.universe, h.eligible, outcome, reason, h.batch_ids,
            h.policy, h.regime, Jsonb(h.constraints.parameters()), h.constraints.parameters_hash(),
            selection.relaxed if selection else [], selection.weighting if selection else None,
            selection.weighting_note if selection else None,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _write(conn: psycopg.Connection, h: _Header, selection: Selection, records: dict[str, _ConsensusRecord]) -> int:
    adds = sum(d.action == "add" for d in selection.decisions)
    relaxed = f"; relaxed {', '.join(selection.relaxed)}" if selection.relaxed else ""
    reason = (
        f"formed: {PORTFOLIO_SIZE} of {h.eligible} eligible symbols held, {adds} added, policy {h.policy} "
        f"({h.regime} regime, {h.constraints.regime} constraints){relaxed}, {selection.weighting} weights"
    )
    evaluation_id = _insert_evaluation(conn, h, "formed", reason, selection)
    with conn.cursor() as cur:
        cur.executemany(
            "insert into portfolio.composition (evaluation_id, symbol, position, weight, composite_score) values (%s, %s, %s, %s, %s)",
            [(evaluation_id, x.symbol, i + 1, x.weight, x.composite_score) for i, x in enumerate(selection.holdings)],
        )
        cur.executemany(
            """
            insert into portfolio.decisions (
                evaluation_id, symbol, action, reason, composite_score, score_rank, details,
                override_id, consensus_status, consensus, votes)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)
            """,
            [
                (
                    evaluation_id, d.symbol, d.action, d.reason, d.composite_score, d.score_rank, Jsonb(d.details), d.override_id,
                    records[d.symbol].status, records[d.symbol].consensus, records[d.symbol].votes,
                )
                for d in selection.decisions
            ],
        )
        cur.executemany(
            "insert into portfolio.screening (evaluation_id, symbol, rule, measured, limit_value, passed, detail) values (%s, %s, %s, %s, %s, %s, %s)",
            [(evaluation_id, c.symbol, c.rule, c.measured, c.limit, c.passed, c.detail) for c in selection.audit],
        )
        cur.executemany(
            """
            insert into portfolio.challenger_streaks
                (evaluation_id, symbol, streak, composite_score, weakest_symbol, weakest_score, blocked_by, blocked_detail)
            values (%s, %s, %s, %s, %s, %s, %s, %s)
            """,
            [
                (evaluation_id, s.symbol, s.streak, s.composite_score, s.weakest_symbol, s.weakest_score, s.blocked_by, s.blocked_detail)
                for s in selection.streaks
            ],
        )
    return evaluation_id
