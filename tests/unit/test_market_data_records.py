"""Tickers, trades, order books, funding rates and open interest: typed, validated, refused with the rule."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.funding import validate_funding_rates
from models.open_interest import validate_open_interest
from models.order_books import validate_book
from models.tickers import validate_tickers
from models.trades import validate_trades

RECORDED = Path(__file__).parents[1] / "fixtures" / "kucoin" / "futures_market_examples.json"


def recorded(name: str) -> object:
    return json.loads(RECORDED.read_text())[name]["data"]


def test_recorded_tickers_are_accepted_with_units_kept() -> None:
    infos = recorded("test_get_all_tickers_resp_model")
    result = validate_tickers(infos)
    assert result.rejections == [] and len(result.accepted) == len(infos)
    btc = result.accepted.set_index("symbol").loc["XBTUSDTM"]
    assert btc["ts_ns"] == 1729163466659000000 and btc["observed_at"] == datetime(2024, 10, 17, 11, 11, 6, 659000, tzinfo=UTC)
    assert (btc["best_bid"], btc["best_ask"], btc["best_bid_size_lots"]) == (67153.0, 67153.1, 2767)


def test_bad_tickers_are_refused_with_the_rule() -> None:
    good = recorded("test_get_all_tickers_resp_model")[0]
    cases = [
        {**good, "symbol": "X'; DROP TABLE raw.tickers;--"},
        {**good, "symbol": "ETHUSDTM", "bestBidPrice": "70000", "bestAskPrice": "69999"},
        {**good, "symbol": "SOLUSDTM", "price": "NaN"},
        {**good, "symbol": "ADAUSDTM", "bestAskSize": -3},
        {**good, "symbol": "XRPUSDTM", "ts": None},
        good,
        good,
    ]
    result = validate_tickers(cases)
    assert sorted(r.rule for r in result.rejections) == [
        "bestAskSize:greater_than_equal", "crossed_book", "duplicate_key", "price:finite_number",
        "symbol:string_pattern_mismatch", "ts:int_type",
    ]
    assert list(result.accepted["symbol"]) == [good["symbol"]]


def test_trades_are_deduplicated_and_future_ones_refused() -> None:
    trades = recorded("test_get_trade_history_resp_model")
    fetched_at = datetime(2024, 10, 18, 9, 1, tzinfo=UTC)
    future = {**trades[0], "tradeId": "999", "ts": int((fetched_at + timedelta(hours=1)).timestamp() * 1e9)}
    negative = {**trades[0], "tradeId": "998", "size": -1}
    result = validate_trades("XBTUSDM", [*trades, trades[0], future, negative], fetched_at)
    assert sorted(r.rule for r in result.rejections) == ["duplicate_key", "size:greater_than", "timestamp_in_future"]
    assert len(result.accepted) == len(trades) and result.accepted["traded_at"].is_monotonic_increasing
    assert set(result.accepted["taker_side"]) <= {"buy", "sell"}


def book(bids: list[list[float]], asks: list[list[float]], **extra: object) -> dict[str, object]:
    # the shape of KuCoin's depth reply (recorded: kucoin-universal-sdk), symbol and ts (ns) included
    return {"symbol": "XBTUSDTM", "sequence": 1697895963339, "bids": bids, "asks": asks, "ts": 1729168101216000000, **extra}


def test_a_book_becomes_ranked_levels() -> None:
    result = validate_book("XBTUSDTM", book([[66968, 2], [66964.8, "25596"]], [["66968.1", 13501], [66968.7, 2032]]), 20)
    assert result.rejections == []
    rows = result.accepted[["side", "level", "price", "size_lots"]].values.tolist()
    assert rows == [["bid", 1, 66968.0, 2.0], ["bid", 2, 66964.8, 25596.0], ["ask", 1, 66968.1, 13501.0], ["ask", 2, 66968.7, 2032.0]]


@pytest.mark.parametrize(
    ("bids", "asks", "extra", "rules", "kept"),
    [
        ([[101, 1], [100, 2]], [[100.5, 1]], {}, ["crossed_book"] * 3, 0),  # every level of a crossed book
        ([[100, 1], [float("nan"), 2]], [[101, 1], [102, -5]], {}, ["non_finite_value", "non_positive_size"], 2),
        ([[100, 1], [100, 3]], [[101, 1]], {}, ["duplicate_key"], 2),
        ([[100, 1]], [[101, 1]], {"ts": None}, ["missing_timestamp"] * 2, 0),
        ([[100, 1]], [[101, 1]], {"symbol": "ETHUSDTM"}, ["symbol_mismatch"] * 2, 0),
        ([["NaN", 1], [99, 1]], [[101, None]], {}, ["non_finite_value"] * 2, 1),
        ([[100, 1], "junk"], [[101, 1]], {}, ["level_shape"], 2),
    ],
)
def test_bad_books_are_refused_level_by_level_or_whole(
    bids: list, asks: list, extra: dict, rules: list[str], kept: int
) -> None:
    result = validate_book("XBTUSDTM", book(bids, asks, **extra), 20)
    assert sorted(r.rule for r in result.rejections) == sorted(rules)
    assert len(result.accepted) == kept
    assert len(result.accepted) + len(result.rejections) == len(bids) + len(asks)  # levels are conserved


def test_funding_rates_outside_the_window_or_of_another_symbol_are_refused() -> None:
    # the first two points of KuCoin's public funding-history example (kucoin-universal-sdk)
    rates = [
        {"symbol": "XBTUSDTM", "fundingRate": 0.00021, "timepoint": 1702296000000},
        {"symbol": "XBTUSDTM", "fundingRate": 0.000347, "timepoint": 1702267200000},
    ]
    start, end = datetime(2023, 12, 11, tzinfo=UTC), datetime(2023, 12, 12, tzinfo=UTC)
    cases = [*rates, {"symbol": "ETHUSDTM", "fundingRate": 0.0001, "timepoint": 1702238400000},
             {"symbol": "XBTUSDTM", "fundingRate": 0.0001, "timepoint": 1702396800000},
             {"symbol": "XBTUSDTM", "fundingRate": 0.5, "timepoint": 1702209600000}]
    result = validate_funding_rates("XBTUSDTM", cases, start, end)
    assert sorted(r.rule for r in result.rejections) == ["fundingRate:less_than_equal", "symbol_mismatch", "timestamp_outside_window"]
    assert list(result.accepted["funding_rate"]) == [0.000347, 0.00021]  # oldest first


def test_open_interest_points_stay_on_their_grid_and_window() -> None:
    start, end = datetime(2025, 12, 29, 10, tzinfo=UTC), datetime(2025, 12, 29, 11, tzinfo=UTC)
    base = int(start.timestamp() * 1000)
    points = [{"openInterest": "4615535", "ts": base + 300_000}, {"openInterest": "4568791", "ts": base},
              {"openInterest": "12", "ts": base + 1}, {"openInterest": "-1", "ts": base + 600_000},
              {"openInterest": "7", "ts": base + 3_600_000}]
    result = validate_open_interest("XBTUSDTM", points, start, end)
    assert sorted(r.rule for r in result.rejections) == ["openInterest:greater_than_equal", "timestamp_not_aligned", "timestamp_outside_window"]
    assert list(result.accepted["open_interest_lots"]) == [4568791.0, 4615535.0]
