"""Constrained selection: screening, greedy formation, removals with the rule and numbers,
challenger streaks, recorded relaxations, weights summing to exactly 1, policy validation."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from orchestration.portfolio.selection import (
    WEIGHT_QUANTUM,
    Candidate,
    Consensus,
    Constraints,
    Correlations,
    Override,
    Policy,
    PolicyError,
    Selection,
    SelectionError,
    normalise,
    select,
)

LOOSE = Constraints("test", "neutral", 10, 1.0, 0.0, 0.0, 0.05, 2, "equal", 0.1, 0.2, "block", 2)
SUPPORTS = Consensus(0.5, 0.5, False, "buy")
NO_CORRELATIONS = Correlations({})


def universe(n: int = 16, sectors: int = 8) -> list[Candidate]:
    """S00 best (score 1 - i/100), sectors round-robin, liquid, a month old, volatility 0.01 (i + 1), a supporting consensus."""
    return [
        Candidate(f"S{i:02d}", 1 - i / 100, True, True, 5e6, 720.0, f"sector{i % sectors}", 0.01 * (i + 1), SUPPORTS) for i in range(n)
    ]


def held(result: Selection) -> list[str]:
    return [h.symbol for h in result.holdings]


def by_symbol(result: Selection) -> dict[str, str]:
    return {d.symbol: f"{d.action}: {d.reason}" for d in result.decisions}


def audit(result: Selection, symbol: str, rule: str) -> tuple[float | None, float | None, bool]:
    (check,) = [c for c in result.audit if c.symbol == symbol and c.rule == rule]
    return check.measured, check.limit, check.passed


def test_initial_formation_takes_the_ten_best_when_nothing_binds() -> None:
    result = select(universe(), NO_CORRELATIONS, [], {}, LOOSE)
    assert held(result) == [f"S{i:02d}" for i in range(10)]
    assert sum(h.weight for h in result.holdings) == 1 and {h.weight for h in result.holdings} == {Decimal("0.1")}
    assert all(d.action == "add" and "initial selection: rank" in d.reason for d in result.decisions)
    assert result.relaxed == [] and result.weighting == "equal"
    assert {c.rule for c in result.audit} == {
        "eligible", "listed", "min_turnover_24h_quote", "min_listing_age_hours", "sector_cap", "max_pairwise_correlation"
    }
    assert len(result.audit) == 16 * 6


def test_sector_cap_skips_the_symbols_over_the_cap() -> None:
    # sectors of two: S00..S07 in sector0/sector1 alternately; cap 3 leaves S06, S07 out
    result = select(universe(sectors=2)[:8] + universe()[8:], NO_CORRELATIONS, [], {}, replace(LOOSE, sector_cap=3))
    assert held(result)[:6] == ["S00", "S01", "S02", "S03", "S04", "S05"] and "S06" not in held(result)
    assert audit(result, "S06", "sector_cap") == (4.0, 3.0, False)  # it would be the fourth of sector0
    assert audit(result, "S00", "sector_cap") == (3.0, 3.0, True)


def test_correlated_pair_keeps_the_better_symbol_and_records_the_value() -> None:
    correlations = Correlations({("S01", "S00"): 0.95, ("S00", "S02"): 0.90, ("S02", "S03"): None})
    result = select(universe(), correlations, [], {}, replace(LOOSE, max_pairwise_correlation=0.9))
    assert "S01" not in held(result) and {"S00", "S02", "S03", "S10"} <= set(held(result))  # 0.90 is at the limit: passes
    assert audit(result, "S01", "max_pairwise_correlation") == (0.95, 0.9, False)
    assert audit(result, "S03", "max_pairwise_correlation") == (None, 0.9, True)  # unmeasured pair passes


def test_screening_excludes_and_audits_each_rule_with_its_numbers() -> None:
    symbols = universe()
    symbols[0] = replace(symbols[0], turnover_24h_quote=9e5)
    symbols[1] = replace(symbols[1], listing_age_hours=10.0)
    symbols[2] = replace(symbols[2], is_listed=False)
    symbols[3] = replace(symbols[3], is_eligible=False)
    symbols[4] = replace(symbols[4], turnover_24h_quote=None)
    rules = replace(LOOSE, min_turnover_24h_quote=1e6, min_listing_age_hours=168.0)
    result = select(symbols, NO_CORRELATIONS, [], {}, rules)
    assert held(result) == [f"S{i:02d}" for i in range(5, 15)]
    assert audit(result, "S00", "min_turnover_24h_quote") == (9e5, 1e6, False)
    assert audit(result, "S01", "min_listing_age_hours") == (10.0, 168.0, False)
    assert audit(result, "S02", "listed")[2] is False and audit(result, "S03", "eligible")[2] is False
    assert audit(result, "S04", "min_turnover_24h_quote") == (None, 1e6, False)  # unknown turnover fails


def test_a_holding_that_fails_a_hard_constraint_is_removed_and_replaced_by_the_best_feasible() -> None:
    previous = [f"S{i:02d}" for i in range(10)]
    symbols = universe()
    symbols[3] = replace(symbols[3], turnover_24h_quote=5e5)
    symbols[4] = replace(symbols[4], is_eligible=False)
    result = select(symbols, NO_CORRELATIONS, previous, {}, replace(LOOSE, min_turnover_24h_quote=1e6))
    decisions = by_symbol(result)
    assert "remove: removed: min_turnover_24h_quote: 24h quote turnover 500,000.00 below 1,000,000.00" in decisions["S03"]
    assert "no eligible composite score" in decisions["S04"]
    assert decisions["S10"].startswith("add: best feasible candidate filling a slot freed by S03, S04: rank")
    assert set(held(result)) == set(previous) - {"S03", "S04"} | {"S10", "S11"}


def test_a_tighter_regime_removes_the_weaker_holding_of_an_over_cap_sector() -> None:
    previous = [f"S{i:02d}" for i in range(10)]  # five sectors round robin, two holdings each ...
    symbols = universe(sectors=5)
    symbols[8] = replace(symbols[8], sector="sector0")  # ... but S08 moved to sector0 (S00, S05)
    result = select(symbols, NO_CORRELATIONS, previous, {}, replace(LOOSE, sector_cap=2))
    decisions = by_symbol(result)
    assert decisions["S08"].startswith("remove: removed: sector_cap: 3 holdings in sector sector0 (S00, S05, S08) exceeds cap 2")
    assert decisions["S00"].startswith("hold") and decisions["S05"].startswith("hold")
    assert "S13" in held(result) and result.relaxed == []  # S10, S11, S12 would be the third of their sectors


def test_a_challenger_replaces_the_weakest_only_after_k_consecutive_wins_and_a_broken_streak_resets() -> None:
    previous = [f"S{i:02d}" for i in range(10)]  # weakest S09 at 0.91
    rules = replace(LOOSE, challenger_margin=0.05, challenger_evaluations=3)
    symbols = universe()
    strong = replace(symbols[12], composite_score=0.97)  # beats S09 by 0.06 >= 0.05
    symbols[12] = strong
    first = select(symbols, NO_CORRELATIONS, previous, {}, rules)
    assert held(first) == previous and [(s.symbol, s.streak, s.weakest_symbol) for s in first.streaks] == [("S12", 1, "S09")]
    second = select(symbols, NO_CORRELATIONS, previous, {"S12": 1}, rules)
    assert held(second) == previous and second.streaks[0].streak == 2
    weak = list(symbols)
    weak[12] = replace(strong, composite_score=0.95)  # beats by 0.04 < 0.05: the streak breaks
    broken = select(weak, NO_CORRELATIONS, previous, {"S12": 2}, rules)
    assert broken.streaks == [] and held(broken) == previous
    third = select(symbols, NO_CORRELATIONS, previous, {"S12": 2}, rules)
    decisions = by_symbol(third)
    assert "S12" in held(third) and "S09" not in held(third) and third.streaks == []
    assert "replaced by challenger S12" in decisions["S09"] and "by 0.0600 >= margin 0.05 for 3 consecutive evaluations (K = 3)" in decisions["S09"]
    assert decisions["S12"].startswith("add: challenger at rank")


def test_constraints_that_cannot_give_ten_are_relaxed_in_order_and_recorded() -> None:
    symbols = universe(n=12, sectors=2)  # twelve symbols in two sectors, a cap of 3 allows six
    result = select(symbols, NO_CORRELATIONS, [], {}, replace(LOOSE, sector_cap=3))
    assert result.relaxed == ["max_pairwise_correlation", "sector_cap"]
    assert held(result) == [f"S{i:02d}" for i in range(10)]
    assert all("constraints relaxed: max_pairwise_correlation, sector_cap" in d.reason for d in result.decisions)
    assert audit(result, "S00", "sector_cap") == (5.0, None, True)  # limit null: relaxed


def test_fewer_than_ten_eligible_symbols_is_an_error() -> None:
    symbols = [replace(c, is_eligible=False) if i < 3 else c for i, c in enumerate(universe(12))]
    with pytest.raises(SelectionError, match="only 9 of 12 symbols"):
        select(symbols, NO_CORRELATIONS, [], {}, LOOSE)


def test_inverse_volatility_and_score_weights_sum_to_exactly_one() -> None:
    inverse = select(universe(), NO_CORRELATIONS, [], {}, replace(LOOSE, weighting="inverse_vol"))
    raw = [1 / (0.01 * (i + 1)) for i in range(10)]
    assert inverse.weighting == "inverse_vol" and sum(h.weight for h in inverse.holdings) == 1
    for h, r in zip(inverse.holdings, raw, strict=True):
        assert abs(float(h.weight) - r / sum(raw)) <= 1e-15 and h.weight == h.weight.quantize(WEIGHT_QUANTUM)
    scored = select(universe(), NO_CORRELATIONS, [], {}, replace(LOOSE, weighting="score"))
    scores = [1 - i / 100 for i in range(10)]
    assert [round(float(h.weight), 15) for h in scored.holdings] == [round(s / sum(scores), 15) for s in scores]
    assert sum(h.weight for h in scored.holdings) == 1


def test_undefined_weighting_falls_back_to_equal_and_says_why() -> None:
    symbols = universe()
    symbols[2] = replace(symbols[2], volatility=None)
    result = select(symbols, NO_CORRELATIONS, [], {}, replace(LOOSE, weighting="inverse_vol"))
    assert result.weighting == "equal" and result.weighting_note is not None and "S02" in result.weighting_note


def test_normalise_puts_the_rounding_residual_on_the_largest_weight() -> None:
    weights = normalise([1.0, 1.0, 1.0])
    assert sum(weights) == 1 and weights[0] == Decimal("0.333333333333333334")
    with pytest.raises(SelectionError, match="positive"):
        normalise([1.0, 0.0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sector_cap": 0}, "regime 'neutral': sector_cap=0 must be an integer in"),
        ({"max_pairwise_correlation": 1.5}, "max_pairwise_correlation=1.5 must be in"),
        ({"min_turnover_24h_quote": -1.0}, "min_turnover_24h_quote=-1.0 must be finite and >= 0"),
        ({"challenger_evaluations": 0}, "challenger_evaluations=0 must be an integer >= 1"),
        ({"weighting": "cap"}, "weighting='cap' must be one of equal, inverse_vol, score"),
        ({"regime": "bull"}, "regime 'bull': regime='bull' must be one of"),
        ({"challenger_min_consensus_score": 1.5}, "challenger_min_consensus_score=1.5 must be in [-1, 1]"),
        ({"challenger_min_consensus_confidence": -0.1}, "challenger_min_consensus_confidence=-0.1 must be in [0, 1]"),
        ({"challenger_without_consensus": "zero"}, "challenger_without_consensus='zero' must be one of block, allow"),
        ({"challenger_evaluations_if_sell": 3}, "challenger_evaluations_if_sell=3 must be an integer in [1, challenger_evaluations = 2]"),
    ],
)
def test_a_bad_policy_row_names_the_seed_policy_regime_and_rule(change: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match="seed portfolio_policies, policy 'test'") as error:
        replace(LOOSE, **change)
    assert message in str(error.value)


def test_a_policy_needs_every_regime_and_unknown_uses_neutral() -> None:
    rows = {r: replace(LOOSE, regime=r) for r in ("risk_on", "neutral", "risk_off")}
    policy = Policy("test", rows)
    assert policy.for_regime("unknown") is rows["neutral"]
    with pytest.raises(PolicyError, match="no row for regime risk_off"):
        Policy("test", {r: rows[r] for r in ("risk_on", "neutral")})
    assert len(LOOSE.parameters_hash()) == 32 and LOOSE.parameters_hash() != replace(LOOSE, sector_cap=3).parameters_hash()


# --- the consensus gate of a replacement -------------------------------------------------------

CHALLENGE = replace(LOOSE, challenger_margin=0.05, challenger_evaluations=3, challenger_evaluations_if_sell=2)
PREVIOUS = [f"S{i:02d}" for i in range(10)]  # weakest S09 at 0.91


def challenged(consensus: Consensus | None, weakest: Consensus = SUPPORTS, rules: Constraints = CHALLENGE, streak: int = 2) -> Selection:
    """S12 (0.97) beats S09 by 0.06 >= 0.05 for streak + 1 evaluations, with the consensus given."""
    symbols = universe()
    symbols[12] = replace(symbols[12], composite_score=0.97, consensus=consensus)
    symbols[9] = replace(symbols[9], consensus=weakest)
    return select(symbols, NO_CORRELATIONS, PREVIOUS, {"S12": streak}, rules)


@pytest.mark.parametrize(
    ("consensus", "blocked_by", "detail"),
    [
        (Consensus(0.6, 0.5, True, "buy"), "consensus_disputed", "consensus buy 0.6000 (confidence 0.5000, disputed): a disputed consensus blocks"),
        (Consensus(0.05, 0.5, False, "hold"), "consensus_score", "score below challenger_min_consensus_score 0.1"),
        (Consensus(0.6, 0.1, False, "buy"), "consensus_confidence", "confidence below challenger_min_consensus_confidence 0.2"),
        (None, "consensus_missing", "consensus missing (no row at T), blocked by challenger_without_consensus = block"),
        (Consensus(None, 0.0, False, "abstain"), "consensus_abstained", "consensus abstained (no agent with a proven edge had a view), blocked by"),
    ],
)
def test_a_due_challenger_without_a_supporting_consensus_is_not_swapped_in_and_keeps_its_streak(
    consensus: Consensus | None, blocked_by: str, detail: str
) -> None:
    result = challenged(consensus)
    assert held(result) == PREVIOUS
    [streak] = result.streaks
    assert (streak.symbol, streak.streak, streak.blocked_by) == ("S12", 3, blocked_by)
    assert streak.blocked_detail is not None and detail in streak.blocked_detail
    assert "due to replace S09: its composite 0.9700 beat the weakest holding S09 (0.9100) by 0.0600" in streak.blocked_detail
    # the next evaluation, the consensus supports it: swapped in at once (the streak was kept)
    later = challenged(SUPPORTS, streak=3)
    assert "S12" in held(later) and "S09" not in held(later) and later.streaks == []
    assert "consensus buy 0.5000 (confidence 0.5000, not disputed) supports it (score >= 0.1, confidence >= 0.2)" in by_symbol(later)["S12"]


def test_a_challenger_not_yet_due_has_no_block_and_an_absent_consensus_may_be_allowed() -> None:
    early = challenged(Consensus(0.6, 0.5, True, "buy"), streak=1)  # 2 of K = 3: not due, the gate is not asked
    assert [(s.streak, s.blocked_by) for s in early.streaks] == [(2, None)]
    allowed = challenged(None, rules=replace(CHALLENGE, challenger_without_consensus="allow"))
    assert "S12" in held(allowed)
    assert "consensus missing (no row at T), allowed by challenger_without_consensus = allow (the margin and streak decide)" in by_symbol(allowed)["S09"]


def test_the_weakest_holdings_undisputed_sell_consensus_speeds_its_removal() -> None:
    sell = Consensus(-0.5, 0.5, False, "sell")
    fast = challenged(SUPPORTS, weakest=sell, streak=1)  # 2 consecutive evaluations, K = 2 against a sell
    assert "S12" in held(fast) and "(K = 2, not 3: S09's own consensus sell -0.5000" in by_symbol(fast)["S09"]
    disputed = challenged(SUPPORTS, weakest=replace(sell, is_disputed=True), streak=1)
    assert held(disputed) == PREVIOUS and disputed.streaks[0].streak == 2


# --- trader overrides ----------------------------------------------------------------------------


def override(i: int, symbol: str, action: str) -> Override:
    return Override(i, symbol, action, f"desk note {i}")


def audit_detail(result: Selection, symbol: str) -> str:
    (check,) = [c for c in result.audit if c.symbol == symbol and c.rule == "override"]
    return f"{check.passed}: {check.detail}"


def test_an_excluded_symbol_is_removed_naming_the_override_and_never_fills_a_slot() -> None:
    overrides = [override(7, "S03", "exclude"), override(8, "S10", "exclude"), override(9, "S10", "pin")]
    result = select(universe(), NO_CORRELATIONS, PREVIOUS, {}, LOOSE, overrides)
    assert "S03" not in held(result) and "S10" not in held(result) and "S11" in held(result)
    [removal] = [d for d in result.decisions if d.symbol == "S03"]
    assert (removal.action, removal.override_id) == ("remove", 7) and removal.reason.startswith("removed: excluded by override #7 (desk note 7)")
    assert audit_detail(result, "S03") == "False: excluded by override #7 (desk note 7)"
    assert audit_detail(result, "S10") == "False: excluded by override #8 (desk note 8); pin override #9 (desk note 9) overridden (exclude wins)"


def test_a_pin_is_held_whatever_its_rank_and_is_never_the_weakest_a_challenger_replaces() -> None:
    symbols = universe()
    symbols[14] = replace(symbols[14], turnover_24h_quote=10.0)  # S14: rank 15, and too little turnover
    rules = replace(LOOSE, min_turnover_24h_quote=1e6)
    result = select(symbols, NO_CORRELATIONS, PREVIOUS, {}, rules, [override(3, "S14", "pin"), override(4, "S15", "pin")])
    assert held(result) == [*PREVIOUS[:8], "S14", "S15"]
    decisions = {d.symbol: d for d in result.decisions}
    assert decisions["S14"].override_id == 3 and decisions["S14"].reason.startswith("pinned by override #3 (desk note 3): held whatever its rank (rank 15 of 16")
    assert "the pin wins over min_turnover_24h_quote (recorded as relaxations)" in decisions["S14"].reason
    assert decisions["S09"].reason.startswith("removed: no slot left: 2 pinned symbols (S14, S15)")
    assert result.relaxed == ["min_turnover_24h_quote"] and audit(result, "S14", "min_turnover_24h_quote") == (10.0, None, True)  # relaxed for it
    # the next hour the pins are the weakest holdings by score: a challenger replaces S07, the weakest unpinned one
    symbols[10] = replace(symbols[10], composite_score=0.985)  # beats S07 (0.93) by 0.055, not S14 or S15 (0.86, 0.85): pinned
    again = select(symbols, NO_CORRELATIONS, held(result), {"S10": 1}, rules, [override(3, "S14", "pin"), override(4, "S15", "pin")])
    assert {"S14", "S15", "S10"} <= set(held(again)) and "S07" not in held(again)
    assert "replaced by challenger S10: its composite 0.9850 beat the weakest holding S07 (0.9300)" in by_symbol(again)["S07"]
    assert {d.symbol: d.action for d in again.decisions}["S14"] == "hold" and "held: pinned by override #3" in by_symbol(again)["S14"]


def test_a_pin_not_listed_or_not_scored_is_not_honoured() -> None:
    symbols = universe()
    symbols[12] = replace(symbols[12], is_listed=False)
    symbols[13] = replace(symbols[13], is_eligible=False)
    result = select(symbols, NO_CORRELATIONS, [], {}, LOOSE, [override(1, "S12", "pin"), override(2, "S13", "pin")])
    assert held(result) == PREVIOUS
    assert audit_detail(result, "S12") == "True: pin override #1 (desk note 1) not honoured: not listed at T"
    assert audit_detail(result, "S13") == "True: pin override #2 (desk note 2) not honoured: no eligible composite score at T"


def test_pins_over_the_sector_cap_win_as_a_recorded_relaxation_and_the_cap_still_binds_the_others() -> None:
    symbols = universe(sectors=4)  # sector0: S00, S04, S08, S12
    pins = [override(i, s, "pin") for i, s in enumerate(("S00", "S04", "S08", "S12"))]
    result = select(symbols, NO_CORRELATIONS, [], {}, replace(LOOSE, sector_cap=3), pins)
    assert result.relaxed == ["sector_cap"]  # only for the pins: no other sector has more than three
    assert sorted(held(result)) == sorted(["S00", "S04", "S08", "S12", "S01", "S02", "S03", "S05", "S06", "S07"])
    assert all("the pin wins over sector_cap" in d.reason and "relaxed for pins: sector_cap" in d.reason for d in result.decisions if d.override_id is not None)
    assert audit(result, "S12", "sector_cap") == (4.0, None, True)
    [check] = [c for c in result.audit if c.symbol == "S12" and c.rule == "sector_cap"]
    assert check.detail.endswith("exceeds cap 3 (the pin of override #3 (desk note 3) wins: relaxed for it)")
    with pytest.raises(SelectionError, match="11 listed, scored symbols are pinned .* at most 10 can be held"):
        select(universe(), NO_CORRELATIONS, [], {}, LOOSE, [override(i, f"S{i:02d}", "pin") for i in range(11)])
