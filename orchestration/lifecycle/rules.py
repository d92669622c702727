"""The symbol lifecycle's transition rules (pure, no I/O).

States: discovery -> evaluation -> active <-> replacement_candidate -> retired -> evaluation, and
delisted from any state (back to discovery if the exchange lists the contract again).

For one hour, given each symbol's standing before it and the hour's facts (the contracts the
exchange listed, the symbols with an eligible score, the portfolio's holdings and their score
ranks), ``plan_hour`` returns the transitions that bring every symbol to the state the facts
call for, each a step the state machine allows (``ALLOWED``, equal to the database's
lifecycle.allowed_transitions), in order, with its reason:

* not listed -> delisted (from any state; nothing for a symbol never seen);
* listed and never seen, or delisted -> discovery;
* held -> active when ranked within the top ten, replacement_candidate when ranked below (kept
  by the manager's challenger rule or constraints); a symbol not yet evaluated passes through evaluation first;
* no longer held (active or replacement_candidate) -> retired;
* discovery with an eligible score -> evaluation; retired with an eligible score -> evaluation
  once it has been retired for the cool-down (a symbol just removed is usually still eligible:
  without it, retired would last an hour). A held symbol leaves retired at once.

evaluation is sticky: a symbol whose score is ineligible for an hour (an incomplete bar) stays
in evaluation; only delisting, holding or nothing moves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class State(StrEnum):
    DISCOVERY = "discovery"
    EVALUATION = "evaluation"
    ACTIVE = "active"
    REPLACEMENT_CANDIDATE = "replacement_candidate"
    RETIRED = "retired"
    DELISTED = "delisted"


# (from, to); from None is a symbol's first transition. Must equal lifecycle.allowed_transitions.
ALLOWED: frozenset[tuple[State | None, State]] = frozenset(
    {
        (None, State.DISCOVERY),
        (State.DISCOVERY, State.EVALUATION),
        (State.EVALUATION, State.ACTIVE),
        (State.ACTIVE, State.REPLACEMENT_CANDIDATE),
        (State.REPLACEMENT_CANDIDATE, State.ACTIVE),
        (State.ACTIVE, State.RETIRED),
        (State.REPLACEMENT_CANDIDATE, State.RETIRED),
        (State.RETIRED, State.EVALUATION),
        (State.DELISTED, State.DISCOVERY),
        *((state, State.DELISTED) for state in State if state is not State.DELISTED),
    }
)
HELD = frozenset({State.ACTIVE, State.REPLACEMENT_CANDIDATE})


class LifecycleError(ValueError):
    """The facts of an hour or the rules' parameters break a rule of the lifecycle."""


@dataclass(frozen=True)
class Standing:
    state: State
    since: datetime  # as_of of the transition into the state


@dataclass(frozen=True)
class HourFacts:
    as_of: datetime  # end of the hour
    listed: frozenset[str]  # contracts the exchange lists at as_of
    eligible: frozenset[str]  # symbols with an eligible composite score at as_of
    holdings: Mapping[str, int]  # symbol -> score rank, of the portfolio formed at as_of (empty if none)

    def __post_init__(self) -> None:
        unlisted = sorted(set(self.holdings) - self.listed)
        if unlisted:
            # the portfolio can only hold what the exchange lists; a holding outside the universe is bad input
            raise LifecycleError(f"holdings at {self.as_of:%Y-%m-%d %H:%M} UTC include symbols not listed then: {', '.join(unlisted)}")
        bad_ranks = sorted(s for s, rank in self.holdings.items() if rank < 1)
        if bad_ranks:
            raise LifecycleError(f"holdings at {self.as_of:%Y-%m-%d %H:%M} UTC: score ranks must be >= 1 ({', '.join(bad_ranks)})")


@dataclass(frozen=True)
class Rules:
    top_n: int = 10  # a holding ranked below this is a replacement candidate
    retirement_cooldown: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.top_n < 1:
            raise LifecycleError(f"top_n={self.top_n}: must be at least 1")
        if self.retirement_cooldown < timedelta(0):
            raise LifecycleError(f"retirement_cooldown={self.retirement_cooldown}: must not be negative")


@dataclass(frozen=True)
class Transition:
    symbol: str
    from_state: State | None
    to_state: State
    reason: str


def plan_hour(standings: Mapping[str, Standing], facts: HourFacts, rules: Rules = Rules()) -> list[Transition]:
    """The transitions of one hour, symbol by symbol (sorted), each symbol's in the order made."""
    transitions: list[Transition] = []
    for symbol in sorted(set(standings) | facts.listed):
        transitions += _plan_symbol(symbol, standings.get(symbol), facts, rules)
    return transitions


def _plan_symbol(symbol: str, standing: Standing | None, facts: HourFacts, rules: Rules) -> list[Transition]:
    when = f"{facts.as_of:%Y-%m-%d %H:%M} UTC"
    path: list[Transition] = []
    state = standing.state if standing else None

    def move(to: State, reason: str) -> None:
        nonlocal state
        if (state, to) not in ALLOWED:  # a bug in these rules, never bad input
            raise AssertionError(f"{symbol}: the rules made an illegal transition {state} -> {to}")
        path.append(Transition(symbol, state, to, reason))
        state = to

    if symbol not in facts.listed:
        if state not in (None, State.DELISTED):
            move(State.DELISTED, f"the exchange no longer lists the contract at {when}")
        return path
    if state is None:
        move(State.DISCOVERY, f"new contract: listed by the exchange at {when}")
    elif state is State.DELISTED:
        move(State.DISCOVERY, f"listed by the exchange again at {when}")

    rank = facts.holdings.get(symbol)
    eligible = symbol in facts.eligible
    if rank is not None:
        if state in (State.DISCOVERY, State.RETIRED):
            move(State.EVALUATION, f"held by the portfolio at {when}" + (" with an eligible composite score" if eligible else ""))
        if state is State.EVALUATION:
            move(State.ACTIVE, f"added to the portfolio at {when} (score rank {rank})")
        if rank > rules.top_n and state is State.ACTIVE:
            move(State.REPLACEMENT_CANDIDATE, f"held at {when} but ranked {rank}, outside the top {rules.top_n}")
        elif rank <= rules.top_n and state is State.REPLACEMENT_CANDIDATE:
            move(State.ACTIVE, f"held at {when} and ranked {rank}, back within the top {rules.top_n}")
    elif state in HELD:
        move(State.RETIRED, f"removed from the portfolio at {when}")
    elif eligible and state is State.DISCOVERY:
        move(State.EVALUATION, f"eligible composite score at {when}")
    elif eligible and state is State.RETIRED and standing is not None and facts.as_of - standing.since >= rules.retirement_cooldown:
        move(State.EVALUATION, f"eligible composite score at {when}, {facts.as_of - standing.since} after retirement")
    return path
