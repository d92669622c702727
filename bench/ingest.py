"""Benchmark: the candle ingest step by step, against a raw COPY of the same rows (issue 8, item 1).

A fresh migrated database of a throwaway cluster gets a contracts snapshot (untimed set-up), then
N symbols x D days of 1-minute candles through the project's own code, exactly as the
``kucoin_candles_1m`` asset loads a backfill: ccxt against the simulator on loopback (a child
process, frozen clock), 24-hour chunks, pages of 200 candles, 8 concurrent requests. Each step is
timed around the real function (wrapped while the benchmark runs, never replaced), in wall
seconds and in CPU seconds of the thread that runs it; the machine is shared, so CPU seconds are
the fairer figure. The PostgreSQL server's and the simulator's CPU seconds are read from /proc.

Then, in the same run and cluster, the baseline: psycopg ``COPY`` of exactly the stored candles
into an identical empty table (bench.end_to_end's baseline (a)).

    python -m bench.ingest                        # 20 symbols x 2 days (57,600 candles)
    python -m bench.ingest --symbols 50 --days 7  # workload S's candles
"""

from __future__ import annotations

import asyncio
import cProfile
import functools
import math
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import psutil
from rich.console import Console

from bench import report
from bench.cluster import migrated_database, scratch_cluster, server_pid, server_version
from bench.end_to_end import CLOCK_AFTER_END, POOL_WEIGHT, SIMULATOR_STARTUP_SECONDS, copy_baseline
from bench.incremental_hour import DEFAULT_END
from bench.machine import load_average, this_machine
from bench.workload import SNAPSHOT_DELAY, SimulatedMarket
from orchestration.embedded_postgres import EmbeddedPostgres
from orchestration.ingestion import candles, contracts, loader, per_symbol, runner
from orchestration.ingestion.per_symbol import report_failures
from orchestration.ingestion.universe import select_universe
from orchestration.resources import exchange as exchange_module
from orchestration.resources.exchange import KucoinFuturesResource
from simulator.config import DEFAULT_CONTRACTS, DEFAULT_SEED, SimulatorConfig
from simulator.server import SimulatorProcess

NAME = "ingest"
RESULTS_DIR = Path(__file__).parent / "results"
DOCS_FILE = Path(__file__).parents[1] / "docs" / "benchmarks.md"
RUN_ID = "bench-ingest"
SETTLE_SECONDS = 0.5
T = TypeVar("T")
Progress = Callable[[str], None]

# The functions timed, by step: (module or class, attribute). Each is wrapped while the benchmark
# runs; the real function runs inside. "fetch" is the whole concurrent fetch of a chunk, ccxt's
# JSON decode of the pages included (the report takes it out); "loader" is the whole transaction,
# the loader steps are parts of it.
FETCH = (per_symbol, "fetch_each")
JSON_DECODE = (exchange_module._StrictKucoinFutures, "parse_json")  # noqa: SLF001
VALIDATION = ((candles, "validate_candles"), (candles, "unserved_minutes"))
CHECKSUM = (per_symbol, "checksum_of")
LEDGER = ((runner, "open_batch"), (per_symbol, "loaded_in_run"))
LOADER = (runner, "_write")
OTHER = "other (concat, event loop outside requests)"
LOADER_STEPS = {
    "partitions": (loader, "_ensure_partitions"),
    "rows in load order": (loader, "_in_load_order"),
    "column types": (loader, "_column_types"),
    "probe for stored keys": (loader, "_may_hold_keys"),
    "COPY straight into the table": (loader, "_copied_straight"),
    "stage COPY (a key was stored)": (loader, "_stage"),
    "insert new rows": (loader, "_insert_new"),
    "conflicts": (loader, "_quarantine_conflicts"),
    "batch ledger row": (runner, "complete_batch"),
}


class ConfigError(ValueError):
    """A benchmark setting breaks its rule."""


class BenchmarkError(RuntimeError):
    """The ingest did not do what the pipeline requires."""


@dataclass(frozen=True)
class Config:
    symbols: int = 20
    days: int = 2
    end: datetime = DEFAULT_END
    seed: int = DEFAULT_SEED
    contracts: int = DEFAULT_CONTRACTS

    def __post_init__(self) -> None:
        if self.symbols < 1:
            raise ConfigError(f"symbols={self.symbols}: must be at least 1")
        if self.days < 1:
            raise ConfigError(f"days={self.days}: must be at least 1")
        if self.end.tzinfo is None or self.end.utcoffset() != timedelta(0) or self.end.timestamp() % 3600:
            raise ConfigError(f"end={self.end.isoformat()}: must be a whole UTC hour with its offset")

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)


@dataclass(frozen=True)
class Cost:
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    calls: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.wall_seconds + other.wall_seconds, self.cpu_seconds + other.cpu_seconds, self.calls + other.calls)

    def __sub__(self, other: Cost) -> Cost:
        return Cost(self.wall_seconds - other.wall_seconds, self.cpu_seconds - other.cpu_seconds, self.calls)


class StepClock:
    """Wall and CPU seconds per step, accumulated over every call of the wrapped functions. CPU is
    the calling thread's (time.thread_time): a synchronous step runs in one thread, the fetch
    (asyncio) in the main thread, a chunk's validation, checksum and write in a worker thread
    while the next chunk is fetched; so the steps' wall seconds overlap, their CPU seconds do not."""

    def __init__(self) -> None:
        self.costs: dict[str, Cost] = defaultdict(Cost)

    def _add(self, step: str, wall: float, cpu: float) -> None:
        self.costs[step] += Cost(wall, cpu, 1)

    def _wrap(self, step: str, original: Callable[..., Any]) -> Callable[..., Any]:
        if asyncio.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                wall, cpu = time.perf_counter(), time.thread_time()
                try:
                    return await original(*args, **kwargs)
                finally:
                    self._add(step, time.perf_counter() - wall, time.thread_time() - cpu)

            return timed_async

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self._add(step, time.perf_counter() - wall, time.thread_time() - cpu)

        return timed

    @contextmanager
    def installed(self) -> Iterator[StepClock]:
        targets = [("fetch", FETCH), ("JSON decode", JSON_DECODE), *(("validation", t) for t in VALIDATION),
                   ("checksum", CHECKSUM), *(("ledger", t) for t in LEDGER), ("loader", LOADER), *LOADER_STEPS.items()]
        with ExitStack() as stack:
            for step, (owner, attribute) in targets:
                original, owned = getattr(owner, attribute), attribute in vars(owner)
                setattr(owner, attribute, self._wrap(step, original))
                if owned:
                    stack.callback(setattr, owner, attribute, original)
                else:  # inherited (ccxt's methods): remove the wrapper, the base class's shows again
                    stack.callback(delattr, owner, attribute)
            yield self


def process_tree_cpu(pid: int | None) -> float:
    """CPU seconds of a process, of its live descendants and of the children it has reaped (a
    PostgreSQL backend that exited is counted in the postmaster's children times)."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        total = sum(root.cpu_times()[:4])  # user, system, children_user, children_system
        for child in root.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.Error:
                pass  # exited between listing and reading: the parent's children times have it
        return float(total)
    except psutil.Error:
        return 0.0


@dataclass(frozen=True)
class Meter:
    """Wall, this process's CPU, the server's and the simulator's CPU seconds of one phase."""

    wall_seconds: float
    process_cpu_seconds: float
    server_cpu_seconds: float
    simulator_cpu_seconds: float


@contextmanager
def metered(server: int | None, simulator: int | None, into: list[Meter]) -> Iterator[None]:
    wall, cpu, server_cpu, sim_cpu = time.perf_counter(), time.process_time(), process_tree_cpu(server), process_tree_cpu(simulator)
    yield
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    time.sleep(SETTLE_SECONDS)  # the phase's last backends exit and are reaped: counted once, in the postmaster's children times
    into.append(Meter(wall, cpu, process_tree_cpu(server) - server_cpu, process_tree_cpu(simulator) - sim_cpu))


@dataclass(frozen=True)
class Result(report.Measurement):
    config: Config
    symbols: tuple[str, ...]
    database: str
    rows: int
    requests: int
    batches: int
    ingest: Meter
    steps: dict[str, Cost]
    copy: Meter
    copy_rows: int
    copy_megabytes: float

    def step_rows(self) -> list[tuple[str, Cost]]:
        """The ingest's steps, each once: the JSON decode taken out of the fetch, the loader's
        remainder (symbols and gaps ledger, commit, connection) named, the rest as "other"."""
        s = self.steps
        loader_parts = [(f"loader: {name}", s.get(name, Cost())) for name in LOADER_STEPS]
        loader_rest = s.get("loader", Cost()) - sum((c for _, c in loader_parts), Cost())
        rows = [
            ("HTTP fetch (event loop, aiohttp, ccxt request)", s.get("fetch", Cost()) - s.get("JSON decode", Cost())),
            ("ccxt JSON decode of the kline pages", s.get("JSON decode", Cost())),
            ("validation (validate_candles, unserved minutes)", s.get("validation", Cost())),
            ("checksum of the fetched rows", s.get("checksum", Cost())),
            ("ledger (open batch, earlier attempts)", s.get("ledger", Cost())),
            *loader_parts,
            ("loader: symbols and gaps ledger, commit, connect", loader_rest),
        ]
        counted = sum((c for _, c in rows), Cost())
        # the steps overlap in time (a chunk is written while the next is fetched): "other" has CPU seconds only
        rows.append((OTHER, Cost(math.nan, self.ingest.process_cpu_seconds - counted.cpu_seconds)))
        return rows

    def ratios(self) -> dict[str, float]:
        copy_rate = self.copy_rows / self.copy.wall_seconds
        loader = self.steps.get("loader", Cost())
        ingest_cpu = self.ingest.process_cpu_seconds + self.ingest.server_cpu_seconds
        copy_cpu = self.copy.process_cpu_seconds + self.copy.server_cpu_seconds
        return {
            "ingest_over_copy_wall": (self.rows / self.ingest.wall_seconds) / copy_rate,
            "loader_over_copy_wall": (self.rows / loader.wall_seconds) / copy_rate,
            # CPU: this process and PostgreSQL; the simulator (the exchange's side) is reported apart
            "ingest_over_copy_cpu": copy_cpu / ingest_cpu,
            "loader_over_copy_cpu": copy_cpu / (loader.cpu_seconds + self.ingest.server_cpu_seconds),
        }


def run(
    config: Config, cluster: EmbeddedPostgres, work_dir: Path, command: str = "", progress: Progress = lambda _: None,
    profile: Path | None = None,
) -> Result:
    started, load_before = datetime.now(UTC), load_average()
    market = SimulatedMarket(config.seed, config.contracts)
    symbols = market.most_traded(config.symbols, config.end + SNAPSHOT_DELAY, config.start, config.end)
    pid = server_pid(cluster)
    url = migrated_database(cluster, f"bench_ingest_{config.days}d")
    simulator_config = SimulatorConfig(
        seed=config.seed, n_contracts=config.contracts, now_ms=int((config.end + CLOCK_AFTER_END).timestamp() * 1000),
        rate_limit_public=POOL_WEIGHT, rate_limit_unified=POOL_WEIGHT,
    )
    meters: list[Meter] = []
    with SimulatorProcess(simulator_config, startup_timeout=SIMULATOR_STARTUP_SECONDS) as simulator:
        exchange = KucoinFuturesResource(mode="sim", sim_url=simulator.url, weight_budget=POOL_WEIGHT)
        asyncio.run(contracts.ingest_contracts(url, exchange, RUN_ID))
        instruments = _instruments(url, symbols, config)
        progress(f"simulator at {simulator.url}; ingesting {len(instruments)} symbols x {config.days} days")
        with StepClock().installed() as clock, metered(pid, simulator.pid, meters), _profiled(profile):
            results = asyncio.run(candles.ingest_candles(url, exchange, instruments, config.start, config.end, RUN_ID))
    if failed := report_failures(results, len(instruments)):
        raise BenchmarkError(f"{len(failed)} symbols refused by the simulator; first: {failed[0].symbol}: {failed[0].error}")
    rows = sum(b.counts.inserted for b in results)
    progress(f"ingest: {rows:,} candles in {meters[0].wall_seconds:.1f} s; (a) raw COPY of the same candles")
    copy = copy_baseline(url, config.start, config.end, work_dir, lambda: metered(pid, None, meters))
    return Result(
        name=NAME, command=command, machine=this_machine(server_version(url)), started_at=started, finished_at=datetime.now(UTC),
        load_average_before=load_before, load_average_after=load_average(), config=config, symbols=tuple(symbols),
        database=url.rsplit("/", 1)[-1], rows=rows, requests=sum(b.request_count for b in results), batches=len(results),
        ingest=meters[0], steps=dict(clock.costs), copy=meters[1], copy_rows=copy.rows, copy_megabytes=copy.megabytes,
    )


def _instruments(url: str, symbols: list[str], config: Config) -> list[Any]:
    wanted = set(symbols)
    instruments = [i for i in select_universe(url, config.start, config.end, 0) if i.symbol in wanted]
    if len(instruments) != len(wanted):
        missing = sorted(wanted - {i.symbol for i in instruments})
        raise BenchmarkError(f"symbols {', '.join(missing[:5])}: not open in the contracts snapshot the ingestion took")
    return instruments


@contextmanager
def _profiled(path: Path | None) -> Iterator[None]:
    """cProfile of the ingest (this process's threads that cProfile sees: the event loop's)."""
    if path is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)


# -- the report -------------------------------------------------------------------------------

STEP_COLUMNS = ("step", "wall s", "CPU s", "calls", "share of ingest CPU")
_STEP_TEXT = ("step",)
RATE_COLUMNS = ("measured", "rows", "wall s", "rows/s (wall)", "CPU s, this process", "CPU s, PostgreSQL", "CPU s, simulator",
                "rows per CPU s (this process + PostgreSQL)")
_RATE_TEXT = ("measured",)


def step_table(result: Result) -> list[tuple[str, ...]]:
    cpu = result.ingest.process_cpu_seconds
    return [
        (name, "" if math.isnan(c.wall_seconds) else f"{c.wall_seconds:.2f}", f"{c.cpu_seconds:.2f}", f"{c.calls:,}" if c.calls else "",
         f"{c.cpu_seconds / cpu:.0%}")
        for name, c in result.step_rows()
    ]


def rate_table(result: Result) -> list[tuple[str, ...]]:
    i, c, loader = result.ingest, result.copy, result.steps.get("loader", Cost())

    def row(name: str, wall: float, own: float, server: float, sim: str, rows: int) -> tuple[str, ...]:
        return (name, f"{rows:,}", f"{wall:.2f}", f"{rows / wall:,.0f}", f"{own:.2f}", f"{server:.2f}", sim, f"{rows / (own + server):,.0f}")

    return [
        row("candle ingest end to end", i.wall_seconds, i.process_cpu_seconds, i.server_cpu_seconds, f"{i.simulator_cpu_seconds:.2f}", result.rows),
        row("its loader alone (the server's CPU all counted here)", loader.wall_seconds, loader.cpu_seconds, i.server_cpu_seconds, "", result.rows),
        row(f"raw psycopg COPY of the same rows ({result.copy_megabytes:,.1f} MiB CSV)", c.wall_seconds, c.process_cpu_seconds,
            c.server_cpu_seconds, "", result.copy_rows),
    ]


def markdown(result: Result) -> str:
    c, r = result.config, result.ratios()
    lines = [
        *result.provenance(),
        f"- Workload: the {c.symbols} most traded simulated contracts (seed {c.seed}, {c.contracts} contracts), {c.days} days of 1-minute "
        f"candles ending {c.end:%Y-%m-%d %H:%M} UTC: {result.rows:,} rows in {result.batches} batches of 24 hours, "
        f"{result.requests:,} HTTP requests to the simulator on loopback.",
        f"- Ratios to COPY: ingest end to end {r['ingest_over_copy_wall']:.2f} (wall), {r['ingest_over_copy_cpu']:.2f} (CPU); "
        f"loader alone {r['loader_over_copy_wall']:.2f} (wall), {r['loader_over_copy_cpu']:.2f} (CPU). Issue 8's target: 0.50.",
        "",
        *report.markdown_table(RATE_COLUMNS, rate_table(result), _RATE_TEXT),
        "",
        "A chunk's validation, checksum and write run in a worker thread while the next chunk is fetched: the steps' wall "
        "seconds overlap and add up to more than the ingest's; their CPU seconds (each step's own thread) do not.",
        "",
        *report.markdown_table(STEP_COLUMNS, step_table(result), _STEP_TEXT),
    ]
    return "\n".join(lines)


def to_json(result: Result) -> dict[str, Any]:
    data = asdict(result)
    data["ratios"] = result.ratios()
    # null where a step has no wall seconds of its own (JSON has no NaN)
    data["step_rows"] = {name: {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(cost).items()}
                         for name, cost in result.step_rows()}
    return data


def write_results(result: Result, results_dir: Path, docs_file: Path | None) -> Path:
    path = report.write_json(NAME, result.started_at, to_json(result), results_dir)
    if docs_file is not None:
        report.write_docs(NAME, markdown(result), docs_file)
    return path


@click.command(help=__doc__)
@click.option("--symbols", default=Config.symbols, show_default=True, help="The N most traded contracts.")
@click.option("--days", default=Config.days, show_default=True, help="Days of 1-minute candles, ending at the fixed end of history.")
@click.option("--profile", type=click.Path(dir_okay=False, path_type=Path), help="Write a cProfile of the ingest to this file.")
@click.option("--docs/--no-docs", default=True, show_default=True, help=f"Write the tables into {DOCS_FILE.relative_to(DOCS_FILE.parents[1])}.")
def main(symbols: int, days: int, profile: Path | None, docs: bool) -> None:
    try:
        config = Config(symbols=symbols, days=days)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    console = Console(width=max(Console().width, 200))
    command = shlex.join(["python", "-m", f"bench.{NAME}", *sys.argv[1:]])
    with scratch_cluster() as cluster, tempfile.TemporaryDirectory(prefix="zmart-bench-ingest-") as work_dir:
        console.log(f"PostgreSQL cluster on 127.0.0.1:{cluster.port} in {cluster.root}")
        result = run(config, cluster, Path(work_dir), command, progress=console.log, profile=profile)
    console.print(report.rich_table(f"{NAME}: rates", RATE_COLUMNS, rate_table(result), _RATE_TEXT))
    console.print(report.rich_table(f"{NAME}: steps", STEP_COLUMNS, step_table(result), _STEP_TEXT))
    path = write_results(result, RESULTS_DIR, DOCS_FILE if docs else None)
    console.print(f"results: {path}" + (f"; tables written into {DOCS_FILE}" if docs else ""))


if __name__ == "__main__":
    main()
