"""Choose the ten holdings for one hour under a policy's constraints (pure, no I/O).

Inputs at the evaluation time T: one ``Candidate`` per symbol considered (the symbols scored at T
and the previous holdings), the pairwise correlations known at T, the previous holdings and the
challenger streaks of the previous evaluation, and the ``Constraints`` of the policy for the
regime at T.

Hard screening (per symbol): an eligible composite score at T, listed at T, 24h quote turnover
>= min_turnover_24h_quote, listing age >= min_listing_age_hours. Portfolio constraints (per
pair of holdings): at most sector_cap holdings per sector (a symbol whose sector is unknown is
its own sector: pooling unrelated unclassified contracts would cap them as if alike), and no
two holdings whose correlation exceeds max_pairwise_correlation (signed: a negative correlation
diversifies; a pair without a measured correlation, e.g. too few common returns, passes and the
audit shows the value as unmeasured).

Initial formation is greedy: candidates in composite order (ties by symbol), each added when it
fits the holdings chosen so far. Without the correlation constraint this is exactly the optimum
(the constraint set is a partition matroid, on which greedy maximises a sum of weights); with it,
choosing ten maximising the total score is a maximum-weight independent set problem (NP-hard),
so greedy is a documented heuristic: deterministic, explainable (each add names the rule that
skipped a better symbol) and what a replay can reproduce exactly.

Afterwards, holdings are reviewed strongest first: one that is no longer screened in, or no
longer fits the stronger holdings kept (a tighter regime's cap, a correlation that rose), is
removed with the rule and the numbers, and the freed slots are filled greedily. Then every
screened-in symbol not held extends its challenger streak when its composite beats the weakest
holding's by at least challenger_margin, and resets it to 0 otherwise (a broken streak starts
over; the streak counts evaluations, each against the margin in force then). A challenger whose
streak reaches challenger_evaluations replaces the weakest holding when it still beats it by
the margin and fits the other nine, and the agents' consensus at T supports it (the consensus
gate, below); challengers are tried best first, against the weakest of the holdings as they stand.

Consensus gate (int_agent_consensus_1h at score_time = T only; a row of an earlier hour is not
carried forward). A due challenger is swapped in only when its consensus is present (a row at T
with a weighted view: consensus_score not null), not disputed, consensus_score >=
challenger_min_consensus_score and consensus_confidence >= challenger_min_consensus_confidence. A
disputed consensus always blocks. An absent consensus (no row at T: 'missing'; or every agent
abstained or had no proven edge: 'abstained') is never read as a score of 0: the policy's
challenger_without_consensus says what it does (block: not swapped in; allow: the margin and
the streak alone decide), and either way the decision or the streak row says so. A blocked
challenger keeps its streak and is swapped in at the first evaluation its consensus supports it.
The holding's own consensus may speed its removal: when the weakest holding's consensus at T is
an undisputed 'sell', K is challenger_evaluations_if_sell (<= challenger_evaluations) instead.

Trader overrides (portfolio.overrides active at T: valid_from <= T < valid_to; when an exclude
and a pin overlap, exclude wins). An excluded symbol is never held: a holding is removed with a
reason naming the override, and it is neither a filler nor a challenger. A pinned symbol is held
while listed and with an eligible score at T, whatever its rank, turnover or listing age; pins
are placed first, count toward the ten, the sector cap and the correlations of every other
holding, and are never the weakest holding a challenger replaces. Where a pinned holding breaks a
constraint in force (its turnover, its age, a sector over the cap, a correlation over the limit
with another holding), the pin wins: the rule is added to the evaluation's relaxations, the
pin's decision names it, and its screening row shows the rule relaxed for it (no limit, with the
measured value). More than ten honoured pins is an error (ten cannot hold them).

If ten holdings cannot be found, constraints are relaxed one at a time in RELAXATION_ORDER (the
estimated, portfolio-level constraints before the per-symbol ones) and the relaxation is
recorded; eligibility and listing are never relaxed: fewer than ten such symbols is an error.

Weights: equal, inverse volatility (1/sigma normalised) or score-proportional, in numeric(20, 18)
units summing to exactly 1. When the chosen weighting is undefined for a holding (no positive
volatility, a non-positive score), equal weights are used and the fallback is recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal

ALGORITHM_VERSION = "v1"  # the scoring algorithm version this policy is recorded under
PORTFOLIO_SIZE = 10
WEIGHT_QUANTUM = Decimal("1e-18")  # portfolio.composition.weight is numeric(20, 18)
REGIMES = ("risk_on", "neutral", "risk_off")
UNKNOWN_REGIME = "unknown"  # no regime label at T: the neutral constraints apply
FALLBACK_REGIME = "neutral"
WEIGHTINGS = ("equal", "inverse_vol", "score")
UNKNOWN_SECTOR = "unknown"
RELAXATION_ORDER = ("max_pairwise_correlation", "sector_cap", "min_listing_age_hours", "min_turnover_24h_quote")
WITHOUT_CONSENSUS = ("block", "allow")  # what an absent consensus does to a due challenger
SELL = "sell"


class SelectionError(RuntimeError):
    """The portfolio cannot be formed from the inputs given."""


class PolicyError(ValueError):
    """A policy row breaks a rule of the portfolio_policies seed."""


@dataclass(frozen=True)
class Constraints:
    """One row of the portfolio_policies seed: the limits of a policy in one regime."""

    policy: str
    regime: str
    sector_cap: int
    max_pairwise_correlation: float
    min_turnover_24h_quote: float
    min_listing_age_hours: float
    challenger_margin: float
    challenger_evaluations: int
    weighting: str
    challenger_min_consensus_score: float
    challenger_min_consensus_confidence: float
    challenger_without_consensus: str
    challenger_evaluations_if_sell: int

    def __post_init__(self) -> None:
        rules = (
            ("regime", self.regime in REGIMES, f"one of {', '.join(REGIMES)}"),
            ("sector_cap", 1 <= self.sector_cap <= PORTFOLIO_SIZE, f"an integer in [1, {PORTFOLIO_SIZE}]"),
            ("max_pairwise_correlation", -1 < self.max_pairwise_correlation <= 1, "in (-1, 1]"),
            ("min_turnover_24h_quote", math.isfinite(self.min_turnover_24h_quote) and self.min_turnover_24h_quote >= 0, "finite and >= 0"),
            ("min_listing_age_hours", math.isfinite(self.min_listing_age_hours) and self.min_listing_age_hours >= 0, "finite and >= 0"),
            ("challenger_margin", math.isfinite(self.challenger_margin) and self.challenger_margin >= 0, "finite and >= 0"),
            ("challenger_evaluations", self.challenger_evaluations >= 1, "an integer >= 1"),
            ("weighting", self.weighting in WEIGHTINGS, f"one of {', '.join(WEIGHTINGS)}"),
            ("challenger_min_consensus_score", -1 <= self.challenger_min_consensus_score <= 1, "in [-1, 1]"),
            ("challenger_min_consensus_confidence", 0 <= self.challenger_min_consensus_confidence <= 1, "in [0, 1]"),
            ("challenger_without_consensus", self.challenger_without_consensus in WITHOUT_CONSENSUS, f"one of {', '.join(WITHOUT_CONSENSUS)}"),
            (
                "challenger_evaluations_if_sell", 1 <= self.challenger_evaluations_if_sell <= self.challenger_evaluations,
                f"an integer in [1, challenger_evaluations = {self.challenger_evaluations}]",
            ),
        )
        for column, ok, rule in rules:
            if not ok:
                raise PolicyError(
                    f"seed portfolio_policies, policy {self.policy!r}, regime {self.regime!r}: "
                    f"{column}={getattr(self, column)!r} must be {rule}"
                )

    def parameters(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "policy"}

    def parameters_hash(self) -> str:
        """md5 of the parameters as canonical JSON (sorted keys): equal limits, equal hash."""
        return hashlib.md5(json.dumps(self.parameters(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Policy:
    """A policy's constraint sets, one per regime."""

    name: str
    by_regime: Mapping[str, Constraints]

    def __post_init__(self) -> None:
        missing = [r for r in REGIMES if r not in self.by_regime]
        if missing:
            raise PolicyError(f"seed portfolio_policies, policy {self.name!r}: no row for regime {', '.join(missing)} (one per regime is required)")

    def for_regime(self, regime: str) -> Constraints:
        if regime == UNKNOWN_REGIME:
            return self.by_regime[FALLBACK_REGIME]
        if regime not in self.by_regime:
            raise PolicyError(f"regime {regime!r}: expected one of {', '.join((*REGIMES, UNKNOWN_REGIME))}")
        return self.by_regime[regime]


@dataclass(frozen=True)
class Consensus:
    """The agents' consensus for one symbol at T: the int_agent_consensus_1h row with score_time = T."""

    score: float | None  # None: no agent with a proven edge had a view (recommendation 'abstain')
    confidence: float
    is_disputed: bool
    recommendation: str

    @property
    def status(self) -> str:
        return "abstained" if self.score is None else "present"

    def describe(self) -> str:
        if self.score is None:
            return "consensus abstained (no agent with a proven edge had a view)"
        disputed = "disputed" if self.is_disputed else "not disputed"
        return f"consensus {self.recommendation} {self.score:.4f} (confidence {self.confidence:.4f}, {disputed})"


def consensus_status(consensus: Consensus | None) -> str:
    """present, abstained, or missing (no consensus row at T)."""
    return "missing" if consensus is None else consensus.status


def describe_consensus(consensus: Consensus | None) -> str:
    return "consensus missing (no row at T)" if consensus is None else consensus.describe()


@dataclass(frozen=True)
class Override:
    """A trader's override of portfolio.overrides active at T."""

    override_id: int
    symbol: str
    action: str  # exclude | pin
    reason: str

    def describe(self) -> str:
        return f"override #{self.override_id} ({self.reason})"


@dataclass(frozen=True)
class Candidate:
    symbol: str
    composite_score: float | None
    is_eligible: bool  # the score row's eligibility (False without a score row at T)
    is_listed: bool  # the symbol master lists it at T
    turnover_24h_quote: float | None
    listing_age_hours: float | None
    sector: str
    volatility: float | None  # realized volatility of the hour ending at T, for inverse-vol weights
    consensus: Consensus | None  # None: int_agent_consensus_1h has no row for it at T

    @property
    def scored(self) -> bool:
        return self.is_eligible and self.composite_score is not None


@dataclass(frozen=True)
class Check:
    """One constraint measured for one symbol (the screening audit)."""

    symbol: str
    rule: str
    measured: float | None
    limit: float | None  # None: the rule was relaxed at this evaluation (or has no numeric limit)
    passed: bool
    detail: str


@dataclass(frozen=True)
class Streak:
    symbol: str
    streak: int
    composite_score: float
    weakest_symbol: str
    weakest_score: float
    blocked_by: str | None = None  # the consensus gate that kept a due challenger out (None: not due, or not tried)
    blocked_detail: str | None = None


@dataclass(frozen=True)
class Decision:
    symbol: str
    action: str  # add | remove | hold
    reason: str
    composite_score: float | None
    score_rank: int | None
    details: dict[str, object] = field(default_factory=dict)
    override_id: int | None = None  # the override that made the decision (an exclusion, a pin)


@dataclass(frozen=True)
class Holding:
    symbol: str
    weight: Decimal
    composite_score: float


@dataclass(frozen=True)
class Selection:
    holdings: list[Holding]  # in composite order
    decisions: list[Decision]
    audit: list[Check]
    streaks: list[Streak]  # challengers with a running streak (> 0) after this evaluation
    relaxed: list[str]  # rules dropped, in RELAXATION_ORDER, then the rules in force a pinned holding breaks
    weighting: str  # the weighting applied (the policy's, or 'equal' when it fell back)
    weighting_note: str | None


@dataclass(frozen=True)
class _Limits:
    """The constraints in force at one relaxation level (None: relaxed)."""

    sector_cap: int | None
    max_pairwise_correlation: float | None
    min_turnover_24h_quote: float | None
    min_listing_age_hours: float | None

    def relax(self, rule: str) -> _Limits:
        return replace(self, **{rule: None})


class Correlations:
    """Pairwise correlations known at T, by unordered pair; None: not measured."""

    def __init__(self, values: Mapping[tuple[str, str], float | None]) -> None:
        self._values = {tuple(sorted(pair)): value for pair, value in values.items()}

    def of(self, a: str, b: str) -> float | None:
        return self._values.get(tuple(sorted((a, b))))  # type: ignore[call-overload]


def select(
    candidates: Sequence[Candidate],
    correlations: Correlations,
    previous: Sequence[str],
    previous_streaks: Mapping[str, int],
    constraints: Constraints,
    overrides: Sequence[Override] = (),
) -> Selection:
    by_symbol = {c.symbol: c for c in candidates}
    missing = [s for s in previous if s not in by_symbol]
    if missing:
        raise SelectionError(f"previous holdings {', '.join(missing)} are not among the candidates: every holding must be considered")
    ranked = sorted((c for c in candidates if c.scored), key=_order)
    if len(ranked) < PORTFOLIO_SIZE:
        raise SelectionError(
            f"only {len(ranked)} of {len(candidates)} symbols have an eligible composite score; {PORTFOLIO_SIZE} are needed to form the portfolio"
        )
    rank = {c.symbol: i + 1 for i, c in enumerate(ranked)}
    active = _resolve(overrides, by_symbol)
    limits = _Limits(
        constraints.sector_cap, constraints.max_pairwise_correlation, constraints.min_turnover_24h_quote, constraints.min_listing_age_hours
    )
    relaxed: list[str] = []
    for rule in (None, *RELAXATION_ORDER):
        if rule is not None:
            limits = limits.relax(rule)
            relaxed.append(rule)
        step = _Step(by_symbol, ranked, rank, correlations, limits, constraints, active)
        members = step.run(list(previous), previous_streaks)
        if members is not None:
            break
    else:
        raise SelectionError(
            f"only {len(step.pool) + len(active.pinned)} listed symbols have an eligible composite score and are not excluded "
            f"with every constraint relaxed; {PORTFOLIO_SIZE} are needed"
        )
    for_pins = step.pin_breaks(members)  # rules still in force: disjoint from the relaxed ones
    weights, weighting, note = _weights([by_symbol[s] for s in members], constraints.weighting)
    holdings = [Holding(s, w, float(by_symbol[s].composite_score)) for s, w in zip(members, weights, strict=True)]  # type: ignore[arg-type]
    decisions = step.decisions(list(previous), members, relaxed, for_pins)
    audit = [step.relaxed_for_pin(check) for c in candidates for check in _audit(c, members, by_symbol, correlations, limits)]
    audit += active.audit(by_symbol)
    return Selection(holdings, decisions, audit, step.streaks, [*relaxed, *for_pins], weighting, note)


def _order(c: Candidate) -> tuple[float, str]:
    return (-(c.composite_score if c.composite_score is not None else -math.inf), c.symbol)


@dataclass(frozen=True)
class _Overrides:
    """The overrides in force at T, resolved: exclude wins over pin; a pin needs a listed, scored symbol."""

    excluded: Mapping[str, Override]
    pinned: Mapping[str, Override]  # honoured pins
    unhonoured: Mapping[str, tuple[Override, str]]  # pins not honoured, and why

    def of(self, symbol: str) -> Override | None:
        return self.excluded.get(symbol) or self.pinned.get(symbol)

    def audit(self, by_symbol: Mapping[str, Candidate]) -> list[Check]:
        """One 'override' screening row per symbol considered with an override in force."""
        checks = []
        for symbol in sorted(by_symbol):
            if symbol in self.excluded:
                pin = self.unhonoured.get(symbol)
                extra = f"; pin {pin[0].describe()} overridden (exclude wins)" if pin else ""
                checks.append(Check(symbol, "override", None, None, False, f"excluded by {self.excluded[symbol].describe()}{extra}"))
            elif symbol in self.pinned:
                checks.append(Check(symbol, "override", None, None, True, f"pinned by {self.pinned[symbol].describe()}: held whatever its rank"))
            elif symbol in self.unhonoured:
                pin, why = self.unhonoured[symbol]
                checks.append(Check(symbol, "override", None, None, True, f"pin {pin.describe()} not honoured: {why}"))
        return checks


def _resolve(overrides: Sequence[Override], by_symbol: Mapping[str, Candidate]) -> _Overrides:
    excluded: dict[str, Override] = {}
    pins: dict[str, Override] = {}
    for o in sorted(overrides, key=lambda o: o.override_id):  # several of one kind: the oldest is named
        if o.action not in ("exclude", "pin"):
            raise SelectionError(f"override #{o.override_id}: action {o.action!r} must be exclude or pin")
        (excluded if o.action == "exclude" else pins).setdefault(o.symbol, o)
    pinned: dict[str, Override] = {}
    unhonoured: dict[str, tuple[Override, str]] = {}
    for symbol, pin in pins.items():
        c = by_symbol.get(symbol)
        if symbol in excluded:
            unhonoured[symbol] = (pin, f"{excluded[symbol].describe()} excludes it (exclude wins)")
        elif c is None or not c.scored:
            unhonoured[symbol] = (pin, "no eligible composite score at T")
        elif not c.is_listed:
            unhonoured[symbol] = (pin, "not listed at T")
        else:
            pinned[symbol] = pin
    if len(pinned) > PORTFOLIO_SIZE:
        raise SelectionError(
            f"{len(pinned)} listed, scored symbols are pinned ({', '.join(f'{s} #{o.override_id}' for s, o in sorted(pinned.items()))}): "
            f"at most {PORTFOLIO_SIZE} can be held; end some of the pins"
        )
    return _Overrides(excluded, pinned, unhonoured)


class _Step:
    """One attempt at the evaluation with the limits of one relaxation level."""

    def __init__(
        self, by_symbol: Mapping[str, Candidate], ranked: list[Candidate], rank: Mapping[str, int], correlations: Correlations,
        limits: _Limits, constraints: Constraints, overrides: _Overrides,
    ) -> None:
        self.by_symbol, self.rank, self.correlations, self.limits, self.constraints = by_symbol, rank, correlations, limits, constraints
        self.overrides = overrides
        self.pool = [c for c in ranked if c.symbol not in overrides.excluded and c.symbol not in overrides.pinned and not _screen_failures(c, limits)]
        self.removed: dict[str, tuple[str, dict[str, object]]] = {}
        self.added: dict[str, tuple[str, dict[str, object]]] = {}
        self.streaks: list[Streak] = []
        self.broken: dict[str, list[str]] = {}  # pinned holding -> the rules in force it breaks

    def run(self, previous: list[str], previous_streaks: Mapping[str, int]) -> list[str] | None:
        members = sorted(self.overrides.pinned, key=lambda s: _order(self.by_symbol[s]))
        for symbol in members:
            self.added[symbol] = (f"pinned by {self.overrides.pinned[symbol].describe()}: held whatever its rank ({self._ranked(symbol)})", {"rule": "pin"})
        for symbol in sorted(previous, key=lambda s: _order(self.by_symbol[s])):
            if symbol in self.overrides.pinned:
                continue
            failure = (
                self._exclusion(symbol) or _screen_failures(self.by_symbol[symbol], self.limits)
                or _fit_failures(symbol, members, self.by_symbol, self.correlations, self.limits)
            )
            if failure:
                self.removed[symbol] = (f"removed: {failure[0].detail}", {"rule": failure[0].rule, "measured": failure[0].measured, "limit": failure[0].limit})
            elif len(members) == PORTFOLIO_SIZE:
                pins = sorted(self.overrides.pinned)
                self.removed[symbol] = (
                    f"removed: no slot left: {len(pins)} pinned symbols ({', '.join(pins)}) and the stronger holdings take the ten",
                    {"rule": "pin", "pinned": pins},
                )
            else:
                members.append(symbol)
        freed = sorted(self.removed)
        for c in self.pool:
            if len(members) == PORTFOLIO_SIZE:
                break
            if c.symbol in members or c.symbol in self.removed:
                continue
            if not _fit_failures(c.symbol, members, self.by_symbol, self.correlations, self.limits):
                members.append(c.symbol)
                why = "initial selection" if not previous else "best feasible candidate filling a slot freed by " + ", ".join(freed)
                self.added[c.symbol] = (f"{why}: {self._ranked(c.symbol)}, passes every constraint in force", {"replaces": freed})
        if len(members) < PORTFOLIO_SIZE:
            return None
        if previous and len(self.overrides.pinned) < PORTFOLIO_SIZE:
            members = self._challenge(members, previous_streaks)
        return sorted(members, key=lambda s: _order(self.by_symbol[s]))

    def _ranked(self, symbol: str) -> str:
        return f"rank {self.rank[symbol]} of {len(self.rank)} (composite {self._score(symbol):.4f})"

    def _exclusion(self, symbol: str) -> list[Check]:
        o = self.overrides.excluded.get(symbol)
        return [Check(symbol, "override", None, None, False, f"excluded by {o.describe()}")] if o else []

    def _challenge(self, members: list[str], previous_streaks: Mapping[str, int]) -> list[str]:
        margin = self.constraints.challenger_margin
        weakest = self._weakest(members)
        weakest_score = self._score(weakest)
        counts: dict[str, int] = {}
        for c in self.pool:
            if c.symbol not in members and self._score(c.symbol) - weakest_score >= margin:
                counts[c.symbol] = previous_streaks.get(c.symbol, 0) + 1
        blocked: dict[str, tuple[str, str]] = {}
        for symbol, count in sorted(counts.items(), key=lambda kv: _order(self.by_symbol[kv[0]])):
            target = self._weakest(members)
            needed, why_needed = self._needed(target)
            gap = self._score(symbol) - self._score(target)
            others = [m for m in members if m != target]
            if count < needed or gap < margin or _fit_failures(symbol, others, self.by_symbol, self.correlations, self.limits):
                continue
            numbers = (
                f"composite {self._score(symbol):.4f} beat the weakest holding {target} ({self._score(target):.4f}) by {gap:.4f} >= margin {margin} "
                f"for {count} consecutive evaluations (K = {needed}{why_needed})"
            )
            gate, verdict = self._gate(symbol)
            if gate is not None:
                blocked[symbol] = (gate, f"due to replace {target}: its {numbers}; not swapped in: {verdict}")
                continue
            details: dict[str, object] = {
                "rule": "challenger", "gap": gap, "margin": margin, "streak": count, "needed": needed, "consensus_gate": verdict,
            }
            self.removed[target] = (f"replaced by challenger {symbol}: its {numbers}; {verdict}", {**details, "replaced_by": symbol})
            self.added[symbol] = (f"challenger at rank {self.rank[symbol]} of {len(self.rank)}: {numbers}; {verdict}", {**details, "replaces": [target]})
            members = [*others, symbol]
        self.streaks = [
            Streak(s, n, self._score(s), weakest, weakest_score, *blocked.get(s, (None, None)))
            for s, n in sorted(counts.items()) if s not in members
        ]
        return members

    def _needed(self, target: str) -> tuple[int, str]:
        """K against this holding: fewer evaluations when its own consensus is an undisputed sell (policy)."""
        k, if_sell = self.constraints.challenger_evaluations, self.constraints.challenger_evaluations_if_sell
        c = self.by_symbol[target].consensus
        if if_sell < k and c is not None and c.score is not None and c.recommendation == SELL and not c.is_disputed:
            return if_sell, f", not {k}: {target}'s own {c.describe()}"
        return k, ""

    def _gate(self, symbol: str) -> tuple[str | None, str]:
        """The consensus gate of a due challenger: (None, why it passed) or (the blocking rule, why)."""
        k, c = self.constraints, self.by_symbol[symbol].consensus
        if c is None or c.score is None:
            rule = f"challenger_without_consensus = {k.challenger_without_consensus}"
            if k.challenger_without_consensus == "allow":
                return None, f"{describe_consensus(c)}, allowed by {rule} (the margin and streak decide)"
            return f"consensus_{consensus_status(c)}", f"{describe_consensus(c)}, blocked by {rule}"
        if c.is_disputed:
            return "consensus_disputed", f"{c.describe()}: a disputed consensus blocks a replacement"
        if c.score < k.challenger_min_consensus_score:
            return "consensus_score", f"{c.describe()}: score below challenger_min_consensus_score {k.challenger_min_consensus_score}"
        if c.confidence < k.challenger_min_consensus_confidence:
            return "consensus_confidence", f"{c.describe()}: confidence below challenger_min_consensus_confidence {k.challenger_min_consensus_confidence}"
        return None, (
            f"{c.describe()} supports it (score >= {k.challenger_min_consensus_score}, confidence >= {k.challenger_min_consensus_confidence})"
        )

    def pin_breaks(self, members: list[str]) -> list[str]:
        """The rules in force the pinned holdings break (the pin wins), in RELAXATION_ORDER."""
        for symbol in self.overrides.pinned:
            checks = [*_screen(self.by_symbol[symbol], self.limits), *_fit(symbol, members, self.by_symbol, self.correlations, self.limits)]
            rules = [c.rule for c in checks if not c.passed]
            if rules:
                self.broken[symbol] = rules
        return [r for r in RELAXATION_ORDER if any(r in rules for rules in self.broken.values())]

    def decisions(self, previous: list[str], members: list[str], relaxed: list[str], for_pins: list[str]) -> list[Decision]:
        note = (f"; constraints relaxed: {', '.join(relaxed)}" if relaxed else "") + (f"; relaxed for pins: {', '.join(for_pins)}" if for_pins else "")
        extra: dict[str, object] = {"relaxed": relaxed} if relaxed else {}
        if for_pins:
            extra["relaxed_for_pins"] = for_pins
        out = []
        for symbol in previous:
            c = self.by_symbol[symbol]
            override = self.overrides.of(symbol)
            if symbol in members:
                if symbol in self.overrides.pinned:
                    why = f"held: pinned by {self.overrides.pinned[symbol].describe()} ({self._ranked(symbol)}){self._pin_wins(symbol)}"
                else:
                    why = f"held: {self._ranked(symbol)}, passes every constraint in force"
                out.append(Decision(symbol, "hold", why + note, c.composite_score, self.rank[symbol], extra, override.override_id if override else None))
            else:
                why, details = self.removed[symbol]
                excluded = self.overrides.excluded.get(symbol)
                out.append(Decision(
                    symbol, "remove", why + note, c.composite_score, self.rank.get(symbol), {**details, **extra},
                    excluded.override_id if excluded else None,
                ))
        for symbol in members:
            if symbol not in previous:
                why, details = self.added[symbol]
                pin = self.overrides.pinned.get(symbol)
                out.append(Decision(
                    symbol, "add", why + self._pin_wins(symbol) + note, self._score(symbol), self.rank[symbol], {**details, **extra},
                    pin.override_id if pin else None,
                ))
        return out

    def relaxed_for_pin(self, check: Check) -> Check:
        """A rule a pinned holding breaks is relaxed for it: audited as relaxed (no limit), as the search's relaxations are."""
        if check.rule not in self.broken.get(check.symbol, ()):
            return check
        pin = self.overrides.pinned[check.symbol]
        return replace(check, limit=None, passed=True, detail=f"{check.detail} (the pin of {pin.describe()} wins: relaxed for it)")

    def _pin_wins(self, symbol: str) -> str:
        rules = self.broken.get(symbol)
        return f"; the pin wins over {', '.join(rules)} (recorded as relaxations)" if rules else ""

    def _weakest(self, members: list[str]) -> str:
        """The weakest holding a challenger may replace (a pinned one is not replaceable)."""
        return max((m for m in members if m not in self.overrides.pinned), key=lambda s: _order(self.by_symbol[s]))

    def _score(self, symbol: str) -> float:
        score = self.by_symbol[symbol].composite_score
        assert score is not None  # only screened-in symbols reach here
        return score


def _screen_failures(c: Candidate, limits: _Limits) -> list[Check]:
    return [check for check in _screen(c, limits) if not check.passed]


def _screen(c: Candidate, limits: _Limits) -> list[Check]:
    checks = [
        Check(c.symbol, "eligible", c.composite_score, None, c.scored,
              "eligible composite score at T" if c.scored else "no eligible composite score at T"),
        Check(c.symbol, "listed", None, None, c.is_listed, "listed at T" if c.is_listed else "not listed at T (delisted, or no symbol master row valid at T)"),
    ]
    for rule, measured, limit, unit in (
        ("min_turnover_24h_quote", c.turnover_24h_quote, limits.min_turnover_24h_quote, "24h quote turnover"),
        ("min_listing_age_hours", c.listing_age_hours, limits.min_listing_age_hours, "listing age (hours)"),
    ):
        passed = limit is None or (measured is not None and measured >= limit)
        shown = "unknown" if measured is None else f"{measured:,.2f}"
        detail = f"{unit} {shown} (rule relaxed)" if limit is None else f"{rule}: {unit} {shown} {'>=' if passed else 'below'} {limit:,.2f}"
        checks.append(Check(c.symbol, rule, measured, limit, passed, detail))
    return checks


def _fit(symbol: str, others: Sequence[str], by_symbol: Mapping[str, Candidate], correlations: Correlations, limits: _Limits) -> list[Check]:
    """The portfolio constraints for ``symbol`` beside ``others`` (measured over them)."""
    sector = by_symbol[symbol].sector
    same = [o for o in others if o != symbol and sector != UNKNOWN_SECTOR and by_symbol[o].sector == sector]
    count = len(same) + 1
    cap = limits.sector_cap
    sector_ok = cap is None or count <= cap
    sector_detail = (
        f"sector_cap: {count} holdings in sector {sector} ({', '.join(sorted([*same, symbol]))}) "
        + ("(rule relaxed)" if cap is None else f"{'<=' if sector_ok else 'exceeds'} cap {cap}")
    )
    measured = [(rho, o) for o in others if o != symbol and (rho := correlations.of(symbol, o)) is not None]
    top, partner = max(measured) if measured else (None, None)
    limit = limits.max_pairwise_correlation
    corr_ok = limit is None or top is None or top <= limit
    corr_detail = (
        "max_pairwise_correlation: no measured correlation with the other holdings"
        if top is None
        else f"max_pairwise_correlation: correlation {top:.4f} with {partner} "
        + ("(rule relaxed)" if limit is None else f"{'<=' if corr_ok else 'exceeds'} {limit}")
    )
    return [
        Check(symbol, "sector_cap", float(count), None if cap is None else float(cap), sector_ok, sector_detail),
        Check(symbol, "max_pairwise_correlation", top, limit, corr_ok, corr_detail),
    ]


def _fit_failures(symbol: str, others: Sequence[str], by_symbol: Mapping[str, Candidate], correlations: Correlations, limits: _Limits) -> list[Check]:
    return [check for check in _fit(symbol, others, by_symbol, correlations, limits) if not check.passed]


def _audit(c: Candidate, members: list[str], by_symbol: Mapping[str, Candidate], correlations: Correlations, limits: _Limits) -> list[Check]:
    """Every constraint for one symbol considered, the portfolio ones measured against the final holdings."""
    return [*_screen(c, limits), *_fit(c.symbol, members, by_symbol, correlations, limits)]


def _weights(members: list[Candidate], weighting: str) -> tuple[list[Decimal], str, str | None]:
    raw: list[float]
    note = None
    if weighting == "inverse_vol":
        bad = [c.symbol for c in members if c.volatility is None or not c.volatility > 0 or not math.isfinite(c.volatility)]
        raw = [1 / c.volatility for c in members] if not bad else []  # type: ignore[operator]
        note = f"inverse_vol undefined: no positive realized volatility for {', '.join(bad)}; equal weights used" if bad else None
    elif weighting == "score":
        bad = [c.symbol for c in members if c.composite_score is None or not c.composite_score > 0]
        raw = [float(c.composite_score) for c in members] if not bad else []  # type: ignore[arg-type]
        note = f"score weights undefined: non-positive composite score for {', '.join(bad)}; equal weights used" if bad else None
    else:
        raw = []
    if not raw:
        return normalise([1.0] * len(members)), "equal", note
    return normalise(raw), weighting, None


def normalise(raw: Sequence[float]) -> list[Decimal]:
    """Positive raw weights -> weights of WEIGHT_QUANTUM units summing to exactly 1.

    Each weight is raw / sum(raw) rounded half-even to 1e-18 (exact decimal arithmetic on the
    floats' exact values); the rounding residual (at most n/2 units) goes to the largest weight.
    """
    exact = [Decimal(r) for r in raw]
    if not exact or any(not r > 0 for r in exact):
        raise SelectionError(f"weights need positive raw values, got {list(raw)}")
    total = sum(exact)
    weights = [(r / total).quantize(WEIGHT_QUANTUM, rounding=ROUND_HALF_EVEN) for r in exact]
    largest = max(range(len(weights)), key=lambda i: (weights[i], -i))
    weights[largest] += Decimal(1) - sum(weights)
    if any(not w > 0 for w in weights):
        raise SelectionError(f"a weight rounds to 0 at {WEIGHT_QUANTUM}: raw weights {list(raw)}")
    return weights
