"""Benchmark: the pipeline's stages end to end on a reproducible workload, against baselines
measured in the same run.

A fresh migrated database of a throwaway cluster gets, through the project's own ingestion code
and ccxt against the project's simulator on loopback (a child process, frozen clock): a contracts
snapshot, a tickers snapshot and N symbols x D days of 1-minute candles (one batch per 24-hour
chunk, as the candle asset loads a backfill). Then, as one single-run backfill of that history
runs them: the raw candle GX gates over the window, the market models (``dbt build`` with the
history as window), the portfolio manager over the last day of the history (``evaluate_window``,
one evaluation per hour), its GX gate and the portfolio models (``dbt build --select
tag:portfolio`` of that day). Each stage is timed, with the peak memory of this process, of its
child processes (dbt, the simulator) and of the PostgreSQL server (bench/memory.py).

Baselines, in the same run and cluster:
(a) psycopg ``COPY`` of exactly the candle rows stored into an identical empty table (same
    columns, keys, indexes and daily partitions), against the ingest stage end to end and its
    loader part alone;
(b) TA-Lib computing the indicators the dbt indicator models compute (where TA-Lib has them) on
    the same 1h bars, against those models' execution time in run_results.json (and TA-Lib end
    to end: the bars read, the outputs written back into a table);
(c) the hourly increment (bench.incremental_hour.measure_increment) on top of this database and
    of a second one with the other history length of ``compare_days``, loaded and built the same way.

    python -m bench.end_to_end --size S      # 50 symbols x 7 days
    python -m bench.end_to_end --size M      # 500 symbols x 30 days (21.6M candles)
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
import psycopg
import talib
import yaml
from rich.console import Console

from bench import report
from bench.cluster import migrated_database, scratch_cluster, server_pid, server_version
from bench.dbt import PORTFOLIO_SELECTION, DbtInvocation, run_market_models
from bench.incremental_hour import DEFAULT_END, HistoryResult, Increment, measure_increment, settle_line, settled
from bench.machine import load_average, this_machine
from bench.memory import PeakSampler, Peaks
from bench.workload import SNAPSHOT_DELAY, LoadStats, SimulatedMarket, load_candles
from models.tables import CANDLES_1M, RawTable
from orchestration.embedded_postgres import EmbeddedPostgres
from orchestration.ingestion import candles, contracts, runner, tickers
from orchestration.ingestion.per_symbol import report_failures
from orchestration.ingestion.universe import select_universe
from orchestration.ingestion.windows import HOUR
from orchestration.portfolio.manager import evaluate_window
from orchestration.portfolio.selection import ALGORITHM_VERSION
from orchestration.resources.exchange import KucoinFuturesResource
from orchestration.settings import DBT_PROJECT_DIR
from quality.gate import GateResult, run_suite
from quality.suites import portfolio, raw_candles
from simulator.config import DEFAULT_CONTRACTS, DEFAULT_SEED, MAX_POOL_WEIGHT, SimulatorConfig
from simulator.server import SimulatorProcess

NAME = "end_to_end"
RESULTS_DIR = Path(__file__).parent / "results"
DOCS_FILE = Path(__file__).parents[1] / "docs" / "benchmarks.md"
SIZES = {"S": (50, 7), "M": (500, 30)}  # symbols, days
# The exchange's frozen clock: five minutes after the history ends, as in the pipeline tests.
CLOCK_AFTER_END = timedelta(minutes=5)
# The simulator's pools and the client's budget are raised to the largest the simulator allows, so
# the ingest measures the platform, not KuCoin's 2000 weight per 30 s (see the docs).
POOL_WEIGHT = MAX_POOL_WEIGHT
POLICY = "default"
# Building 700 contracts' markets takes the simulator tens of seconds; under nice on a loaded machine, minutes.
SIMULATOR_STARTUP_SECONDS = 900.0
RUN_ID = "bench-end-to-end"
COPY_BLOCK = 1 << 20
# "Flat": the increment of the longest history costs at most this much more than the shortest one's.
FLAT_LIMIT = 1.25
INDICATOR_MODEL_PREFIX = "int_indicators_1h_"
_CANDLE_COLUMNS = ("symbol", "open_time", "open", "high", "low", "close", "volume", "batch_id")

Progress = Callable[[str], None]
T = TypeVar("T")


class ConfigError(ValueError):
    """A benchmark setting breaks its rule."""


class BenchmarkError(RuntimeError):
    """A stage did not do what the pipeline requires (a gate failed, symbols are missing)."""


@dataclass(frozen=True)
class Config:
    size: str = "S"
    symbols: int = SIZES["S"][0]
    days: int = SIZES["S"][1]
    compare_days: tuple[int, int] = (7, 30)  # history lengths of the incremental-hour comparison
    increments: int = 3
    portfolio_hours: int = 24
    end: datetime = DEFAULT_END
    seed: int = DEFAULT_SEED
    contracts: int = DEFAULT_CONTRACTS

    def __post_init__(self) -> None:
        if self.symbols < 1:
            raise ConfigError(f"symbols={self.symbols}: must be at least 1")
        if self.days < 1:
            raise ConfigError(f"days={self.days}: must be at least 1")
        if len(set(self.compare_days)) != 2 or self.days not in self.compare_days:
            raise ConfigError(f"compare_days={self.compare_days}: must be two distinct lengths, one of them days={self.days}")
        if self.increments < 1:
            raise ConfigError(f"increments={self.increments}: must be at least 1")
        if not 1 <= self.portfolio_hours <= 24 * self.days:
            raise ConfigError(f"portfolio_hours={self.portfolio_hours}: must be between 1 and the history's {24 * self.days} hours")
        if self.end.tzinfo is None or self.end.utcoffset() != timedelta(0) or self.end.timestamp() % 3600:
            raise ConfigError(f"end={self.end.isoformat()}: must be a whole UTC hour with its offset")

    @classmethod
    def of_size(cls, size: str, **settings: Any) -> Config:
        if size not in SIZES:
            raise ConfigError(f"size={size!r}: must be one of {', '.join(SIZES)}")
        symbols, days = SIZES[size]
        return cls(size=size, symbols=symbols, days=days, **settings)

    @property
    def other_days(self) -> int:
        return next(d for d in self.compare_days if d != self.days)

    def start(self, days: int) -> datetime:
        return self.end - timedelta(days=days)


@dataclass(frozen=True)
class Stage:
    name: str
    seconds: float
    rows: int
    unit: str  # what the rows are
    peaks: Peaks
    detail: str = ""

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


@dataclass(frozen=True)
class Ingest:
    """What the ingestion wrote: candle rows, snapshot rows, requests, and where the time went."""

    candle_rows: int
    contract_rows: int
    ticker_rows: int
    requests: int
    contracts_seconds: float
    tickers_seconds: float
    candles_seconds: float  # the candle load end to end: HTTP, ccxt, validation, loader
    loader_seconds: dict[str, float]  # per raw table: the loader's transaction (COPY, ledger)

    @property
    def seconds(self) -> float:
        return self.contracts_seconds + self.tickers_seconds + self.candles_seconds


@dataclass(frozen=True)
class CopyBaseline:
    rows: int
    seconds: float
    megabytes: float


@dataclass(frozen=True)
class TalibBaseline:
    bars: int
    symbols: int
    read_seconds: float  # the 1h bars from PostgreSQL into numpy
    compute_seconds: float  # TA-Lib over every symbol's arrays
    write_seconds: float  # the outputs COPYed into a table, one row per bar, and its key indexed
    functions: tuple[str, ...]
    outputs: int  # columns written, one per output series

    @property
    def persisted_seconds(self) -> float:
        """Read, compute and write: what an in-process indicator step would take end to end."""
        return self.read_seconds + self.compute_seconds + self.write_seconds


@dataclass(frozen=True)
class Result(report.Measurement):
    config: Config
    symbols: tuple[str, ...]
    ingest: Ingest
    stages: tuple[Stage, ...]
    market_build: DbtInvocation
    copy: CopyBaseline
    talib: TalibBaseline
    histories: tuple[HistoryResult, ...]  # the incremental-hour comparison, shortest first
    evaluations_formed: int

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @property
    def pipeline_seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    @property
    def indicator_model_seconds(self) -> float:
        return sum(s for name, s in self.market_build.model_seconds().items() if name.startswith(INDICATOR_MODEL_PREFIX))

    def ratios(self) -> dict[str, float]:
        copy_rate = self.copy.rows / self.copy.seconds
        loader = self.ingest.loader_seconds.get(CANDLES_1M.name, 0.0)
        shortest, longest = self.histories[0], self.histories[-1]
        return {
            "ingest_over_copy": (self.ingest.candle_rows / self.ingest.candles_seconds) / copy_rate,
            "loader_over_copy": (self.ingest.candle_rows / loader) / copy_rate if loader else float("nan"),
            "dbt_indicators_over_talib": self.indicator_model_seconds / self.talib.compute_seconds,
            "dbt_indicators_over_talib_with_read": self.indicator_model_seconds / (self.talib.read_seconds + self.talib.compute_seconds),
            "dbt_indicators_over_talib_persisted": self.indicator_model_seconds / self.talib.persisted_seconds,
            "increment_build_longest_over_shortest": longest.median_build_seconds / shortest.median_build_seconds,
            "increment_execution_longest_over_shortest": longest.median_build_execution_seconds / shortest.median_build_execution_seconds,
        }


# -- the run ----------------------------------------------------------------------------------


def run(config: Config, cluster: EmbeddedPostgres, work_dir: Path, command: str = "", progress: Progress = lambda _: None) -> Result:
    started, load_before = datetime.now(UTC), load_average()
    market = SimulatedMarket(config.seed, config.contracts)
    longest = max(config.compare_days)
    symbols = market.most_traded(config.symbols, config.end + SNAPSHOT_DELAY, config.start(longest), config.end + config.increments * HOUR)
    pid = server_pid(cluster)
    simulator_config = SimulatorConfig(
        seed=config.seed, n_contracts=config.contracts, now_ms=int((config.end + CLOCK_AFTER_END).timestamp() * 1000),
        rate_limit_public=POOL_WEIGHT, rate_limit_unified=POOL_WEIGHT,
    )
    url = migrated_database(cluster, f"bench_e2e_{config.days}d")
    other_url = migrated_database(cluster, f"bench_e2e_{config.other_days}d")
    with SimulatorProcess(simulator_config, startup_timeout=SIMULATOR_STARTUP_SECONDS) as simulator:
        exchange = KucoinFuturesResource(mode="sim", sim_url=simulator.url, weight_budget=POOL_WEIGHT)
        progress(f"simulator at {simulator.url}; ingesting {len(symbols)} symbols x {config.days} days")
        ingest, ingest_peaks = _metered(pid, lambda: ingest_history(url, exchange, symbols, config.start(config.days), config.end, RUN_ID))
        progress(f"ingest: {ingest.candle_rows:,} candles in {ingest.candles_seconds:.1f} s ({ingest.requests:,} requests)")
        stages = [Stage("ingest", ingest.seconds, ingest.candle_rows, "candles", ingest_peaks,
                        f"{ingest.contract_rows:,} contract rows, {ingest.ticker_rows:,} ticker rows, {ingest.requests:,} HTTP requests")]
        later, market_build = _pipeline_stages(config, url, pid, work_dir / "main", ingest.candle_rows, progress)
        stages += later
        formed = _count(url, "select count(*) from portfolio.evaluations where outcome = 'formed'")

        progress("(a) raw COPY of the same candles into an identical empty table")
        copy = copy_baseline(url, config.start(config.days), config.end, work_dir)
        progress(f"(a) COPY: {copy.rows:,} rows in {copy.seconds:.1f} s")
        progress("(b) TA-Lib on the same 1h bars")
        ta = talib_baseline(url)
        progress(f"(b) TA-Lib: {ta.bars:,} bars, read {ta.read_seconds:.2f} s, computed {ta.compute_seconds:.3f} s, written {ta.write_seconds:.2f} s")

        progress(f"(c) the {config.other_days}-day history: snapshots through the ingestion, candles COPYed in process, full dbt build")
        other = other_history(other_url, exchange, market, symbols, config, work_dir / "other")
    cases = {h.days: h for h in settled(cluster, [_history(config.days, url, config, ingest, market_build), other], progress)}
    increments: dict[int, list[Increment]] = defaultdict(list)
    for k in range(config.increments):  # hour k of both histories back to back: they share the machine's load
        for days, case in sorted(cases.items()):
            increments[days].append(measure_increment(cluster, case, market, symbols, config.end + k * HOUR, work_dir / f"inc{days}", progress))
    histories = tuple(replace(cases[d], increments=tuple(increments[d])) for d in sorted(cases))
    machine = this_machine(server_version(cluster.url("postgres")))
    return Result(
        name=NAME, command=command, machine=machine, started_at=started, finished_at=datetime.now(UTC), load_average_before=load_before,
        load_average_after=load_average(), config=config, symbols=tuple(symbols), ingest=ingest, stages=tuple(stages),
        market_build=market_build, copy=copy, talib=ta, histories=histories, evaluations_formed=formed,
    )


def _metered(pid: int | None, work: Callable[[], T]) -> tuple[T, Peaks]:
    with PeakSampler(pid) as sampler:
        value = work()
    return value, sampler.peaks()


def _timed_stage(name: str, pid: int | None, work: Callable[[], tuple[int, str, str]]) -> Stage:
    """Run ``work`` (returning rows, their unit and a detail) timed and sampled as stage ``name``."""
    began = time.perf_counter()
    (rows, unit, detail), peaks = _metered(pid, work)
    return Stage(name, time.perf_counter() - began, rows, unit, peaks, detail)


def _pipeline_stages(
    config: Config, url: str, pid: int | None, work_dir: Path, candle_rows: int, progress: Progress,
) -> tuple[list[Stage], DbtInvocation]:
    """The stages after ingestion, in the order a single-run backfill of the history runs them,
    and the market models' build (its node times are baseline (b)'s)."""
    built: list[DbtInvocation] = []
    start, end = config.start(config.days), config.end
    portfolio_start = end - config.portfolio_hours * HOUR

    def raw_gates() -> tuple[int, str, str]:
        results = [_passed(run_suite(url, raw_candles.suite(start, end))), _passed(run_suite(url, raw_candles.completeness_suite(start, end)))]
        return candle_rows, "candles", "; ".join(r.summary() for r in results)

    def market_models() -> tuple[int, str, str]:
        build = run_market_models("build", url, work_dir, start, end)
        built.append(build)
        models, tests = (sum(1 for n in build.nodes if n.resource_type == kind) for kind in ("model", "test"))
        return candle_rows, "candles", f"{models} models, {tests} data tests; dbt execution {build.dbt_elapsed_seconds:.1f} s"

    def manager() -> tuple[int, str, str]:
        outcomes = evaluate_window(url, portfolio_start, end, ALGORITHM_VERSION, POLICY, RUN_ID)
        formed = sum(o.formed for o in outcomes)
        return len(outcomes), "evaluations", f"hours {portfolio_start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC; {formed} formed"

    def portfolio_gate() -> tuple[int, str, str]:
        result = _passed(run_suite(url, portfolio.suite(portfolio_start, end, ALGORITHM_VERSION)))
        return config.portfolio_hours, "evaluations", result.summary()

    def portfolio_models() -> tuple[int, str, str]:
        build = run_market_models("build", url, work_dir, portfolio_start, end, PORTFOLIO_SELECTION)
        models, tests = (sum(1 for n in build.nodes if n.resource_type == kind) for kind in ("model", "test"))
        return config.portfolio_hours, "evaluations", f"{models} models, {tests} data tests"

    stages = []
    for name, work in (
        ("GX raw candle gates", raw_gates), ("dbt market models", market_models), ("portfolio manager", manager),
        ("GX portfolio gate", portfolio_gate), ("dbt portfolio models", portfolio_models),
    ):
        stages.append(_timed_stage(name, pid, work))
        progress(f"{name}: {stages[-1].seconds:.1f} s ({stages[-1].detail})")
    return stages, built[0]


def _passed(result: GateResult) -> GateResult:
    if not result.success:
        raise BenchmarkError(f"GX gate failed, the pipeline would stop here: {result.summary()}")
    return result


# -- ingestion through the project's code -------------------------------------------------------


class LoaderClock:
    """Seconds spent in the loader's transaction per raw table: ``runner._write`` (COPY straight
    or staged and insert-on-conflict, ledger rows, commit), timed around the real function while installed."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def installed(self) -> Iterator[LoaderClock]:
        original = runner._write  # noqa: SLF001 (timed, not replaced: the real loader runs)

        def timed(url: str, table: RawTable, batch_id: int, fetched: runner.Fetched, request_count: int) -> Any:
            began = time.perf_counter()
            try:
                return original(url, table, batch_id, fetched, request_count)
            finally:
                self.seconds[table.name] += time.perf_counter() - began

        runner._write = timed  # noqa: SLF001
        try:
            yield self
        finally:
            runner._write = original  # noqa: SLF001


def ingest_history(url: str, exchange: KucoinFuturesResource, symbols: Sequence[str], start: datetime, end: datetime, run_id: str) -> Ingest:
    """Contracts and tickers snapshots, then the candles of ``symbols`` over [start, end), as the
    assets load them (candles in 24-hour chunks, the asset's default)."""
    with LoaderClock().installed() as clock:
        began = time.perf_counter()
        contracts_batch = asyncio.run(contracts.ingest_contracts(url, exchange, run_id))
        contracts_done = time.perf_counter()
        tickers_batch = asyncio.run(tickers.ingest_tickers(url, exchange, run_id))
        tickers_done = time.perf_counter()
        wanted = set(symbols)
        instruments = [i for i in select_universe(url, start, end, 0) if i.symbol in wanted]
        if len(instruments) != len(wanted):
            missing = sorted(wanted - {i.symbol for i in instruments})
            raise BenchmarkError(f"symbols {', '.join(missing[:5])}: not open in the contracts snapshot the ingestion took")
        batches = asyncio.run(candles.ingest_candles(url, exchange, instruments, start, end, run_id))
        candles_done = time.perf_counter()
    failed = report_failures(batches, len(instruments))
    if failed:
        raise BenchmarkError(f"{len(failed)} symbols refused by the simulator; first: {failed[0].symbol}: {failed[0].error}")
    return Ingest(
        candle_rows=sum(b.counts.inserted for b in batches), contract_rows=contracts_batch.counts.inserted,
        ticker_rows=tickers_batch.counts.inserted,
        requests=contracts_batch.request_count + tickers_batch.request_count + sum(b.request_count for b in batches),
        contracts_seconds=contracts_done - began, tickers_seconds=tickers_done - contracts_done,
        candles_seconds=candles_done - tickers_done, loader_seconds=dict(clock.seconds),
    )


def other_history(
    url: str, exchange: KucoinFuturesResource, market: SimulatedMarket, symbols: Sequence[str], config: Config, work_dir: Path,
) -> HistoryResult:
    """The comparison's other history length, built like the main one except its candles: the same
    contracts and tickers snapshots through the ingestion (stamped at the wall clock, like the main
    database's), then the same served candles COPYed in process (bench.workload, no HTTP), which
    is much faster and stores the same rows."""
    days = config.other_days
    asyncio.run(contracts.ingest_contracts(url, exchange, RUN_ID))
    asyncio.run(tickers.ingest_tickers(url, exchange, RUN_ID))
    loaded = load_candles(url, market, symbols, config.start(days), config.end, RUN_ID)
    build = run_market_models("build", url, work_dir, config.start(days), config.end)
    return HistoryResult(days, url.rsplit("/", 1)[-1], config.start(days), config.end, loaded.rows, loaded, build, ())


def _history(days: int, url: str, config: Config, ingest: Ingest, build: DbtInvocation) -> HistoryResult:
    loader = ingest.loader_seconds.get(CANDLES_1M.name, 0.0)
    load = LoadStats(ingest.candle_rows, 0, ingest.candles_seconds - loader, loader)
    return HistoryResult(days, url.rsplit("/", 1)[-1], config.start(days), config.end, ingest.candle_rows, load, build, ())


# -- (a) raw COPY -------------------------------------------------------------------------------


def copy_baseline(
    url: str, start: datetime, end: datetime, work_dir: Path, around: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> CopyBaseline:
    """COPY the stored candles (dumped to a file first, untimed) into an identical empty table
    with its partitions made beforehand, in one transaction: the fastest way psycopg loads them.
    ``around`` encloses the timed COPY alone (bench.ingest meters its CPU seconds with it)."""
    dump = work_dir / "candles.csv"
    columns = ", ".join(_CANDLE_COLUMNS)
    with psycopg.connect(url) as conn, dump.open("wb") as out:
        with conn.cursor().copy(f"copy (select {columns} from {CANDLES_1M.qualified} order by symbol, open_time) to stdout (format csv)") as copy:
            for block in copy:
                out.write(block)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists bench_copy")
        conn.execute(f"create table bench_copy.{CANDLES_1M.name} (like {CANDLES_1M.qualified} including all) partition by range (open_time)")
        conn.execute(
            "select raw.ensure_partitions(%s::regclass, %s, %s, %s::interval)",
            (f"bench_copy.{CANDLES_1M.name}", start, end, CANDLES_1M.partition_step),
        )
    began = time.perf_counter()
    with around(), psycopg.connect(url) as conn, conn.transaction(), dump.open("rb") as source:
        with conn.cursor().copy(f"copy bench_copy.{CANDLES_1M.name} ({columns}) from stdin (format csv)") as copy:
            while block := source.read(COPY_BLOCK):
                copy.write(block)
    seconds = time.perf_counter() - began
    rows = _count(url, f"select count(*) from bench_copy.{CANDLES_1M.name}")
    size = dump.stat().st_size / 2**20
    dump.unlink()
    return CopyBaseline(rows, seconds, size)


# -- (b) TA-Lib ---------------------------------------------------------------------------------


def indicator_parameters() -> dict[str, Any]:
    """The dbt project's var ``indicators``: the parameters the indicator models were built with."""
    return dict(yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["indicators"])


def talib_baseline(url: str) -> TalibBaseline:
    """TA-Lib over each contract's 1h bars of intermediate.int_candles_1h (the bars the indicator
    models read), every function the models reproduce; the read from PostgreSQL, the computation
    and the write of the outputs back (one table, binary COPY, its key indexed) timed apart."""
    began = time.perf_counter()
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select symbol, bucket_start, high::float8, low::float8, close::float8, volume_base::float8 "
            "from intermediate.int_candles_1h order by symbol, bucket_start"
        ).fetchall()
    symbols = np.array([r[0] for r in rows])
    values = np.array([r[2:] for r in rows], dtype=float).reshape(-1, 4)
    bounds = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1], True]) if len(rows) else np.array([0])
    read = time.perf_counter() - began
    p = indicator_parameters()
    began = time.perf_counter()
    series: list[dict[str, np.ndarray]] = [
        _talib_indicators(*(np.ascontiguousarray(values[first:last, k]) for k in range(4)), p)
        for first, last in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    compute = time.perf_counter() - began
    names = list(series[0]) if series else []
    began = time.perf_counter()
    _write_indicators(url, [(r[0], r[1]) for r in rows], names, np.vstack([np.column_stack(list(s.values())) for s in series]) if series else np.empty((0, 0)))
    write = time.perf_counter() - began
    return TalibBaseline(len(rows), len(bounds) - 1, read, compute, write, _talib_functions(names), len(names))


def _talib_indicators(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, p: dict[str, Any]) -> dict[str, np.ndarray]:
    """The TA-Lib calls behind int_indicators_1h_{moving_averages, macd, momentum,
    directional_movement, volatility, volume}: each output series by name (function:output)."""
    out: dict[str, np.ndarray] = {}
    for n in p["sma_periods"]:
        out[f"SMA({n})"] = talib.SMA(close, n)
    for n in p["ema_periods"]:
        out[f"EMA({n})"] = talib.EMA(close, n)
    for n in p["wma_periods"]:
        out[f"WMA({n})"] = talib.WMA(close, n)
    macd, stoch, bb = p["macd"], p["stoch"], p["bbands"]
    out["MACD:macd"], out["MACD:signal"], out["MACD:hist"] = talib.MACD(close, macd["fast_period"], macd["slow_period"], macd["signal_period"])
    out["RSI"] = talib.RSI(close, p["rsi_period"])
    out["STOCH:k"], out["STOCH:d"] = talib.STOCH(
        high, low, close, stoch["fastk_period"], stoch["slowk_period"], talib.MA_Type.SMA, stoch["slowd_period"], talib.MA_Type.SMA
    )
    out["ROC"] = talib.ROC(close, p["roc_period"])
    n = p["adx_period"]
    out["ADX"] = talib.ADX(high, low, close, n)
    out["PLUS_DI"] = talib.PLUS_DI(high, low, close, n)
    out["MINUS_DI"] = talib.MINUS_DI(high, low, close, n)
    out["ATR"] = talib.ATR(high, low, close, p["atr_period"])
    out["BBANDS:upper"], out["BBANDS:middle"], out["BBANDS:lower"] = talib.BBANDS(
        close, bb["period"], float(bb["nbdev"]), float(bb["nbdev"]), talib.MA_Type.SMA
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        # the first bar has no return: the series is aligned on the bars, NaN first
        out["STDDEV(log returns)"] = np.r_[np.nan, talib.STDDEV(np.log(close[1:] / close[:-1]), p["realized_volatility_period"], 1.0)]
    out["OBV"] = talib.OBV(close, volume)
    out["MFI"] = talib.MFI(high, low, close, volume, p["mfi_period"])
    return out


def _talib_functions(names: list[str]) -> tuple[str, ...]:
    """The functions called, once each (an output name is function:output)."""
    return tuple(dict.fromkeys(name.split(":")[0] for name in names))


def _write_indicators(url: str, keys: list[tuple[str, Any]], names: list[str], values: np.ndarray) -> None:
    """The outputs into a table keyed as the indicator models' are (NaN where TA-Lib has none)."""
    columns = ", ".join(f"v{k} float8" for k in range(len(names)))
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("create schema if not exists bench_talib")
        conn.execute(f"create table bench_talib.indicators_1h (symbol text not null, bucket_start timestamptz not null, {columns})")
        with conn.cursor().copy("copy bench_talib.indicators_1h from stdin (format binary)") as copy:
            copy.set_types(["text", "timestamptz", *["float8"] * len(names)])
            for (symbol, bucket_start), row in zip(keys, values.tolist(), strict=True):
                copy.write_row((symbol, bucket_start, *row))
        conn.execute("create unique index on bench_talib.indicators_1h (symbol, bucket_start)")


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


# -- the report -------------------------------------------------------------------------------

STAGE_COLUMNS = ("stage", "rows", "wall s", "rows/s", "peak RSS, this process MiB", "peak RSS, children MiB", "peak PostgreSQL MiB", "detail")
_STAGE_TEXT = (STAGE_COLUMNS[0], STAGE_COLUMNS[1], STAGE_COLUMNS[-1])
TARGET_COLUMNS = ("target", "measured", "met")
_TARGET_TEXT = TARGET_COLUMNS


def stage_rows(result: Result) -> list[tuple[str, ...]]:
    rows = [
        (
            s.name, f"{s.rows:,} {s.unit}", f"{s.seconds:.1f}", f"{s.rows_per_second:,.0f}",
            f"{s.peaks.process_mib:,.0f}", f"{s.peaks.children_mib:,.0f}", f"{s.peaks.server_mib:,.0f} ({s.peaks.server_measure})", s.detail,
        )
        for s in result.stages
    ]
    rows.append(("all stages", f"{result.ingest.candle_rows:,} candles", f"{result.pipeline_seconds:.1f}",
                 f"{result.ingest.candle_rows / result.pipeline_seconds:,.0f}", "", "", "", "sum of the stages above"))
    return rows


def ratio_rows(result: Result) -> list[tuple[str, ...]]:
    r, i, c, t = result.ratios(), result.ingest, result.copy, result.talib
    loader = i.loader_seconds.get(CANDLES_1M.name, 0.0)
    shortest, longest = result.histories[0], result.histories[-1]
    return [
        ("(a) raw psycopg COPY of the same candles", f"{c.rows:,} rows ({c.megabytes:,.0f} MiB CSV) in {c.seconds:.1f} s = {c.rows / c.seconds:,.0f} rows/s", ""),
        ("(a) candle ingest end to end (HTTP, ccxt, validation, loader)", f"{i.candles_seconds:.1f} s = {i.candle_rows / i.candles_seconds:,.0f} rows/s",
         f"{r['ingest_over_copy']:.2f} of COPY"),
        ("(a) candle loader alone (COPY, straight or staged, ledger)", f"{loader:.1f} s = {i.candle_rows / loader:,.0f} rows/s" if loader else "n/a",
         f"{r['loader_over_copy']:.2f} of COPY"),
        ("(b) TA-Lib, the same indicators on the same 1h bars",
         f"{t.bars:,} bars of {t.symbols} symbols: {t.compute_seconds:.3f} s (+ {t.read_seconds:.2f} s reading them, "
         f"+ {t.write_seconds:.2f} s writing its {t.outputs} output series back, indexed)", ""),
        ("(b) dbt indicator models (run_results execution_time)", f"{result.indicator_model_seconds:.1f} s",
         f"{r['dbt_indicators_over_talib']:,.0f} x TA-Lib ({r['dbt_indicators_over_talib_with_read']:,.0f} x with the read, "
         f"{r['dbt_indicators_over_talib_persisted']:,.1f} x with the read and the write)"),
        (f"(c) hourly increment build, {shortest.days} d history (median of {len(shortest.increments)})",
         f"{shortest.median_build_seconds:.1f} s (dbt execution {shortest.median_build_execution_seconds:.1f} s)", ""),
        (f"(c) hourly increment build, {longest.days} d history (median of {len(longest.increments)})",
         f"{longest.median_build_seconds:.1f} s (dbt execution {longest.median_build_execution_seconds:.1f} s)",
         f"{r['increment_build_longest_over_shortest']:.2f} x the {shortest.days} d one (execution {r['increment_execution_longest_over_shortest']:.2f})"),
    ]


def target_rows(result: Result) -> list[tuple[str, ...]]:
    r = result.ratios()
    longest = result.histories[-1]
    flat = r["increment_build_longest_over_shortest"]
    slowest_hour = max(h.median_build_seconds for h in result.histories)
    rows = [
        ("ingest >= 50% of raw COPY speed", f"end to end {r['ingest_over_copy']:.0%}, loader alone {r['loader_over_copy']:.0%}", _met(r["ingest_over_copy"] >= 0.5)),
        ("indicators within 3x of TA-Lib", f"{r['dbt_indicators_over_talib']:,.0f} x", _met(r["dbt_indicators_over_talib"] <= 3)),
        ("incremental hour under 60 s", f"median build {slowest_hour:.1f} s (the slower history's)", _met(slowest_hour < 60)),
        (f"incremental hour flat in history length: {longest.days} d / {result.histories[0].days} d build <= {FLAT_LIMIT}", f"{flat:.2f}",
         _met(flat <= FLAT_LIMIT)),
    ]
    if result.config.size == "M":
        rows.insert(1, ("M end to end under 15 minutes on 2 cores", f"{result.pipeline_seconds / 60:.1f} min", _met(result.pipeline_seconds < 900)))
    return rows


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def to_json(result: Result) -> dict[str, Any]:
    data = asdict(result)
    data["ratios"] = result.ratios()
    data["pipeline_seconds"] = result.pipeline_seconds
    data["indicator_model_seconds"] = result.indicator_model_seconds
    return data


def markdown(result: Result) -> str:
    c, i = result.config, result.ingest
    loader = ", ".join(f"{table} {seconds:.1f} s" for table, seconds in sorted(i.loader_seconds.items()))
    lines = [
        *result.provenance(),
        f"- Workload {c.size}: the {c.symbols} most traded simulated contracts (seed {c.seed}, {c.contracts} contracts), {c.days} days of "
        f"1-minute candles ending {c.end:%Y-%m-%d %H:%M} UTC ({i.candle_rows:,} rows); portfolio manager over the last {c.portfolio_hours} "
        f"hours ({result.evaluations_formed} evaluations formed); {c.increments} hourly increments on top of {c.compare_days[0]} and "
        f"{c.compare_days[1]} days of history.",
        f"- (c): {settle_line(result.histories)}",
        f"- Ingest: {i.contract_rows:,} contract and {i.ticker_rows:,} ticker rows ({i.contracts_seconds:.1f} s, {i.tickers_seconds:.1f} s), "
        f"then the candles ({i.candles_seconds:.1f} s, {i.requests:,} HTTP requests of 200 candles to the simulator on loopback); of which "
        f"in the loader's transactions: {loader}.",
        "",
        *report.markdown_table(STAGE_COLUMNS, stage_rows(result), _STAGE_TEXT),
        "",
        *report.markdown_table(("baseline", "measured", "ratio"), ratio_rows(result), ("baseline", "measured", "ratio")),
        "",
        *report.markdown_table(TARGET_COLUMNS, target_rows(result), _TARGET_TEXT),
    ]
    return "\n".join(lines)


def write_results(result: Result, results_dir: Path, docs_file: Path | None) -> Path:
    path = report.write_json(f"{NAME}_{result.config.size}", result.started_at, to_json(result), results_dir)
    if docs_file is not None:
        section = f"{NAME}_{result.config.size}"
        report.write_docs(section, markdown(result), docs_file, command=f"python -m bench.{NAME} --size {result.config.size}")
    return path


@click.command(help=__doc__)
@click.option("--size", type=click.Choice(sorted(SIZES)), default="S", show_default=True, help="S: 50 symbols x 7 days; M: 500 x 30.")
@click.option("--increments", default=Config.increments, show_default=True, help="Hourly increments timed on top of each history.")
@click.option("--docs/--no-docs", default=True, show_default=True, help=f"Write the tables into {DOCS_FILE.relative_to(DOCS_FILE.parents[1])}.")
def main(size: str, increments: int, docs: bool) -> None:
    try:
        config = Config.of_size(size, increments=increments)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    console = Console(width=max(Console().width, 200))
    command = shlex.join(["python", "-m", f"bench.{NAME}", *sys.argv[1:]])
    with scratch_cluster() as cluster, tempfile.TemporaryDirectory(prefix="zmart-bench-e2e-") as work_dir:
        console.log(f"PostgreSQL cluster on 127.0.0.1:{cluster.port} in {cluster.root}")
        result = run(config, cluster, Path(work_dir), command, progress=console.log)
    console.print(report.rich_table(f"{NAME} {size}: stages", STAGE_COLUMNS, stage_rows(result), _STAGE_TEXT))
    console.print(report.rich_table(f"{NAME} {size}: baselines", ("baseline", "measured", "ratio"), ratio_rows(result), ("baseline", "measured", "ratio")))
    console.print(report.rich_table(f"{NAME} {size}: targets", TARGET_COLUMNS, target_rows(result), _TARGET_TEXT))
    path = write_results(result, RESULTS_DIR, DOCS_FILE if docs else None)
    console.print(f"results: {path}" + (f"; tables written into {DOCS_FILE}" if docs else ""))


if __name__ == "__main__":
    main()
