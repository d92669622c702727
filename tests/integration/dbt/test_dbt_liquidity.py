"""int_liquidity_1h against an independent pandas/numpy reference computed from the raw minutes,
bars and open-interest points, and built by consecutive incremental windows (boundaries inside the
flat stretch and the gap) equal to a full refresh, row for row.

Data: synthetic.populate plus synthetic_liquidity (open interest, an hour with one candle, hours
below and above the pair threshold, an hour without turnover).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from tests.integration.dbt import synthetic, synthetic_liquidity
from tests.integration.dbt.dbt_cli import BUILD_MODELS, Dbt, assert_same_tables, fetch, window
from tests.integration.dbt.synthetic import BOUNDARIES, hour

MODEL = "intermediate.int_liquidity_1h"
SELECT = ("--select", "+int_liquidity_1h")
MIN_PAIRS = 10  # var liquidity.min_pairs
BARS = 24  # var liquidity.rolling_bars
CS_DENOMINATOR = 3 - 2 * np.sqrt(2.0)


@dataclass(frozen=True)
class Built:
    incremental: list[tuple[object, ...]]  # the table's rows after the consecutive windows
    full_refresh: list[tuple[object, ...]]  # its rows after --full-refresh
    actual: pd.DataFrame  # the same rows as objects (None where null, Decimal where numeric)
    expected: pd.DataFrame  # the reference, same order


def stored_rows(url: str) -> tuple[list[tuple[object, ...]], list[str]]:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"select * from {MODEL} order by symbol, bucket_start")  # type: ignore[arg-type]
        assert cur.description is not None
        return cur.fetchall(), [c.name for c in cur.description]


@pytest.fixture(scope="module")
def built(database_url: str, dbt_work_dir: Path) -> Iterator[Built]:
    data, open_interest = synthetic_liquidity.populate(database_url)
    dbt = Dbt(database_url, dbt_work_dir)
    for start, end in zip(BOUNDARIES, BOUNDARIES[1:]):
        dbt.run(*BUILD_MODELS, *SELECT, dbt_vars=window(hour(start), hour(end)))
        assert fetch(database_url, f"select max(bucket_start) from {MODEL}")[0][0] == hour(end - 1), (start, end)
    incremental, _ = stored_rows(database_url)
    dbt.run(*BUILD_MODELS, *SELECT, "--full-refresh")
    dbt.run("test", "--select", "int_liquidity_1h")  # its data tests, over every row (upstream ones are not the point here)
    full_refresh, columns = stored_rows(database_url)
    actual = pd.DataFrame(full_refresh, columns=columns, dtype=object)
    yield Built(incremental, full_refresh, actual, expected_liquidity(data, open_interest))


# --- the reference -----------------------------------------------------------------------------


def minute_estimates(candles: pd.DataFrame) -> pd.DataFrame:
    """Per (symbol, hour): the Corwin-Schultz pair estimates' aggregates and the Roll autocovariance,
    from the minutes as loaded (pairs only between consecutive minutes of the same hour)."""
    m = candles.sort_values(["symbol", "open_time"]).reset_index(drop=True)
    m["bucket_start"] = m["open_time"].dt.floor("1h")
    groups = m.groupby(["symbol", "bucket_start"], sort=False)
    previous = groups[["open_time", "high", "low", "close"]].shift(1)
    second_previous = groups[["open_time", "close"]].shift(2)
    minute = pd.Timedelta(minutes=1)
    is_pair = (m["open_time"] - previous["open_time"]) == minute
    is_triple = (m["open_time"] - second_previous["open_time"]) == 2 * minute

    beta = np.log(previous["high"] / previous["low"]) ** 2 + np.log(m["high"] / m["low"]) ** 2
    gamma = np.log(np.maximum(previous["high"], m["high"]) / np.minimum(previous["low"], m["low"])) ** 2
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / CS_DENOMINATOR - np.sqrt(gamma / CS_DENOMINATOR)
    spread = 2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha))
    pairs = m.loc[is_pair, ["symbol", "bucket_start"]].assign(spread=spread[is_pair])
    cs = pairs.groupby(["symbol", "bucket_start"]).agg(
        corwin_schultz_pair_count=("spread", "size"),
        corwin_schultz_spread=("spread", lambda s: np.maximum(s, 0).mean()),
        corwin_schultz_spread_signed=("spread", "mean"),
        corwin_schultz_negative_share=("spread", lambda s: (s < 0).mean()),
    )

    changes = m.loc[is_triple, ["symbol", "bucket_start"]].assign(
        change=np.log(m["close"] / previous["close"])[is_triple],
        previous_change=np.log(previous["close"] / second_previous["close"])[is_triple],
    )
    roll = changes.groupby(["symbol", "bucket_start"]).apply(
        lambda g: pd.Series({"roll_pair_count": len(g), "roll_autocovariance": sample_covariance(g["change"], g["previous_change"])}),
        include_groups=False,
    )
    return cs.join(roll, how="outer").reset_index()


def sample_covariance(x: pd.Series, y: pd.Series) -> float:
    """sum((x - mean x)(y - mean y)) / (n - 1); NaN below two pairs."""
    if len(x) < 2:
        return np.nan
    return float(((x - x.mean()) * (y - y.mean())).sum() / (len(x) - 1))


def trailing(values: np.ndarray, function, bars: int = BARS) -> np.ndarray:  # type: ignore[no-untyped-def]
    """function(the last `bars` values) at each position of one contract's series; NaN before a full frame."""
    out = np.full(len(values), np.nan)
    for i in range(bars - 1, len(values)):
        out[i] = function(values[i - bars + 1 : i + 1])
    return out


def nan_mean(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else np.nan


def expected_liquidity(data: synthetic.Synthetic, open_interest: pd.DataFrame) -> pd.DataFrame:
    bars = synthetic.expected_candles_1h(data)[["symbol", "bucket_start", "close", "minute_count", "volume_lots", "turnover_quote"]]
    oi_hours = (
        open_interest.assign(bucket_start=open_interest["observed_at"].dt.floor("1h"))
        .groupby(["symbol", "bucket_start"])
        .agg(open_interest_point_count=("open_interest_lots", "size"), open_interest_lots_sum=("open_interest_lots", "sum"))
        .reset_index()
    )
    result = bars.merge(minute_estimates(data.candles), on=["symbol", "bucket_start"], how="left")
    result = result.merge(oi_hours, on=["symbol", "bucket_start"], how="left")
    result = result.sort_values(["symbol", "bucket_start"], ignore_index=True)
    for column in ("corwin_schultz_pair_count", "roll_pair_count", "open_interest_point_count"):
        result[column] = result[column].fillna(0).astype(int)
    below = {"corwin_schultz_pair_count": ["corwin_schultz_spread", "corwin_schultz_spread_signed", "corwin_schultz_negative_share"],
             "roll_pair_count": ["roll_autocovariance"]}
    for count, columns in below.items():
        result.loc[result[count] < MIN_PAIRS, columns] = np.nan
    result["roll_spread"] = np.where(result["roll_autocovariance"] < 0, 2 * np.sqrt(-result["roll_autocovariance"].clip(upper=0)), np.nan)

    frames = []
    for _, bars_of in result.groupby("symbol", sort=True):
        b = bars_of.copy()
        previous_close = b["close"].shift(1)
        hours_since_previous = (b["bucket_start"] - b["bucket_start"].shift(1)) / pd.Timedelta(hours=1)
        simple_return = (b["close"] - previous_close) / previous_close
        defined = (hours_since_previous == 1) & (b["turnover_quote"] > 0)
        b["amihud_illiquidity"] = np.where(defined, simple_return.abs() / b["turnover_quote"].where(defined, 1.0) * 1e6, np.nan)
        amihud = b["amihud_illiquidity"].to_numpy()
        b[f"amihud_illiquidity_{BARS}"] = trailing(amihud, nan_mean)
        b[f"amihud_observation_count_{BARS}"] = trailing(amihud, lambda v: np.count_nonzero(~np.isnan(v)))
        b[f"turnover_quote_{BARS}"] = trailing(b["turnover_quote"].to_numpy(), np.sum)
        b[f"volume_lots_{BARS}"] = trailing(b["volume_lots"].to_numpy(), np.sum)
        points = trailing(b["open_interest_point_count"].to_numpy(float), np.sum)
        lots = trailing(b["open_interest_lots_sum"].fillna(0).to_numpy(), np.sum)
        b[f"open_interest_point_count_{BARS}"] = points
        b[f"open_interest_mean_lots_{BARS}"] = np.where(points > 0, lots / np.where(points > 0, points, 1), np.nan)
        mean = b[f"open_interest_mean_lots_{BARS}"]
        b[f"open_interest_turnover_{BARS}"] = np.where(mean > 0, b[f"volume_lots_{BARS}"] / mean.where(mean > 0, 1.0), np.nan)
        b["carry_start"] = b["bucket_start"].shift(BARS - 2).fillna(b["bucket_start"].iloc[0])
        frames.append(b)
    return pd.concat(frames, ignore_index=True)


# --- the tests ---------------------------------------------------------------------------------

EXACT = ("close", "minute_count", "corwin_schultz_pair_count", "roll_pair_count", "open_interest_point_count",
         f"amihud_observation_count_{BARS}", f"open_interest_point_count_{BARS}", "carry_start")
NUMERIC_EXACT = ("volume_lots", f"volume_lots_{BARS}")  # whole lots: exact sums
CLOSE = ("corwin_schultz_spread", "corwin_schultz_spread_signed", "corwin_schultz_negative_share", "roll_autocovariance",
         "roll_spread", "turnover_quote", "amihud_illiquidity", f"amihud_illiquidity_{BARS}", f"turnover_quote_{BARS}",
         "open_interest_lots_sum", f"open_interest_mean_lots_{BARS}", f"open_interest_turnover_{BARS}")


def as_float(values: pd.Series) -> np.ndarray:
    return np.array([np.nan if v is None or (isinstance(v, float) and np.isnan(v)) else float(v) for v in values])


def test_every_column_matches_the_reference(built: Built) -> None:
    actual, expected = built.actual, built.expected
    assert set(actual.columns) == {"symbol", "bucket_start", *EXACT, *NUMERIC_EXACT, *CLOSE}
    assert list(actual[["symbol", "bucket_start"]].itertuples(index=False)) == list(expected[["symbol", "bucket_start"]].itertuples(index=False))
    for column in EXACT:
        got = [None if pd.isna(v) else v for v in actual[column]]
        want = [None if pd.isna(v) else v for v in expected[column]]
        assert got == want, column
    for column in NUMERIC_EXACT:
        want = [None if pd.isna(v) else Decimal(int(v)) for v in expected[column]]
        assert actual[column].tolist() == want, column
    for column in CLOSE:
        got, want = as_float(actual[column]), as_float(expected[column])
        assert (np.isnan(got) == np.isnan(want)).all(), (column, actual.loc[np.isnan(got) != np.isnan(want), ["symbol", "bucket_start"]])
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=0, err_msg=column)


def bar(actual: pd.DataFrame, symbol: str, offset: int) -> pd.Series:
    rows = actual.loc[(actual["symbol"] == symbol) & (actual["bucket_start"] == synthetic.START + pd.Timedelta(hours=offset))]
    assert len(rows) == 1, (symbol, offset)
    return rows.iloc[0]


def test_the_edge_cases_are_covered_and_behave_as_documented(built: Built) -> None:
    actual = built.actual
    # a flat hour: every range 0, so every pair estimate is exactly 0 and the autocovariance 0 (Roll undefined)
    flat = bar(actual, "ETHUSDTM", 33)
    assert (flat["corwin_schultz_spread"], flat["corwin_schultz_negative_share"], flat["roll_autocovariance"]) == (0, 0, 0)
    assert flat["roll_spread"] is None and flat["corwin_schultz_pair_count"] == 59 and flat["roll_pair_count"] == 58
    # minutes 10..14 missing: pairs within 0..9 and 15..59 only
    symbol, offset, _ = synthetic.PARTIAL_HOUR
    partial = bar(actual, symbol, offset)
    assert (partial["minute_count"], partial["corwin_schultz_pair_count"], partial["roll_pair_count"]) == (55, 9 + 44, 8 + 43)
    # one candle; 7 pairs (below min_pairs); 11 separate pairs: Corwin-Schultz defined, Roll not
    thin = [bar(actual, synthetic_liquidity.THIN_SYMBOL, h) for h in synthetic_liquidity.THIN_HOURS]
    assert [(r["corwin_schultz_pair_count"], r["roll_pair_count"]) for r in thin] == [(0, 0), (7, 6), (11, 0)]
    assert [r["corwin_schultz_spread"] is None for r in thin] == [True, True, False]
    assert all(r["roll_autocovariance"] is None for r in thin)
    # no turnover: Amihud undefined; after the gap and on the first bar too
    assert bar(actual, *synthetic_liquidity.ZERO_TURNOVER)["turnover_quote"] == 0
    assert bar(actual, *synthetic_liquidity.ZERO_TURNOVER)["amihud_illiquidity"] is None
    assert bar(actual, "SOLUSDTM", synthetic.GAP_HOURS["SOLUSDTM"].stop)["amihud_illiquidity"] is None
    assert bar(actual, "XBTUSDTM", 0)["amihud_illiquidity"] is None
    # random minutes: some hours with a positive autocovariance (Roll null), some negative pair estimates
    defined = actual.loc[actual["roll_autocovariance"].notna()]
    assert (defined["roll_autocovariance"] > 0).any() and defined["roll_spread"].notna().any()
    assert (actual["corwin_schultz_negative_share"].dropna() > 0).any()
    # open interest: none, a mean of 0, partial coverage
    assert actual.loc[actual["symbol"] == synthetic_liquidity.NO_OPEN_INTEREST, f"open_interest_turnover_{BARS}"].isna().all()
    assert bar(actual, synthetic_liquidity.ZERO_OPEN_INTEREST[0], 60)[f"open_interest_turnover_{BARS}"] is None
    assert bar(actual, synthetic_liquidity.ZERO_OPEN_INTEREST[0], 60)[f"open_interest_mean_lots_{BARS}"] == 0
    assert bar(actual, "XBTUSDTM", 30)[f"open_interest_point_count_{BARS}"] == 24 * 12 - 4 * 12
    assert bar(actual, *synthetic_liquidity.HALF_OBSERVED_HOUR)["open_interest_point_count"] == 6


def test_consecutive_windows_equal_a_full_refresh(built: Built) -> None:
    assert built.incremental
    assert_same_tables({MODEL: built.incremental}, {MODEL: built.full_refresh})


def test_a_window_whose_predecessor_was_never_built_is_refused(built: Built, database_url: str, tmp_path: Path) -> None:
    assert fetch(database_url, f"delete from {MODEL} where bucket_start >= %s returning 1", (hour(60),))
    result = Dbt(database_url, tmp_path).run("run", "--select", "int_liquidity_1h", dbt_vars=window(hour(65), hour(66)), check=False)
    assert result.returncode != 0
    assert "int_liquidity_1h: " in result.stdout and "build the earlier windows first" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize(
    ("liquidity", "message"),
    [
        ({"min_pairs": 1, "rolling_bars": 24}, "var liquidity.min_pairs=1 is malformed: expected an integer between 2 and 58 (a sample covariance"),
        ({"min_pairs": 10, "rolling_bars": "24"}, "var liquidity.rolling_bars=24 is malformed"),
    ],
    ids=["too-few-pairs", "not-an-integer"],
)
def test_malformed_liquidity_parameters_fail_naming_the_var(
    database_url: str, tmp_path: Path, liquidity: dict[str, object], message: str
) -> None:
    result = Dbt(database_url, tmp_path).run("compile", "--select", "int_liquidity_1h", dbt_vars={"liquidity": liquidity}, check=False)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
