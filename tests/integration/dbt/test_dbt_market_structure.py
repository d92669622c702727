"""Market structure from books, tickers and trades (int_order_book_snapshots, int_market_structure_1h)
on real PostgreSQL and dbt, against a pandas/numpy reference computed here from the raw rows, and
consecutive windows against a full refresh.

Raw data: synthetic.py's candles and contracts, plus synthetic_market.py's snapshots (see there for
the edge cases it plants).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.integration.dbt import synthetic, synthetic_market
from tests.integration.dbt.dbt_cli import RTOL, Dbt, fetch, frame, window

BANDS = (10, 50, 100)
SIDES = ("bid", "ask")
MIN_PAIRS = 20


@dataclass(frozen=True)
class Built:
    url: str
    dbt: Dbt
    data: synthetic.Synthetic
    market: synthetic_market.MarketData


# Windows as Dagster would pass them: the first creates the tables (from the start of history, up
# to hour 3: across the first contracts snapshot), the second continues incrementally across the
# gap of hours 5..45 and LINKUSDTM's spec change. Each invocation costs a full dbt parse (the vars
# change), so the module keeps to three: these two and one full refresh.
WINDOW_BOUNDARIES = (0, 3, synthetic.HOURS)
SELECT = ("--select", "+int_market_structure_1h", "--indirect-selection", "cautious")


@pytest.fixture(scope="module")
def built(database_url: str, dbt_work_dir: Path) -> Iterator[Built]:
    """The models built by consecutive windows (with their window-scoped data tests)."""
    data = synthetic.populate(database_url)
    market = synthetic_market.populate(database_url, data)
    dbt = Dbt(database_url, dbt_work_dir)
    for start, end in zip(WINDOW_BOUNDARIES, WINDOW_BOUNDARIES[1:]):
        dbt.run("build", *SELECT, dbt_vars=window(synthetic_market.hour(start), synthetic_market.hour(end)))
        for model, column in (("int_order_book_snapshots", "observed_at"), ("int_market_structure_1h", "bucket_start")):
            built_to = fetch(database_url, f"select max({column}) from intermediate.{model}")[0][0]
            assert built_to < synthetic_market.hour(end), (model, start, end)  # nothing beyond the window
    yield Built(database_url, dbt, data, market)




# --- the reference -------------------------------------------------------------------------------


def utc(times: pd.Series) -> np.ndarray:
    return times.dt.tz_convert(None).to_numpy()


def specs_at(contracts: pd.DataFrame, symbols: pd.Series, times: pd.Series) -> pd.DataFrame:
    """The contract snapshot in force at each (symbol, time): the latest at or before it, else the
    earliest (synthetic.contract_in_force, vectorised per contract)."""
    picked = pd.Series(0, index=symbols.index)
    for symbol, own in contracts.sort_values("snapshot_time").groupby("symbol"):
        rows = symbols.index[symbols == symbol]
        position = np.searchsorted(utc(own["snapshot_time"]), utc(times[rows]), side="right") - 1
        picked[rows] = own.index[np.maximum(position, 0)]
    return contracts.loc[picked].reset_index(drop=True)


def converted(lots: np.ndarray, price: np.ndarray, inverse: np.ndarray | bool, multiplier: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(quote, base) of lots at prices: linear lots x multiplier (x price), inverse lots x 1 USD (/ price)."""
    quote = np.where(inverse, lots, lots * multiplier * price)
    base = np.where(inverse, lots / price, lots * multiplier)
    return quote, base


def touch(bids: pd.DataFrame, asks: pd.DataFrame) -> dict[str, object]:
    """Best prices and sizes (level 1 of each side, NaN for an empty side), mid and quoted spread."""
    best = {name: (rows[column].iloc[0] if len(rows) else np.nan)
            for name, rows, column in (("best_bid", bids, "price"), ("best_ask", asks, "price"),
                                       ("best_bid_size_lots", bids, "size_lots"), ("best_ask_size_lots", asks, "size_lots"))}
    mid = (best["best_bid"] + best["best_ask"]) / 2.0
    bid1, ask1 = best["best_bid_size_lots"], best["best_ask_size_lots"]
    return best | {
        "mid_price": mid, "quoted_spread_bps": (best["best_ask"] - best["best_bid"]) / mid * 1e4,
        "imbalance_level_1": (bid1 - ask1) / (bid1 + ask1),
    }


def bands(sides: dict[str, pd.DataFrame], mid: float, spec: pd.Series) -> dict[str, object]:
    """Depth (quote, base), reach flag per band and side, and imbalance (in lots) per band."""
    has_mid = bool(np.isfinite(mid))
    columns: dict[str, object] = {}
    measured = {}
    for side, rows in sides.items():
        price, lots = rows["price"].to_numpy(float), rows["size_lots"].to_numpy(float)
        distance = (mid - price) / mid * 1e4 if side == "bid" else (price - mid) / mid * 1e4
        quote, base = converted(lots, price, bool(spec["is_inverse"]), float(spec["multiplier"]))
        measured[side] = (distance, lots, quote, base)
    for band in BANDS:
        band_lots = {}
        for side, (distance, lots, quote, base) in measured.items():
            inside = distance <= band
            columns[f"{side}_depth_quote_{band}bps"] = quote[inside].sum() if has_mid else np.nan
            columns[f"{side}_depth_base_{band}bps"] = base[inside].sum() if has_mid else np.nan
            columns[f"{side}_reaches_{band}bps"] = bool(distance.max() >= band) if has_mid else None
            band_lots[side] = lots[inside].sum()
        total = band_lots["bid"] + band_lots["ask"]
        columns[f"imbalance_{band}bps"] = (band_lots["bid"] - band_lots["ask"]) / total if total > 0 else np.nan
    return columns


def expected_books(built: Built) -> pd.DataFrame:
    books = built.market.books.groupby(["symbol", "observed_at", "sequence"], sort=True)
    keys = pd.DataFrame(list(books.groups), columns=["symbol", "observed_at", "book_sequence"])
    specs = specs_at(built.market.contracts, keys["symbol"], keys["observed_at"])
    rows = []
    for (key, levels), (_, spec) in zip(books, specs.iterrows(), strict=True):
        sides = {side: levels.loc[levels["side"] == side].sort_values("level") for side in SIDES}
        best = touch(sides["bid"], sides["ask"])
        rows.append(
            dict(zip(("symbol", "observed_at", "book_sequence"), key, strict=True))
            | {"bucket_start": key[1].floor("1h"), "requested_depth": int(levels["depth"].max()),
               "bid_levels": len(sides["bid"]), "ask_levels": len(sides["ask"])}
            | best
            | bands(sides, float(best["mid_price"]), spec)  # type: ignore[arg-type]
            | {"is_inverse": bool(spec["is_inverse"]), "contract_snapshot_time": spec["snapshot_time"],
               "batch_ids": sorted({*map(int, levels["batch_id"]), int(spec["batch_id"])})}
        )
    return pd.DataFrame(rows)


def kyle_lambda(pairs: pd.DataFrame) -> float:
    """OLS slope (with intercept) of the log returns on the signed quote notional, per 1e6 quote."""
    q, r = pairs["signed_quote"].to_numpy(float), pairs["log_return"].to_numpy(float)
    sxx = ((q - q.mean()) ** 2).sum()
    if len(pairs) < MIN_PAIRS or sxx == 0:
        return np.nan
    return ((q - q.mean()) * (r - r.mean())).sum() / sxx * 1e6


def expected_trade_hours(built: Built) -> pd.DataFrame:
    trades = built.market.trades.sort_values(["symbol", "ts_ns", "sequence", "trade_id"], ignore_index=True)
    spec = specs_at(built.market.contracts, trades["symbol"], trades["traded_at"])
    quote, _ = converted(
        trades["size_lots"].to_numpy(float), trades["price"].to_numpy(float), spec["is_inverse"].to_numpy(bool), spec["multiplier"].to_numpy(float)
    )
    clean = set(built.market.batches.loc[built.market.batches["rows_quarantined"] == 0, "batch_id"])
    trades = trades.assign(
        bucket_start=trades["traded_at"].dt.floor("1h"), quote=quote, contract_batch_id=spec["batch_id"].astype(int),
        signed_quote=np.where(trades["taker_side"] == "buy", quote, -quote),
    )
    group = trades.groupby(["symbol", "bucket_start"], sort=False)
    previous = group[["price", "batch_id"]].shift(1)
    trades["log_return"] = np.log(trades["price"] / previous["price"])
    trades["is_pair"] = (previous["batch_id"] == trades["batch_id"]) & trades["batch_id"].isin(clean)
    rows = []
    for (symbol, bucket_start), hour in trades.groupby(["symbol", "bucket_start"], sort=True):
        pairs = hour.loc[hour["is_pair"]]
        rows.append(
            {
                "symbol": symbol, "bucket_start": bucket_start, "trade_count": len(hour),
                "buy_quote_volume": hour.loc[hour["taker_side"] == "buy", "quote"].sum(),
                "sell_quote_volume": hour.loc[hour["taker_side"] == "sell", "quote"].sum(),
                "kyle_lambda_pair_count": len(pairs), "kyle_lambda_per_million_quote": kyle_lambda(pairs),
                "trade_batch_ids": {*map(int, hour["batch_id"]), *map(int, hour["contract_batch_id"])},
            }
        )
    return pd.DataFrame(rows)


def expected_hours(built: Built, books: pd.DataFrame) -> pd.DataFrame:
    book_group = books.groupby(["symbol", "bucket_start"])
    book_columns: dict[str, tuple[str, str]] = {
        "book_snapshot_count": ("book_sequence", "size"), "book_spread_bps_mean": ("quoted_spread_bps", "mean"),
    }
    for band in BANDS:
        for side in SIDES:
            for unit in ("quote", "base"):
                book_columns[f"{side}_depth_{unit}_{band}bps_mean"] = (f"{side}_depth_{unit}_{band}bps", "mean")
        book_columns[f"imbalance_{band}bps_mean"] = (f"imbalance_{band}bps", "mean")
    book_columns["imbalance_level_1_mean"] = ("imbalance_level_1", "mean")
    book_hours = book_group.agg(**book_columns)
    for band in BANDS:
        for side in SIDES:
            book_hours[f"{side}_reaches_{band}bps_count"] = book_group[f"{side}_reaches_{band}bps"].apply(lambda flags: sum(flag is True for flag in flags))
    book_hours["book_batch_ids"] = book_group["batch_ids"].apply(lambda ids: {b for batch_ids in ids for b in batch_ids})

    tickers = built.market.tickers.assign(bucket_start=built.market.tickers["observed_at"].dt.floor("1h"))
    tickers["spread"] = (tickers["best_ask"] - tickers["best_bid"]) / ((tickers["best_bid"] + tickers["best_ask"]) / 2.0) * 1e4
    ticker_hours = tickers.groupby(["symbol", "bucket_start"]).agg(
        ticker_snapshot_count=("spread", "size"), ticker_spread_bps_mean=("spread", "mean"), ticker_batch_ids=("batch_id", set)
    )
    trade_hours = expected_trade_hours(built).set_index(["symbol", "bucket_start"])
    hours = book_hours.join(ticker_hours, how="outer").join(trade_hours, how="outer").sort_index().reset_index()
    for column in ("book_snapshot_count", "ticker_snapshot_count", "trade_count", "kyle_lambda_pair_count",
                   "buy_quote_volume", "sell_quote_volume", *(f"{s}_reaches_{b}bps_count" for b in BANDS for s in SIDES)):
        hours[column] = hours[column].fillna(0)
    id_sets = hours[["book_batch_ids", "ticker_batch_ids", "trade_batch_ids"]].map(lambda ids: ids if isinstance(ids, set) else set())
    hours["batch_ids"] = [sorted(a | b | c) for a, b, c in id_sets.itertuples(index=False)]
    return hours.drop(columns=["book_batch_ids", "ticker_batch_ids", "trade_batch_ids"])


def assert_frames_match(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    """Same keys in the same order; every column of `actual` equal to the reference: exactly for
    integers, flags, times and arrays, to RTOL for the rest (nulls in the same places)."""
    assert set(actual.columns) == set(expected.columns), set(actual.columns) ^ set(expected.columns)
    assert list(actual[keys].itertuples(index=False)) == list(expected[keys].itertuples(index=False))
    for column in (c for c in actual.columns if c not in keys):
        got, want = actual[column], expected[column]
        if column.endswith(("_count", "_levels", "batch_ids", "_reaches_10bps", "_reaches_50bps", "_reaches_100bps")) or column in (
            "requested_depth", "is_inverse", "contract_snapshot_time",
        ):
            assert got.tolist() == want.tolist(), column
        else:
            np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=RTOL, atol=0, equal_nan=True, err_msg=column)


# --- the tests -----------------------------------------------------------------------------------


def test_book_snapshots_match_the_reference(built: Built) -> None:
    actual = frame(built.url, "select * from intermediate.int_order_book_snapshots order by symbol, observed_at, book_sequence")
    expected = expected_books(built)
    assert len(actual) == built.market.books.groupby(["symbol", "observed_at", "sequence"]).ngroups
    assert_frames_match(actual, expected, ["symbol", "observed_at", "book_sequence", "bucket_start"])


def test_hourly_market_structure_matches_the_reference(built: Built) -> None:
    actual = frame(built.url, "select * from intermediate.int_market_structure_1h order by symbol, bucket_start")
    expected = expected_hours(built, expected_books(built))
    assert_frames_match(actual, expected, ["symbol", "bucket_start"])


def test_the_planted_edge_cases_come_out_as_planted(built: Built) -> None:
    books = frame(built.url, "select * from intermediate.int_order_book_snapshots").set_index(["symbol", "observed_at"])
    hours = frame(built.url, "select * from intermediate.int_market_structure_1h").set_index(["symbol", "bucket_start"])
    at = synthetic_market.hour

    # XBTUSDTM's 20 levels never reach 50 bps: its depth there is a lower bound, flagged so
    xbt = books.loc["XBTUSDTM"]
    assert xbt["bid_reaches_10bps"].all() and not xbt["bid_reaches_50bps"].any() and not xbt["ask_reaches_100bps"].any()
    assert (xbt["bid_depth_quote_50bps"] == xbt["bid_depth_quote_100bps"]).all()
    # XBTUSDM's (inverse) sometimes reach 100 bps, sometimes not
    inverse = books.loc["XBTUSDM"]
    assert 0 < inverse["ask_reaches_100bps"].sum() < len(inverse) and inverse["is_inverse"].all()
    # a single ask level; an empty ask side (no mid: everything null but the counts and the bids)
    eth = books.loc["ETHUSDTM"].reset_index()
    single = eth.loc[eth["ask_levels"] == 1].iloc[0]
    assert single["bucket_start"] == at(synthetic_market.SINGLE_ASK[1]) and single["ask_reaches_100bps"] is False
    empty = eth.loc[eth["ask_levels"] == 0].iloc[0]
    assert empty["bucket_start"] == at(synthetic_market.NO_ASKS[1]) and empty["bid_levels"] == 20
    assert pd.isna(empty[["mid_price", "quoted_spread_bps", "bid_depth_quote_10bps", "imbalance_10bps", "imbalance_level_1"]]).all()
    assert empty["bid_reaches_10bps"] is None
    # the spec in force: before the first snapshot its earliest; a book exactly at a snapshot takes it
    first, second = synthetic.SNAPSHOT_TIMES
    all_books = books.reset_index()
    before = all_books.loc[all_books["observed_at"] < first]
    assert len(before) and (before["contract_snapshot_time"] == first).all()
    assert (all_books["observed_at"] == first).sum() == 3
    link = books.loc["LINKUSDTM"].reset_index()
    mid_hour = synthetic_market.hour(synthetic_market.MID_HOUR_SPEC[1])
    in_force = np.where(link["observed_at"] >= second, second, np.where(link["observed_at"] >= mid_hour, mid_hour, first))
    assert (link["contract_snapshot_time"] == in_force).all() and len(set(in_force)) == 3
    assert (link["observed_at"] == second).any() and (link["observed_at"] == mid_hour).any()

    # the flat hour: every return 0, lambda exactly 0; the silent hour: books, no trade, no lambda
    flat = hours.loc[synthetic_market.FLAT_HOUR[0], at(synthetic_market.FLAT_HOUR[1])]
    assert flat["kyle_lambda_pair_count"] >= MIN_PAIRS and flat["kyle_lambda_per_million_quote"] == 0.0
    silent = hours.loc[synthetic_market.SILENT_HOUR[0], at(synthetic_market.SILENT_HOUR[1])]
    assert synthetic_market.MISSED_RUN[0] == synthetic_market.SILENT_HOUR[1]  # hence 11 runs, not 12
    assert silent["trade_count"] == 0 and silent["book_snapshot_count"] == 11 and pd.isna(silent["kyle_lambda_per_million_quote"])
    # too few pairs: counted, no lambda
    link_hours = hours.loc["LINKUSDTM"]
    assert (link_hours["kyle_lambda_pair_count"].between(1, MIN_PAIRS - 1)).all() and link_hours["kyle_lambda_per_million_quote"].isna().all()
    # the tapes' impact comes out positive where there are enough pairs
    estimated = hours["kyle_lambda_per_million_quote"].dropna()
    assert (estimated.drop(index=flat.name) > 0).all()
    # tickers only
    doge = hours.loc["DOGEUSDTM"]
    assert (doge["book_snapshot_count"] == 0).all() and (doge["trade_count"] == 0).all() and doge["ticker_spread_bps_mean"].notna().all()


def test_pairs_never_span_a_missing_trade(built: Built) -> None:
    """Sequences are not consecutive, so the rule is the batch: every pair the model used lies
    within one clean batch of one hour; a batch that refused a trade gives none."""
    trades = built.market.trades
    refused_batch = built.market.batches.loc[built.market.batches["rows_quarantined"] > 0, "batch_id"].tolist()
    assert len(refused_batch) == 1 and len(built.market.refused_trade_ids) == 1
    steps = trades.sort_values(["symbol", "ts_ns"]).groupby("symbol")["sequence"].diff().dropna()
    assert (steps > 1).mean() > 0.9  # KuCoin-like: consecutive trades rarely have consecutive sequences
    pairs = fetch(built.url, "select sum(kyle_lambda_pair_count) from intermediate.int_market_structure_1h")[0][0]
    expected = expected_trade_hours(built)["kyle_lambda_pair_count"].sum()
    assert pairs == expected
    in_refused = trades.loc[trades["batch_id"] == refused_batch[0]]
    all_pairs_possible = sum(len(g) - 1 for _, g in trades.groupby(["symbol", "batch_id", trades["traded_at"].dt.floor("1h")]))
    assert pairs == all_pairs_possible - sum(
        len(g) - 1 for _, g in in_refused.groupby(["symbol", in_refused["traded_at"].dt.floor("1h")])
    )


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    return {
        "int_order_book_snapshots": fetch(url, "select * from intermediate.int_order_book_snapshots order by symbol, observed_at, book_sequence"),
        "int_market_structure_1h": fetch(url, "select * from intermediate.int_market_structure_1h order by symbol, bucket_start"),
    }


def test_consecutive_windows_equal_a_full_refresh(built: Built) -> None:
    windowed = snapshot(built.url)
    assert all(windowed.values())
    built.dbt.run("build", *SELECT, "--full-refresh")
    refreshed = snapshot(built.url)
    for model, rows in windowed.items():
        assert len(refreshed[model]) == len(rows), model
        for got, want in zip(refreshed[model], rows, strict=True):
            assert got == want, f"{model}: {got} != {want}"
