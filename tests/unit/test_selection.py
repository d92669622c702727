"""Constrained selection: screening, greedy formation, removals with the rule and numbers,
challenger streaks, recorded relaxations, weights summing to exactly 1, policy validation."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from orchestration.portfolio.selection import (
    WEIGHT_QUANTUM,
    Candidate,
    Constraints,
    Correlations,
    Policy,
    PolicyError,
    Selection,
    SelectionError,
    normalise,
    select,
)

LOOSE = Constraints("test", "neutral", 10, 1.0, 0.0, 0.0, 0.05, 2, "equal")
NO_CORRELATIONS = Correlations({})


def universe(n: int = 16, sectors: int = 8) -> list[Candidate]:
    """S00 best (score 1 - i/100), sectors round-robin, liquid, a month old, volatility 0.01 (i + 1)."""
    return [
        Candidate(f"S{i:02d}", 1 - i / 100, True, True, 5e6, 720.0, f"sector{i % sectors}", 0.01 * (i + 1)) for i in range(n)
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
