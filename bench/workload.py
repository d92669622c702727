"""The simulated market's data, computed in-process and stored the way the pipeline stores it.

Candles are the simulator's own: ``Market.candles`` of simulator/market.py, minus the minutes
the ``kline_gap`` fault withholds (drawn per symbol and minute by simulator/corrupt.py, exactly
as ``Exchange.klines`` drops them), i.e. what the kline endpoint would serve, without HTTP.
They are COPYed into raw.candles_1m in chunks of whole hours; each chunk writes what a batch of
the candle asset writes: its raw.load_batches ledger row, a raw.load_batch_symbols row per
symbol and a raw.load_batch_gaps row per minute not served, into partitions made by
raw.ensure_partitions.

Contract snapshots are the simulator's /api/v1/contracts/active objects at the snapshot time,
parsed by ccxt's own market parser and validated and loaded by the platform's code
(models.contracts, orchestration.ingestion.loader), as the contracts_snapshot job stores them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import ccxt
import numpy as np
import psycopg

from models.contracts import validate_contracts
from models.tables import CANDLES_1M, CONTRACTS
from orchestration.ingestion.batches import BatchSpec, LoadCounts, complete_batch, open_batch
from orchestration.ingestion.candles import ASSET as CANDLES_ASSET
from orchestration.ingestion.contracts import ASSET as CONTRACTS_ASSET
from orchestration.ingestion.loader import load_rows
from orchestration.ingestion.runner import checksum_of
from orchestration.ingestion.windows import HOUR, from_ms, hour_chunks, partition_key, to_ms
from simulator.config import SimulatorConfig
from simulator.exchange import Exchange
from simulator.faults import FaultProfile
from simulator.market import MINUTE_MS, Bars

SOURCE = "simulator (in-process, no HTTP)"
# What the contracts_snapshot job (hourly at :01) leaves before the market pipeline (at :02)
# loads the hours up to the full hour.
SNAPSHOT_DELAY = timedelta(minutes=1)
_CANDLE_COLUMNS = ("symbol", "open_time", "open", "high", "low", "close", "volume", "batch_id")


class WorkloadError(ValueError):
    """The simulated market cannot provide the workload asked for."""


@dataclass(frozen=True)
class LoadStats:
    """What a candle load wrote and how long it took: simulating the candles, and storing them
    (formatting them as CSV, COPY, ledger rows, in one transaction per chunk)."""

    rows: int
    gaps: int
    generate_seconds: float
    store_seconds: float


class OfflineKucoinFutures(ccxt.kucoinfutures):  # type: ignore[misc]
    """ccxt's kucoinfutures, answering /api/v1/contracts/active with given contract objects, so
    its own market parser (unified symbols, expiries) reads the simulator's answer without HTTP."""

    def __init__(self, contracts: Sequence[dict[str, Any]]) -> None:
        super().__init__()
        self._contracts = list(contracts)

    def futuresPublicGetContractsActive(self, params: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: N802 (ccxt's name)
        return {"code": "200000", "data": self._contracts}


@dataclass
class SimulatedMarket:
    """One simulator (seed, universe size, fault profile) as a source of candles and snapshots."""

    seed: int
    n_contracts: int
    kline_gap: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.kline_gap < 1.0:
            raise WorkloadError(f"kline_gap={self.kline_gap}: must be a share in [0, 1)")
        self._snapshots: dict[datetime, list[dict[str, Any]]] = {}

    @cached_property
    def exchange(self) -> Exchange:
        # Candles do not depend on the exchange clock; snapshots get an exchange of their own.
        return Exchange(self._config(None))

    def _config(self, now: datetime | None) -> SimulatorConfig:
        return SimulatorConfig(
            seed=self.seed, n_contracts=self.n_contracts, faults=FaultProfile(kline_gap=self.kline_gap),
            now_ms=to_ms(now) if now is not None else None,
        )

    def contracts_active(self, now: datetime) -> list[dict[str, Any]]:
        """The /api/v1/contracts/active objects at ``now`` (computed once per instant)."""
        if now not in self._snapshots:
            self._snapshots[now] = Exchange(self._config(now)).contracts_active()
        return self._snapshots[now]

    def most_traded(self, count: int, at: datetime, trading_from: datetime, trading_until: datetime) -> list[str]:
        """The ``count`` contracts with the largest 24h turnover at ``at`` (as the pipeline follows
        them) among those trading during all of [trading_from, trading_until), so every history
        length holds the same symbols, each at every minute."""
        whole = [
            o for o in self.contracts_active(at)
            if self.exchange.contract(o["symbol"]).trades_at(to_ms(trading_from))
            and self.exchange.contract(o["symbol"]).trades_at(to_ms(trading_until) - MINUTE_MS)
        ]
        if len(whole) < count:
            raise WorkloadError(
                f"symbols={count}: only {len(whole)} contracts trade throughout {trading_from:%Y-%m-%d %H:%M} .. "
                f"{trading_until:%Y-%m-%d %H:%M} UTC; ask for fewer symbols or a shorter history"
            )
        ranked = sorted(whole, key=lambda o: (-(o.get("turnoverOf24h") or 0.0), o["symbol"]))
        return [o["symbol"] for o in ranked[:count]]

    def served_candles(self, symbol: str, start: datetime, end: datetime) -> Bars:
        """The 1-minute candles with open time in [start, end) the kline endpoint serves."""
        bars = self.exchange.market.candles(self.exchange.contract(symbol), to_ms(start), to_ms(end))
        withheld = self.exchange.faults.hit("kline", "gap", symbol, bars.open_ms // MINUTE_MS)
        return bars.select(~withheld) if withheld.any() else bars


def load_contracts_snapshot(url: str, market: SimulatedMarket, snapshot_time: datetime, run_id: str) -> int:
    """One raw.contracts snapshot of every listed contract at ``snapshot_time``; returns its rows."""
    objects = market.contracts_active(snapshot_time)
    validation = validate_contracts(OfflineKucoinFutures(objects).fetch_contract_markets(), snapshot_time)
    if validation.rejections:
        raise WorkloadError(f"the contracts snapshot at {snapshot_time} has rejected records: {validation.rejections[0].detail}")
    batch_id = open_batch(url, BatchSpec(asset=CONTRACTS_ASSET, source=SOURCE, run_id=run_id, window_start=snapshot_time))
    with psycopg.connect(url) as conn, conn.transaction():
        counts = load_rows(conn, CONTRACTS, batch_id, validation.accepted, [])
        complete_batch(conn, batch_id, counts, 0, checksum_of(sorted(objects, key=lambda o: o["symbol"])))
    return counts.inserted


def load_candles(
    url: str, market: SimulatedMarket, symbols: Sequence[str], start: datetime, end: datetime, run_id: str, chunk_hours: int = 24,
) -> LoadStats:
    """The served candles of ``symbols`` over [start, end), one batch per chunk of whole hours
    (the candle asset's default chunk is 24 hours)."""
    totals = LoadStats(0, 0, 0.0, 0.0)
    for chunk_start, chunk_end in hour_chunks(start, end, chunk_hours):
        stats = _load_chunk(url, market, symbols, chunk_start, chunk_end, run_id)
        totals = LoadStats(
            totals.rows + stats.rows, totals.gaps + stats.gaps,
            totals.generate_seconds + stats.generate_seconds, totals.store_seconds + stats.store_seconds,
        )
    return totals


def _load_chunk(url: str, market: SimulatedMarket, symbols: Sequence[str], start: datetime, end: datetime, run_id: str) -> LoadStats:
    began = time.perf_counter()
    served = {symbol: market.served_candles(symbol, start, end) for symbol in symbols}
    minutes = np.arange(to_ms(start), to_ms(end), MINUTE_MS)
    gaps = {symbol: minutes[~np.isin(minutes, bars.open_ms)] for symbol, bars in served.items()}
    generated = time.perf_counter()
    spec = BatchSpec(
        asset=CANDLES_ASSET, source=SOURCE, run_id=run_id,
        partition_key=f"{partition_key(start)}...{partition_key(end - HOUR)}", window_start=start, window_end=end,
    )
    batch_id = open_batch(url, spec)
    text = _candles_csv(served, batch_id)
    rows = sum(len(bars) for bars in served.values())
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute(
            "select raw.ensure_partitions(%s::regclass, %s, %s, %s::interval)",
            (CANDLES_1M.qualified, start, end, CANDLES_1M.partition_step),
        )
        with conn.cursor().copy(f"copy {CANDLES_1M.qualified} ({', '.join(_CANDLE_COLUMNS)}) from stdin (format csv)") as copy:
            copy.write(text)
        with conn.cursor().copy(
            "copy raw.load_batch_symbols (batch_id, symbol, span_start, span_end, rows_fetched) from stdin"
        ) as copy:
            for symbol, bars in served.items():
                copy.write_row((batch_id, symbol, start, end, len(bars)))
        with conn.cursor().copy("copy raw.load_batch_gaps (batch_id, symbol, missing_at) from stdin") as copy:
            for symbol, missing in gaps.items():
                for ms in missing.tolist():
                    copy.write_row((batch_id, symbol, from_ms(ms)))
        # The checksum of what was stored, in key order: equal checksums mean identical candles.
        checksum = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
        complete_batch(conn, batch_id, LoadCounts(rows, rows, 0, 0), 0, checksum)
    return LoadStats(rows, sum(len(m) for m in gaps.values()), generated - began, time.perf_counter() - generated)


def _candles_csv(served: dict[str, Bars], batch_id: int) -> str:
    """raw.candles_1m rows as CSV in key order (symbol, open_time). Floats are written with repr,
    the shortest text that reads back as the same double; symbols are [A-Z0-9] (no quoting)."""
    lines = []
    for symbol, bars in sorted(served.items()):
        times = np.datetime_as_string(bars.open_ms.astype("datetime64[ms]"), unit="s")
        columns = (times.tolist(), bars.open.tolist(), bars.high.tolist(), bars.low.tolist(), bars.close.tolist(), bars.volume.tolist())
        lines += [f"{symbol},{t}Z,{o!r},{h!r},{lo!r},{c!r},{v!r},{batch_id}\n" for t, o, h, lo, c, v in zip(*columns, strict=True)]
    return "".join(lines)
