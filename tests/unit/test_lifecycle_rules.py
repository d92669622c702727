"""The symbol lifecycle's transition rules, hour by hour, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestration.lifecycle.rules import ALLOWED, HourFacts, LifecycleError, Rules, Standing, State, Transition, plan_hour

T0 = datetime(2026, 11, 1, 1, tzinfo=UTC)


def facts(hour: int, listed: set[str], eligible: set[str] = frozenset(), holdings: dict[str, int] | None = None) -> HourFacts:  # type: ignore[assignment]
    return HourFacts(T0 + timedelta(hours=hour), frozenset(listed), frozenset(eligible), holdings or {})


def moves(transitions: list[Transition]) -> list[tuple[str, str | None, str]]:
    return [(t.symbol, t.from_state, t.to_state) for t in transitions]


def run(hours: list[HourFacts], rules: Rules = Rules()) -> tuple[dict[str, Standing], list[list[Transition]]]:
    """Step the rules through consecutive hours, as the store does, and check every step is allowed."""
    standings: dict[str, Standing] = {}
    per_hour = []
    for hour in hours:
        transitions = plan_hour(standings, hour, rules)
        for t in transitions:
            assert (t.from_state, t.to_state) in ALLOWED, t
            assert t.from_state == (standings[t.symbol].state if t.symbol in standings else None), t
            assert t.reason
            standings[t.symbol] = Standing(t.to_state, hour.as_of)
        per_hour.append(transitions)
    return standings, per_hour


def test_a_new_contract_is_discovered_evaluated_held_and_retired() -> None:
    standings, per_hour = run([
        facts(0, {"A"}),
        facts(1, {"A"}, {"A"}),
        facts(2, {"A"}, {"A"}, {"A": 3}),
        facts(3, {"A"}, {"A"}, {"A": 12}),
        facts(4, {"A"}, {"A"}, {"A": 9}),
        facts(5, {"A"}, {"A"}),
    ])
    assert [moves(h) for h in per_hour] == [
        [("A", None, "discovery")],
        [("A", "discovery", "evaluation")],
        [("A", "evaluation", "active")],
        [("A", "active", "replacement_candidate")],
        [("A", "replacement_candidate", "active")],
        [("A", "active", "retired")],
    ]
    assert "ranked 12, outside the top 10" in per_hour[3][0].reason
    assert standings["A"] == Standing(State.RETIRED, T0 + timedelta(hours=5))


def test_a_symbol_held_in_its_first_hour_passes_through_every_state_on_the_way() -> None:
    _, per_hour = run([facts(0, {"A"}, {"A"}, {"A": 11})])
    assert moves(per_hour[0]) == [
        ("A", None, "discovery"), ("A", "discovery", "evaluation"), ("A", "evaluation", "active"), ("A", "active", "replacement_candidate"),
    ]


def test_evaluation_is_sticky_while_the_score_is_ineligible() -> None:
    standings, per_hour = run([facts(0, {"A"}, {"A"}), facts(1, {"A"}), facts(2, {"A"})])
    assert [moves(h) for h in per_hour[1:]] == [[], []]
    assert standings["A"].state is State.EVALUATION


def test_retired_returns_to_evaluation_only_after_the_cool_down_unless_held_again() -> None:
    rules = Rules(retirement_cooldown=timedelta(hours=3))
    held = facts(0, {"A", "B"}, {"A", "B"}, {"A": 1, "B": 2})
    removed = [facts(h, {"A", "B"}, {"A", "B"}) for h in range(1, 5)]
    standings, per_hour = run([held, *removed], rules)
    assert [moves(h) for h in per_hour[1:]] == [
        [("A", "active", "retired"), ("B", "active", "retired")], [], [],
        [("A", "retired", "evaluation"), ("B", "retired", "evaluation")],  # three hours after retirement
    ]
    # held again within the cool-down: back through evaluation at once
    _, again = run([held, facts(1, {"A"}, {"A"}), facts(2, {"A"}, {"A"}, {"A": 4})], rules)
    assert moves(again[2]) == [("A", "retired", "evaluation"), ("A", "evaluation", "active")]


def test_delisting_wins_from_any_state_and_a_relisting_is_discovered_again() -> None:
    start = facts(0, {"A", "B", "C"}, {"B", "C"}, {"C": 1})
    standings, per_hour = run([start, facts(1, set()), facts(2, set()), facts(3, {"A"})])
    assert sorted(moves(per_hour[1])) == [("A", "discovery", "delisted"), ("B", "evaluation", "delisted"), ("C", "active", "delisted")]
    assert per_hour[2] == []  # delisted stays delisted; a symbol never seen and not listed gets nothing
    assert moves(per_hour[3]) == [("A", "delisted", "discovery")]
    assert "again" in per_hour[3][0].reason


def test_a_rerun_of_an_hour_from_the_state_it_produced_plans_nothing() -> None:
    hours = [facts(0, {"A", "B"}, {"A"}, {}), facts(1, {"A", "B"}, {"A", "B"}, {"A": 1, "B": 11})]
    standings, _ = run(hours)
    assert plan_hour(standings, hours[-1]) == []


def test_bad_facts_and_parameters_are_refused_naming_the_rule() -> None:
    with pytest.raises(LifecycleError, match="include symbols not listed then: B"):
        facts(0, {"A"}, holdings={"B": 1})
    with pytest.raises(LifecycleError, match="score ranks must be >= 1"):
        facts(0, {"A"}, holdings={"A": 0})
    with pytest.raises(LifecycleError, match="top_n=0"):
        Rules(top_n=0)
    with pytest.raises(LifecycleError, match="must not be negative"):
        Rules(retirement_cooldown=timedelta(hours=-1))


def test_every_allowed_transition_is_reachable_and_delisted_is_reachable_from_every_state() -> None:
    assert {(a, State.DELISTED) for a in State if a is not State.DELISTED} <= ALLOWED
    assert not any(a == b for a, b in ALLOWED)
