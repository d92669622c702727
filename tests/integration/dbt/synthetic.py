"""Deterministic synthetic raw data for the dbt tests, and the expectations derived from it.

Thirteen contracts over three days of 1-minute candles (2026-11-01 00:00 .. 2026-11-04 00:00 UTC):
linear contracts of several multipliers and one inverse contract (XBTUSDM, 1 USD per lot), with

* a flat stretch: ETHUSDTM trades at one price for eight hours (price change 0 each hour);
* a gap: SOLUSDTM has no candle for three hours, and one hour with five minutes missing;
* a late listing: NEWUSDTM starts at hour 36 and its first sixteen hours are flat (RSI's
  zero-movement branch) and is absent from the first contracts snapshot;
* a delisting: DOTUSDTM stops trading at hour 48 and is absent from the second snapshot;
* a multiplier change: LINKUSDTM's multiplier differs between the two snapshots;
* an hour of XBTUSDTM whose minutes came in two load batches;
* a contract quoted around 2e-7 (MICROUSDTM): hourly moves of ~1e-10 and money flows below 1,
  where fixed-epsilon zero tests (TA-Lib's former 1e-8 band, MFI's former threshold of 1) would
  zero the oscillators.

Every value is generated from fixed seeds; volumes are whole lots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 72
END = START + timedelta(hours=HOURS)
SNAPSHOT_TIMES = (START + timedelta(hours=2), START + timedelta(hours=48))
# hour offsets from START that cut the history into the windows of the windowed-build tests: a
# 7-hour first build (inside every warm-up and a 4h block), a single hour, a day across the start
# of the flat stretch and of the late listing, a window ending inside SOLUSDTM's gap (hours
# 40..42) and one starting inside it and running past the delisting to the end.
BOUNDARIES = (0, 7, 8, 33, 41, HOURS)


def hour(offset: int) -> datetime:
    return START + timedelta(hours=offset)


@dataclass(frozen=True)
class Instrument:
    symbol: str
    price: float
    multipliers: tuple[float, float]  # in the first and second snapshot; -1: inverse
    first_hour: int = 0
    last_hour: int = HOURS  # exclusive

    @property
    def is_inverse(self) -> bool:
        return self.multipliers[0] < 0


INSTRUMENTS = (
    Instrument("XBTUSDTM", 60_000.0, (0.001, 0.001)),
    Instrument("ETHUSDTM", 3_000.0, (0.01, 0.01)),
    Instrument("SOLUSDTM", 150.0, (0.1, 0.1)),
    Instrument("XBTUSDM", 60_000.0, (-1.0, -1.0)),
    Instrument("DOGEUSDTM", 0.15, (100.0, 100.0)),
    Instrument("XRPUSDTM", 0.6, (10.0, 10.0)),
    Instrument("ADAUSDTM", 0.5, (10.0, 10.0)),
    Instrument("LINKUSDTM", 15.0, (0.1, 1.0)),
    Instrument("AVAXUSDTM", 30.0, (0.1, 0.1)),
    Instrument("DOTUSDTM", 6.0, (1.0, 1.0), last_hour=48),
    Instrument("BNBUSDTM", 600.0, (0.01, 0.01)),
    Instrument("NEWUSDTM", 2.0, (1.0, 1.0), first_hour=36),
    Instrument("MICROUSDTM", 2e-7, (1.0, 1.0)),
)
FLAT_HOURS = {"ETHUSDTM": range(30, 38), "NEWUSDTM": range(36, 52)}
GAP_HOURS = {"SOLUSDTM": range(40, 43)}
PARTIAL_HOUR = ("SOLUSDTM", 50, range(10, 15))  # symbol, hour, missing minutes
SPLIT_HOUR = ("XBTUSDTM", 5, 30)  # minutes >= 30 of this hour came in a later batch
IN_SECOND_SNAPSHOT = {i.symbol for i in INSTRUMENTS} - {"DOTUSDTM"}
IN_FIRST_SNAPSHOT = {i.symbol for i in INSTRUMENTS} - {"NEWUSDTM"}


@dataclass(frozen=True)
class Synthetic:
    candles: pd.DataFrame  # raw.candles_1m rows
    contracts: pd.DataFrame  # raw.contracts rows (the columns the models read)
    batch_ids: list[int]  # every raw.load_batches id inserted
    evaluations: pd.DataFrame  # portfolio.evaluations rows (with ids)


def minute_candles(instrument: Instrument, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    minutes = (instrument.last_hour - instrument.first_hour) * 60
    times = pd.date_range(START + timedelta(hours=instrument.first_hour), periods=minutes, freq="1min")
    returns = rng.normal(0.0, 0.0015, minutes)
    hour_of = (times - pd.Timestamp(START)) // pd.Timedelta(hours=1)
    flat = np.isin(hour_of, list(FLAT_HOURS.get(instrument.symbol, ())))
    returns[flat] = 0.0
    decimals = 6 if instrument.price >= 0.001 else 13  # ~6 significant digits for the micro-priced contract
    closes = np.round(instrument.price * np.exp(np.cumsum(returns)), decimals)
    opens = np.concatenate([[np.round(instrument.price, decimals)], closes[:-1]])
    wiggle = np.abs(rng.normal(0.0, 0.0005, (2, minutes)))
    wiggle[:, flat] = 0.0
    highs = np.round(np.maximum(opens, closes) * (1 + wiggle[0]), decimals)
    lows = np.round(np.minimum(opens, closes) * (1 - wiggle[1]), decimals)
    volumes = rng.integers(1, 500, minutes).astype(float)
    frame = pd.DataFrame(
        {"symbol": instrument.symbol, "open_time": times, "open": opens, "high": highs, "low": lows, "close": closes, "volume": volumes}
    )
    keep = ~np.isin(hour_of, list(GAP_HOURS.get(instrument.symbol, ())))
    if instrument.symbol == PARTIAL_HOUR[0]:
        keep &= ~((hour_of == PARTIAL_HOUR[1]) & np.isin(times.minute, list(PARTIAL_HOUR[2])))
    return frame.loc[keep].reset_index(drop=True)


def populate(url: str) -> Synthetic:
    """Insert the synthetic raw rows (and two portfolio evaluations) into a migrated database."""
    candles = pd.concat([minute_candles(i, seed) for seed, i in enumerate(INSTRUMENTS)], ignore_index=True)
    with psycopg.connect(url) as conn:
        conn.execute("select raw.ensure_partitions('raw.candles_1m', %s, %s, interval '1 day')", (START, END))
        conn.execute("select raw.ensure_partitions('raw.contracts', %s, %s, interval '1 month')", (START, END))
        contract_batches = [insert_batch(conn, "kucoin_contracts", None, None, len(INSTRUMENTS)) for _ in SNAPSHOT_TIMES]
        day_batches = [
            insert_batch(conn, "kucoin_candles_1m", START + timedelta(days=d), START + timedelta(days=d + 1), 0) for d in range(3)
        ]
        late_batch = insert_batch(conn, "kucoin_candles_1m", START, START + timedelta(days=1), 0)
        candles["batch_id"] = [day_batches[d] for d in (candles["open_time"] - pd.Timestamp(START)) // pd.Timedelta(days=1)]
        split_symbol, split_hour, split_minute = SPLIT_HOUR
        late = (candles["symbol"] == split_symbol) & (
            candles["open_time"] >= pd.Timestamp(START + timedelta(hours=split_hour, minutes=split_minute))
        ) & (candles["open_time"] < pd.Timestamp(START + timedelta(hours=split_hour + 1)))
        candles.loc[late, "batch_id"] = late_batch
        contracts = _contracts(contract_batches)
        copy_rows(conn, "raw.candles_1m", candles)
        insert_contracts(conn, contracts)
        for batch_id, count in candles.groupby("batch_id").size().items():
            conn.execute(
                "update raw.load_batches set rows_in = %s, rows_inserted = %s where batch_id = %s", (int(count), int(count), int(batch_id))
            )
        evaluations = _portfolio(conn)
    return Synthetic(candles, contracts, [*contract_batches, *day_batches, late_batch], evaluations)


def insert_batch(conn: psycopg.Connection, asset: str, start: datetime | None, end: datetime | None, rows: int) -> int:
    row = conn.execute(
        """
        insert into raw.load_batches (asset, partition_key, window_start, window_end, source, run_id, status,
                                      request_count, rows_in, rows_inserted, checksum, finished_at)
        values (%s, %s, %s, %s, 'synthetic', 'test', 'succeeded', 1, %s, %s, 'synthetic', clock_timestamp())
        returning batch_id
        """,
        (asset, start.strftime("%Y-%m-%d-%H:%M") if start else None, start, end, rows, rows),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _contracts(batch_ids: list[int]) -> pd.DataFrame:
    rows = []
    for k, (snapshot_time, batch_id) in enumerate(zip(SNAPSHOT_TIMES, batch_ids, strict=True)):
        listed = IN_FIRST_SNAPSHOT if k == 0 else IN_SECOND_SNAPSHOT
        for i in INSTRUMENTS:
            if i.symbol not in listed:
                continue
            base = i.symbol.removesuffix("USDTM").removesuffix("USDM")
            rows.append(
                {
                    "snapshot_time": snapshot_time,
                    "symbol": i.symbol,
                    "unified_symbol": f"{base}/USD:{base}" if i.is_inverse else f"{base}/USDT:USDT",
                    "contract_type": "FFWCSX",
                    "status": "Open",
                    "base_currency": base,
                    "quote_currency": "USD" if i.is_inverse else "USDT",
                    "settle_currency": base if i.is_inverse else "USDT",
                    "is_inverse": i.is_inverse,
                    "multiplier": i.multipliers[k],
                    "lot_size": 1.0,
                    "tick_size": 0.01,
                    "max_leverage": 50.0,
                    "first_open_time": START + timedelta(hours=i.first_hour),
                    "funding_granularity_ms": 28_800_000,
                    "turnover_24h": 1_000_000.0,
                    "batch_id": batch_id,
                }
            )
    return pd.DataFrame(rows)


def copy_rows(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> None:
    columns = list(frame.columns)
    with conn.cursor() as cur, cur.copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
        for row in frame.itertuples(index=False):
            copy.write_row(row)


def insert_contracts(conn: psycopg.Connection, contracts: pd.DataFrame) -> None:
    with conn.cursor() as cur:
        for row in contracts.to_dict("records"):
            cur.execute(
                f"""
                insert into raw.contracts ({", ".join(row)}, payload)
                values ({", ".join(["%s"] * len(row))}, %s)
                """,
                [*row.values(), Jsonb({"symbol": row["symbol"]})],
            )


PORTFOLIO_AS_OF = (END - timedelta(hours=2), END - timedelta(hours=1))
WARMUP_AS_OF = END - timedelta(hours=3)
FIRST_HOLDINGS = ["XBTUSDTM", "ETHUSDTM", "SOLUSDTM", "XBTUSDM", "DOGEUSDTM", "XRPUSDTM", "ADAUSDTM", "LINKUSDTM", "AVAXUSDTM", "BNBUSDTM"]
SECOND_HOLDINGS = [*FIRST_HOLDINGS[:9], "NEWUSDTM"]  # BNBUSDTM removed, NEWUSDTM added


def _portfolio(conn: psycopg.Connection) -> pd.DataFrame:
    """Evaluations of v1 as the portfolio manager would write them: a warm-up hour left not
    formed, then two formed portfolios (ten equal weights each)."""
    ids = []
    with conn.transaction():
        row = conn.execute(
            "insert into portfolio.evaluations (as_of, algorithm_version, run_id, universe_size, eligible_count, outcome, "
            "outcome_reason, score_batch_ids) values (%s, 'v1', 'test', 12, 4, 'not_formed', 'synthetic warm-up', '{1}') "
            "returning evaluation_id",
            (WARMUP_AS_OF,),
        ).fetchone()
        assert row is not None
        ids.append((int(row[0]), WARMUP_AS_OF))
    for as_of, holdings, previous in ((PORTFOLIO_AS_OF[0], FIRST_HOLDINGS, []), (PORTFOLIO_AS_OF[1], SECOND_HOLDINGS, FIRST_HOLDINGS)):
        with conn.transaction():
            row = conn.execute(
                "insert into portfolio.evaluations (as_of, algorithm_version, run_id, universe_size, eligible_count, outcome, "
                "outcome_reason, score_batch_ids) values (%s, 'v1', 'test', 12, 12, 'formed', 'synthetic', '{1,2}') "
                "returning evaluation_id",
                (as_of,),
            ).fetchone()
            assert row is not None
            evaluation_id = int(row[0])
            for position, symbol in enumerate(holdings, start=1):
                conn.execute(
                    "insert into portfolio.composition values (%s, %s, %s, %s, %s)",
                    (evaluation_id, symbol, position, Decimal("0.1"), 1.0 - position / 20),
                )
            for rank, symbol in enumerate(dict.fromkeys([*holdings, *previous]), start=1):
                action = "hold" if symbol in holdings and symbol in previous else "add" if symbol in holdings else "remove"
                conn.execute(
                    "insert into portfolio.decisions (evaluation_id, symbol, action, reason, composite_score, score_rank, details) "
                    "values (%s, %s, %s, %s, %s, %s, %s)",
                    (evaluation_id, symbol, action, f"synthetic {action}", 1.0 - rank / 20, rank, Jsonb({"keep_rank": 20})),
                )
            ids.append((evaluation_id, as_of))
    return pd.DataFrame(ids, columns=["evaluation_id", "as_of"])


def contract_in_force(contracts: pd.DataFrame, symbol: str, bucket_end: pd.Timestamp) -> pd.Series:
    """The spec the models must use for a bucket: latest snapshot at or before its end, else the earliest."""
    own = contracts.loc[contracts["symbol"] == symbol].sort_values("snapshot_time")
    before = own.loc[own["snapshot_time"] <= bucket_end]
    return (before if len(before) else own).iloc[-1 if len(before) else 0]


def as_numeric(value: float) -> Decimal:
    """A double as PostgreSQL casts it to numeric (15 significant digits)."""
    return Decimal(f"{value:.15g}")


def converted_minutes(data: Synthetic) -> pd.DataFrame:
    """Each 1-minute candle with its volumes converted by the spec in force at the end of its UTC
    hour: volume_base and turnover_quote as floats, and turnover_exact (plus volume_base_exact for
    linear contracts) as the exact Decimal the numeric SQL must reproduce."""
    minutes = data.candles.sort_values(["symbol", "open_time"]).reset_index(drop=True)
    hour_end = minutes["open_time"].dt.floor("1h") + pd.Timedelta(hours=1)
    specs = {
        (symbol, end): contract_in_force(data.contracts, symbol, end)
        for symbol, end in set(zip(minutes["symbol"], hour_end, strict=True))
    }
    base, turnover, base_exact, turnover_exact = [], [], [], []
    for symbol, end, lots, close in zip(minutes["symbol"], hour_end, minutes["volume"], minutes["close"], strict=True):
        spec = specs[(symbol, end)]
        if spec["is_inverse"]:
            base.append(lots / close)
            turnover.append(lots)
            base_exact.append(None)
            turnover_exact.append(as_numeric(lots))
        else:
            base.append(lots * spec["multiplier"])
            turnover.append(lots * spec["multiplier"] * close)
            base_exact.append(as_numeric(lots) * as_numeric(spec["multiplier"]))
            turnover_exact.append(as_numeric(lots) * as_numeric(spec["multiplier"]) * as_numeric(close))
    return minutes.assign(
        volume_base=base, turnover_quote=turnover, volume_base_exact=base_exact, turnover_exact=turnover_exact,
        contract_batch_id=[int(specs[k]["batch_id"]) for k in zip(minutes["symbol"], hour_end, strict=True)],
    )


ROLLUP_FREQUENCIES = {"5m": "5min", "15m": "15min", "1h": "1h", "4h": "4h", "1d": "1D"}


def expected_candles(data: Synthetic, timeframe: str, minutes: pd.DataFrame | None = None) -> pd.DataFrame:
    """int_candles_<timeframe> computed independently with pandas from the minutes: UTC buckets
    (4h blocks and days from midnight), buckets without candles dropped."""
    minutes = converted_minutes(data) if minutes is None else minutes
    frequency = ROLLUP_FREQUENCIES[timeframe]
    bucket = minutes["open_time"].dt.floor(frequency)
    grouped = minutes.assign(bucket_start=bucket).groupby(["symbol", "bucket_start"], sort=True)
    result = grouped.agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last"),
        volume_lots=("volume", "sum"), minute_count=("volume", "size"), volume_base=("volume_base", "sum"),
        turnover_quote=("turnover_quote", "sum"),
    ).reset_index()
    result["turnover_exact"] = grouped["turnover_exact"].apply(lambda values: sum(values, Decimal(0))).to_numpy()
    result["volume_base_exact"] = grouped["volume_base_exact"].apply(
        lambda values: None if any(v is None for v in values) else sum(values, Decimal(0))
    ).to_numpy()
    result["batch_ids"] = [
        sorted({*map(int, rows["batch_id"]), *map(int, rows["contract_batch_id"])}) for _, rows in grouped
    ]
    result["bucket_end"] = result["bucket_start"] + pd.Timedelta(frequency)
    result["is_complete"] = result["minute_count"] == pd.Timedelta(frequency) // pd.Timedelta(minutes=1)
    return result


def expected_candles_1h(data: Synthetic) -> pd.DataFrame:
    """int_candles_1h computed independently with pandas: resample each contract's minutes to UTC hours."""
    frames = []
    for symbol, minutes in data.candles.groupby("symbol"):
        m = minutes.set_index("open_time").sort_index()
        hourly = m.resample("1h").agg(
            {"open": "first", "high": "max", "low": "min", "close": "last", "volume": ["sum", "count"]}
        )
        hourly.columns = ["open", "high", "low", "close", "volume_lots", "minute_count"]
        hourly = hourly.loc[hourly["minute_count"] > 0].copy()
        volume_base, turnover, batches = [], [], []
        for bucket_start in hourly.index:
            spec = contract_in_force(data.contracts, str(symbol), bucket_start + pd.Timedelta(hours=1))
            rows = m.loc[bucket_start : bucket_start + pd.Timedelta(minutes=59)]
            if spec["is_inverse"]:
                volume_base.append(float((rows["volume"] / rows["close"]).sum()))
                turnover.append(float(rows["volume"].sum()))
            else:
                volume_base.append(float((rows["volume"] * spec["multiplier"]).sum()))
                turnover.append(float((rows["volume"] * spec["multiplier"] * rows["close"]).sum()))
            batches.append(sorted({*map(int, rows["batch_id"]), int(spec["batch_id"])}))
        hourly["volume_base"] = volume_base
        hourly["turnover_quote"] = turnover
        hourly["batch_ids"] = batches
        hourly["symbol"] = symbol
        frames.append(hourly.reset_index(names="bucket_start"))
    result = pd.concat(frames, ignore_index=True)
    result["is_complete"] = result["minute_count"] == 60
    return result.sort_values(["symbol", "bucket_start"], ignore_index=True)
