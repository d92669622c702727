"""Real recorded candles through the real pipeline: the simulator replays freqtrade's Binance
XRP/ETH 1-minute candles (tests/fixtures/candles, PROVENANCE.md), ccxt fetches them, Dagster loads
them into raw and dbt builds the indicators.

Two copies are replayed at once. The first is the file as it is: it has no missing minute and 2 054
flat candles, 1 091 of them without a trade. The second is the same file with minutes cut out:
a whole hour, an hour's first minute, an hour's last minute, and a run of 30 minutes. It also
has two hours cut down to a single flat minute, one with trades and one without, so those hours
become flat 1h bars. For both copies:
- the raw candles equal the file's rows, and every minute that was not served is recorded as a gap;
- the 1h bars equal the file's minutes aggregated here in pandas, exactly (decimal volumes);
- every indicator column equals TA-Lib (and the textbook references of indicator_reference)
  within 1e-9 relative, and is null exactly where the reference is NaN.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd

from orchestration.partitions import range_tags
from orchestration.runs import failure_messages
from tests.integration.dbt import indicator_reference
from tests.integration.pipeline.conftest import Pipeline, partition_key

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "candles"
SOURCE = FIXTURES / "XRP_ETH-1m.json"  # freqtrade/freqtrade@f3cfe14 tests/testdata/XRP_ETH-1m.json, verbatim
SOURCE_SHA256 = "86e153802dbef97101de49a977493be76a37321ebd5b8575b559336979c48335"
REPLAY = FIXTURES / "XRPETHUSDTM_1m.csv"
SHIFT_MS = 2555 * 86_400_000  # 365 weeks: 2019-10-11 (before the simulated market) -> 2026-10-09
COLUMNS = ["symbol", "open_time", "open", "high", "low", "close", "volume"]

REAL = "XRPETHUSDTM"
GAPPED = "XRPETHGAPUSDTM"
FIRST_HOUR = datetime(2026, 10, 9, tzinfo=UTC)
HOURS = 60  # 2026-10-09 00:00 .. 2026-10-11 11:00; the file's last hour has 20 minutes
EXCHANGE_NOW = FIRST_HOUR + timedelta(hours=HOURS, minutes=5)
MISSING_HOUR = 30
FLAT_TRADED_HOUR, FLAT_IDLE_HOUR = 40, 41  # hours cut down to one flat minute, with and without trades


def read_replay() -> pd.DataFrame:
    """The replay file, with prices and volumes kept as their text (exact decimals) and as floats."""
    text = pd.read_csv(REPLAY, dtype=str)
    frame = text.astype({"open_time": "int64", "open": float, "high": float, "low": float, "close": float, "volume": float})
    return frame.assign(close_text=text["close"], volume_text=text["volume"])


def test_the_fixture_is_the_source_file_shifted_by_365_weeks() -> None:
    assert hashlib.sha256(SOURCE.read_bytes()).hexdigest() == SOURCE_SHA256
    rows = json.loads(SOURCE.read_text(), parse_float=str, parse_int=str)
    with REPLAY.open(newline="") as file:
        reader = csv.reader(file)
        assert next(reader) == COLUMNS
        assert list(reader) == [[REAL, str(int(t) + SHIFT_MS), o, h, lo, c, v] for t, o, h, lo, c, v in rows]


def gapped_copy(candles: pd.DataFrame) -> pd.DataFrame:
    """The file as symbol GAPPED with minutes cut out, and two hours reduced to one flat minute each."""
    minute = (candles["open_time"] - int(FIRST_HOUR.timestamp() * 1000)) // 60_000
    hour, within = minute // 60, minute % 60
    flat = (candles["open"] == candles["high"]) & (candles["high"] == candles["low"]) & (candles["low"] == candles["close"])
    traded = candles["volume"] > 0

    def first(mask: pd.Series) -> pd.Series:
        return pd.Series(candles.index == mask.idxmax(), index=candles.index)  # the first row where mask holds

    keep = ~(
        (hour == MISSING_HOUR)
        | ((hour == 12) & (within == 0))  # the hour opens at its second minute
        | ((hour == 13) & (within == 59))  # ... closes at its last but one
        | ((hour == 20) & within.between(10, 39))
        | hour.isin([FLAT_TRADED_HOUR, FLAT_IDLE_HOUR])
    )
    keep |= first((hour == FLAT_TRADED_HOUR) & flat & traded) | first((hour == FLAT_IDLE_HOUR) & flat & ~traded)
    return candles.loc[keep].assign(symbol=GAPPED)


def hourly_bars(minutes: pd.DataFrame, lot_base_quantity: Decimal) -> pd.DataFrame:
    """1h bars of the given minutes, computed here: first open, highest high, lowest low, last close,
    and the exact decimal sums of lots, base volume (lots x lot) and turnover (lots x lot x close)."""
    lots = minutes["volume_text"].map(Decimal)
    frame = minutes.assign(
        bucket_start=pd.to_datetime(minutes["open_time"], unit="ms", utc=True).dt.floor("1h"),
        volume_lots=lots,
        volume_base=lots * lot_base_quantity,
        turnover_quote=lots * lot_base_quantity * minutes["close_text"].map(Decimal),
    ).sort_values(["symbol", "open_time"])
    bars = frame.groupby(["symbol", "bucket_start"], sort=True).agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last"),
        volume_lots=("volume_lots", "sum"), volume_base=("volume_base", "sum"), turnover_quote=("turnover_quote", "sum"),
        minute_count=("open_time", "size"),
    )
    return bars.reset_index()


def run_market_pipeline(pipeline: Pipeline, symbols: list[str]) -> dg.ExecuteInProcessResult:
    """The market pipeline over the file's hours as one run, for the replayed symbols only: the
    candles, their GX gate and every market dbt model and test (staging, intermediate, marts).
    Open interest and the portfolio are left out; they are not what this test checks."""
    from orchestration.assets.ingestion import kucoin_candles_1m
    from orchestration.assets.transformation import MARKET_LAYERS
    from orchestration.definitions import defs

    selection = dg.AssetSelection.assets(kucoin_candles_1m, *MARKET_LAYERS.values()).resolve(defs.resolve_asset_graph())
    return defs.resolve_job_def("market_pipeline").execute_in_process(
        instance=pipeline.instance,
        tags=range_tags(partition_key(FIRST_HOUR), partition_key(FIRST_HOUR + timedelta(hours=HOURS - 1))),
        run_config={"ops": {"raw__kucoin_candles_1m": {"config": {"symbols": symbols}}}},
        asset_selection=sorted(selection),
        raise_on_error=False,
    )


def test_real_candles_replayed_through_the_pipeline_give_talib_indicators(pipeline: Pipeline, tmp_path: Path) -> None:
    candles = read_replay()
    gapped = gapped_copy(candles)
    replay = tmp_path / "replay"
    replay.mkdir()
    shutil.copy(REPLAY, replay / REPLAY.name)
    gapped[COLUMNS].to_csv(replay / f"{GAPPED}_1m.csv", index=False)  # floats write back as the file's texts
    served = pd.concat([candles, gapped], ignore_index=True)

    pipeline.monkeypatch.setenv("ZMART_MAX_SYMBOLS", "0")  # every contract; the run config picks the replayed ones
    pipeline.start_simulator(n_contracts=10, now_ms=int(EXCHANGE_NOW.timestamp() * 1000), replay=replay)
    assert pipeline.run("contracts_snapshot").success
    result = run_market_pipeline(pipeline, [REAL, GAPPED])
    assert result.success, failure_messages(result)

    # raw: exactly the file's rows, nothing quarantined, every minute not served recorded as a gap
    stored = pipeline.query(
        "select symbol, (extract(epoch from open_time) * 1000)::bigint, open, high, low, close, volume "
        "from raw.candles_1m order by symbol, open_time"
    )
    expected_rows = served.sort_values(["symbol", "open_time"])[COLUMNS]
    assert stored == [tuple(row) for row in expected_rows.itertuples(index=False)]
    assert pipeline.query("select count(*) from quarantine.candles_1m") == [(0,)]
    requested = pd.date_range(FIRST_HOUR, FIRST_HOUR + timedelta(hours=HOURS), freq="1min", inclusive="left")
    for symbol, rows in served.groupby("symbol"):
        have = set(pd.to_datetime(rows["open_time"], unit="ms", utc=True))
        gaps = pipeline.query("select missing_at from raw.load_batch_gaps where symbol = %s order by missing_at", (symbol,))
        assert [g for (g,) in gaps] == [m.to_pydatetime() for m in requested if m not in have], symbol

    # 1h bars: the file's minutes aggregated, to the last digit
    [(lot,)] = pipeline.query("select distinct lot_base_quantity::numeric from staging.stg_kucoin__contracts where symbol = %s", (REAL,))
    expected_bars = hourly_bars(served, lot)
    bars = indicator_reference.read_frame(
        pipeline.url,
        "select symbol, bucket_start, open, high, low, close, volume_lots, volume_base, turnover_quote, minute_count "
        f"from intermediate.int_candles_1h where symbol in ('{REAL}', '{GAPPED}') order by symbol, bucket_start",
    )
    assert bars["minute_count"].sum() == len(served)
    for column in expected_bars.columns:
        assert bars[column].tolist() == expected_bars[column].tolist(), column
    gapped_bars = bars[bars["symbol"] == GAPPED].set_index("bucket_start")
    assert FIRST_HOUR + timedelta(hours=MISSING_HOUR) not in gapped_bars.index
    for flat_hour in (FLAT_TRADED_HOUR, FLAT_IDLE_HOUR):
        bar = gapped_bars.loc[FIRST_HOUR + timedelta(hours=flat_hour)]
        assert bar["minute_count"] == 1 and bar["open"] == bar["high"] == bar["low"] == bar["close"]
    assert gapped_bars.loc[FIRST_HOUR + timedelta(hours=FLAT_IDLE_HOUR), "volume_lots"] == 0

    # indicators: TA-Lib on the database's bars (equal to the file's, above)
    comparisons = indicator_reference.check_database(pipeline.url)
    print("\n" + indicator_reference.report(comparisons))
    failures = [c for c in comparisons if not c.ok(rtol=1e-9)]
    assert not failures, failures
    assert all(c.compared > 0 for c in comparisons)
    indicators = indicator_reference.read_frame(
        pipeline.url, "select symbol, bucket_start, hours_since_previous_bar from intermediate.int_indicators_1h"
    ).set_index(["symbol", "bucket_start"])
    assert len(indicators) == len(expected_bars)
    after_gap = (GAPPED, FIRST_HOUR + timedelta(hours=MISSING_HOUR + 1))
    assert indicators.loc[after_gap, "hours_since_previous_bar"] == 2  # the missing hour is skipped, not filled
