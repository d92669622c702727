"""Portfolio selection policy v1: exactly ten, a keep band against churn, reasons for every decision."""

import pandas as pd
import pytest

from orchestration.portfolio.selection import PORTFOLIO_SIZE, Policy, SelectionError, select


def scores(n: int, ineligible: tuple[str, ...] = ()) -> pd.DataFrame:
    symbols = [f"S{i:02d}" for i in range(n)]
    return pd.DataFrame(
        {"symbol": symbols, "composite_score": [1 - i / n for i in range(n)], "is_eligible": [s not in ineligible for s in symbols]}
    )


def test_initial_selection_takes_the_ten_best() -> None:
    result = select(scores(30), [], Policy())
    assert [h[0] for h in result.holdings] == [f"S{i:02d}" for i in range(10)]
    assert sum(h[1] for h in result.holdings) == 1
    assert {d.action for d in result.decisions} == {"add"}
    assert all("initial selection: rank" in d.reason for d in result.decisions)


def test_holdings_within_the_keep_band_are_held() -> None:
    previous = [f"S{i:02d}" for i in range(10, 20)]  # ranks 11..20: all inside a keep band of 20
    result = select(scores(30), previous, Policy(keep_rank=20))
    assert sorted(h[0] for h in result.holdings) == sorted(previous)
    assert {d.action for d in result.decisions} == {"hold"}


def test_a_holding_outside_the_band_is_replaced_by_the_best_not_held() -> None:
    previous = [f"S{i:02d}" for i in range(1, 10)] + ["S25"]
    result = select(scores(30), previous, Policy(keep_rank=20))
    held = [h[0] for h in result.holdings]
    assert len(held) == PORTFOLIO_SIZE and "S25" not in held and "S00" in held
    by_symbol = {d.symbol: d for d in result.decisions}
    assert by_symbol["S25"].action == "remove" and "outside the keep band" in by_symbol["S25"].reason
    assert by_symbol["S00"].action == "add" and "S25" in by_symbol["S00"].reason


def test_an_ineligible_holding_is_removed() -> None:
    previous = [f"S{i:02d}" for i in range(10)]
    result = select(scores(30, ineligible=("S03",)), previous, Policy())
    by_symbol = {d.symbol: d for d in result.decisions}
    assert by_symbol["S03"].action == "remove" and "no eligible composite score" in by_symbol["S03"].reason
    assert len(result.holdings) == PORTFOLIO_SIZE


def test_fewer_than_ten_eligible_symbols_is_an_error() -> None:
    with pytest.raises(SelectionError, match="only 9 of 12 symbols"):
        select(scores(12, ineligible=("S00", "S01", "S02")), [], Policy())


def test_keep_band_narrower_than_the_portfolio_is_refused() -> None:
    with pytest.raises(ValueError, match="keep_rank=5"):
        Policy(keep_rank=5)
