"""Choose the ten holdings for one hour from the symbols' composite scores (pure, no I/O).

v1 policy: start with the ten best eligible symbols; afterwards keep a holding while it stays
eligible and ranks within the keep band (top ``keep_rank``), and fill each freed slot with the
best-ranked symbol not held. The band keeps turnover low: a holding is not sold for dropping
from 10th to 12th place. Weights are equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

ALGORITHM_VERSION = "v1"  # the scoring algorithm version this policy is recorded under
PORTFOLIO_SIZE = 10
EQUAL_WEIGHT = Decimal(1) / PORTFOLIO_SIZE


class SelectionError(RuntimeError):
    """The portfolio cannot be formed from the scores given."""


@dataclass(frozen=True)
class Policy:
    keep_rank: int = 20

    def __post_init__(self) -> None:
        if self.keep_rank < PORTFOLIO_SIZE:
            raise ValueError(f"keep_rank={self.keep_rank}: must be at least the portfolio size {PORTFOLIO_SIZE}")


@dataclass(frozen=True)
class Decision:
    symbol: str
    action: str  # add | remove | hold
    reason: str
    composite_score: float | None
    score_rank: int | None
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    holdings: list[tuple[str, Decimal, float]]  # (symbol, weight, composite score) in position order
    decisions: list[Decision]
    universe_size: int


def select(scores: pd.DataFrame, previous: list[str], policy: Policy) -> Selection:
    """``scores``: one row per symbol with ``symbol``, ``composite_score`` and ``is_eligible``."""
    eligible = (
        scores.loc[scores["is_eligible"] & scores["composite_score"].notna(), ["symbol", "composite_score"]]
        .sort_values(["composite_score", "symbol"], ascending=[False, True], ignore_index=True)
    )
    if len(eligible) < PORTFOLIO_SIZE:
        raise SelectionError(
            f"only {len(eligible)} of {len(scores)} symbols have an eligible composite score; "
            f"{PORTFOLIO_SIZE} are needed to form the portfolio"
        )
    rank = {s: i + 1 for i, s in enumerate(eligible["symbol"])}
    score = dict(zip(eligible["symbol"], eligible["composite_score"], strict=True))
    n = len(eligible)

    kept = [s for s in previous if rank.get(s, n + 1) <= policy.keep_rank]
    dropped = [s for s in previous if s not in kept]
    candidates = [s for s in eligible["symbol"] if s not in kept]
    added = candidates[: PORTFOLIO_SIZE - len(kept)]

    decisions: list[Decision] = []
    for s in kept:
        decisions.append(
            Decision(s, "hold", f"rank {rank[s]} of {n} (composite {score[s]:.4f}) is within the keep band (top {policy.keep_rank})",
                     score[s], rank[s], {"keep_rank": policy.keep_rank})
        )
    for s in dropped:
        why = (
            f"rank {rank[s]} of {n} (composite {score[s]:.4f}) fell outside the keep band (top {policy.keep_rank})"
            if s in rank
            else "no eligible composite score this hour"
        )
        decisions.append(Decision(s, "remove", why, score.get(s), rank.get(s), {"keep_rank": policy.keep_rank}))
    for s in added:
        why = (
            f"initial selection: rank {rank[s]} of {n} (composite {score[s]:.4f})"
            if not previous
            else f"best-ranked symbol not held: rank {rank[s]} of {n} (composite {score[s]:.4f}), filling a slot freed by "
            + ", ".join(dropped)
        )
        decisions.append(Decision(s, "add", why, score[s], rank[s], {"replaces": dropped}))

    members = sorted(kept + added, key=lambda s: rank[s])
    holdings = [(s, EQUAL_WEIGHT, score[s]) for s in members]
    return Selection(holdings, decisions, len(scores))
