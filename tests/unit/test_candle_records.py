"""Load-stage rules for 1-minute candles: structure is enforced, market consistency is left to the gate."""

import math

from models.candles import validate_candles

START = 1_762_000_020_000 - 1_762_000_020_000 % 60_000  # a whole minute
END = START + 5 * 60_000


def candle(minute: int, **overrides: float) -> list[float]:
    row = {"t": START + minute * 60_000, "o": 10.0, "h": 11.0, "l": 9.0, "c": 10.5, "v": 3.0}
    row.update(overrides)
    return [row["t"], row["o"], row["h"], row["l"], row["c"], row["v"]]


def test_good_rows_are_accepted_in_time_order() -> None:
    result = validate_candles("XBTUSDTM", [candle(2), candle(0), candle(1)], START, END)
    assert result.rejections == []
    assert list(result.accepted["open_time"].dt.as_unit("ms").astype("int64")) == [START, START + 60_000, START + 120_000]
    assert list(result.accepted.columns) == ["symbol", "open_time", "open", "high", "low", "close", "volume"]


def test_each_structural_fault_is_rejected_with_its_rule() -> None:
    rows = [
        candle(0),
        candle(1, o=math.nan),
        candle(2, v=math.inf),
        [START + 3 * 60_000 + 5, 1, 2, 0.5, 1.5, 1],  # not a whole minute
        candle(9),  # outside the window
        candle(0),  # duplicate of the first
        [START, 1, 2, 3],  # wrong shape
        candle(4, h=None),  # type: ignore[arg-type]
    ]
    result = validate_candles("XBTUSDTM", rows, START, END)
    rules = sorted(r.rule for r in result.rejections)
    assert rules == [
        "duplicate_key",
        "non_finite_value",
        "non_finite_value",
        "non_finite_value",
        "row_shape",
        "timestamp_not_minute_aligned",
        "timestamp_outside_window",
    ]
    assert len(result.accepted) == 1
    # Conservation: every fetched row is accepted or rejected, never dropped.
    assert len(result.accepted) + len(result.rejections) == len(rows)


def test_rows_are_read_as_served_turnover_and_numeric_strings_included() -> None:
    rows = [
        [*candle(0), 31.5],  # KuCoin may append the turnover (quote volume): not kept
        [str(v) for v in candle(1)],  # numbers served as strings read as the same numbers
        [*candle(2)[:3], "NaN", *candle(2)[4:]],  # the string "NaN" is not a price
    ]
    result = validate_candles("XBTUSDTM", rows, START, END)
    assert [r.rule for r in result.rejections] == ["non_finite_value"] and result.rejections[0].record == rows[2]
    assert result.accepted[["open", "high", "low", "close", "volume"]].values.tolist() == [[10.0, 11.0, 9.0, 10.5, 3.0]] * 2


def test_a_row_of_other_widths_is_refused_even_among_served_widths() -> None:
    rows = [[*candle(0), 31.5], candle(1), [*candle(2), 1.0, 2.0], candle(3)[:5]]
    result = validate_candles("XBTUSDTM", rows, START, END)
    assert [r.rule for r in result.rejections] == ["row_shape", "row_shape"] and len(result.accepted) == 2
    assert "expected a list of 6 values (or 7 with the turnover)" in result.rejections[0].detail


def test_a_fractional_open_time_is_refused_not_truncated() -> None:
    # ccxt's unified parser read the open time as an integer: 0.5 ms past a minute became the minute
    result = validate_candles("XBTUSDTM", [candle(0, t=START + 60_000.5)], START, END)
    assert [r.rule for r in result.rejections] == ["timestamp_not_minute_aligned"] and result.accepted.empty


def test_market_inconsistency_is_not_a_load_rule() -> None:
    # high < low passes the loader; the GX gate on the stored window owns that rule.
    result = validate_candles("XBTUSDTM", [candle(0, h=8.0, l=12.0), candle(1, v=-1.0)], START, END)
    assert result.rejections == [] and len(result.accepted) == 2


def test_rejection_keeps_the_record_as_json() -> None:
    result = validate_candles("XBTUSDTM", [candle(0, o=math.nan)], START, END)
    assert '"nan"' in result.rejections[0].record_json()
    assert "open" in result.rejections[0].detail
