"""Benchmark: the hourly dbt increment costs the same whatever the history length.

For each history length D (days) a database of its own gets N symbols x D days of the
simulator's 1-minute candles (the N most traded contracts, the same for every D) and the
market models are built over that history in one ``dbt build``, as a single-run backfill does.
Then one more hour is appended and built exactly as the hourly partition of the Dagster asset
builds it, ``dbt build`` with the window in ZMART_DBT_WINDOW_START / _END (and, separately,
``dbt run`` of the same window, without the data tests), for a few consecutive hours; the
median is reported. The windowed models read a bounded number of rows per increment, so the
increment of a 30-day history should cost what the 7-day one costs (ratio ~ 1).

    python -m bench.incremental_hour --symbols 50 --days 7,30
"""

from __future__ import annotations

import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import psycopg
from rich.console import Console

from bench import report
from bench.cluster import migrated_database, scratch_cluster, server_version, settle
from bench.dbt import DbtInvocation, run_market_models
from bench.machine import load_average, this_machine
from bench.workload import SNAPSHOT_DELAY, LoadStats, SimulatedMarket, load_candles, load_contracts_snapshot
from orchestration.embedded_postgres import EmbeddedPostgres
from orchestration.ingestion.windows import HOUR
from simulator.config import DEFAULT_CONTRACTS, DEFAULT_SEED

NAME = "incremental_hour"
# A fixed end of history keeps every run's candles identical (the simulator is deterministic).
DEFAULT_END = datetime(2026, 11, 2, tzinfo=UTC)
RESULTS_DIR = Path(__file__).parent / "results"
DOCS_FILE = Path(__file__).parents[1] / "docs" / "benchmarks.md"

# Views over raw tables this benchmark leaves empty: their cost cannot depend on the history, so
# their ratio between history lengths measures the machine's load, not the data.
CONTROL_MODELS = (
    "stg_kucoin__tickers", "stg_kucoin__order_book_levels", "stg_kucoin__trades", "stg_kucoin__funding_rates",
    "stg_kucoin__open_interest",
)

Progress = Callable[[str], None]


class ConfigError(ValueError):
    """A benchmark setting breaks its rule."""


@dataclass(frozen=True)
class Config:
    symbols: int = 50
    days: tuple[int, ...] = (7, 30)
    increments: int = 3
    end: datetime = DEFAULT_END
    seed: int = DEFAULT_SEED
    contracts: int = DEFAULT_CONTRACTS
    kline_gap: float = 0.0  # share of minutes the simulator withholds (its kline_gap fault)

    def __post_init__(self) -> None:
        if self.symbols < 1:
            raise ConfigError(f"symbols={self.symbols}: must be at least 1")
        if not self.days or any(d < 1 for d in self.days) or len(set(self.days)) != len(self.days):
            raise ConfigError(f"days={','.join(map(str, self.days))}: must be distinct whole numbers of days, each at least 1")
        if self.increments < 1:
            raise ConfigError(f"increments={self.increments}: must be at least 1 (the hours to time)")
        if self.end.tzinfo is None or self.end.utcoffset() != timedelta(0) or self.end.timestamp() % 3600:
            raise ConfigError(f"end={self.end.isoformat()}: must be a whole UTC hour with its offset, e.g. 2026-11-02T00:00:00+00:00")
        if not 0.0 <= self.kline_gap < 1.0:
            raise ConfigError(f"kline_gap={self.kline_gap}: must be a share in [0, 1)")

    @property
    def longest_history_start(self) -> datetime:
        return self.end - timedelta(days=max(self.days))

    @property
    def increments_end(self) -> datetime:
        return self.end + self.increments * HOUR


@dataclass(frozen=True)
class Increment:
    window_start: datetime
    window_end: datetime
    rows_loaded: int
    gaps: int
    build: DbtInvocation
    run: DbtInvocation


@dataclass(frozen=True)
class HistoryResult:
    days: int
    database: str
    history_start: datetime
    history_end: datetime
    raw_rows: int  # rows in raw.candles_1m after the history was loaded
    history_load: LoadStats
    full_build: DbtInvocation
    increments: tuple[Increment, ...]
    settle_seconds: float = 0.0  # VACUUM (ANALYZE) of the database between its full build and the increments

    @property
    def median_build_seconds(self) -> float:
        return statistics.median(i.build.wall_seconds for i in self.increments)

    @property
    def median_build_execution_seconds(self) -> float:
        """dbt's own elapsed time of the builds: without start-up and parsing."""
        return statistics.median(i.build.dbt_elapsed_seconds for i in self.increments)

    @property
    def median_run_seconds(self) -> float:
        return statistics.median(i.run.wall_seconds for i in self.increments)

    @property
    def median_control_seconds(self) -> float:
        """Execution time of CONTROL_MODELS in the increments' builds (median over the hours)."""
        return statistics.median(sum(i.build.model_seconds()[m] for m in CONTROL_MODELS) for i in self.increments)

    def slowest_models(self, count: int = 5) -> list[tuple[str, float]]:
        """The models with the longest median execution time in the increments' builds."""
        names = self.increments[0].build.model_seconds()
        medians = {name: statistics.median(i.build.model_seconds()[name] for i in self.increments) for name in names}
        return sorted(medians.items(), key=lambda item: -item[1])[:count]


@dataclass(frozen=True)
class BenchmarkResult(report.Measurement):
    config: Config
    symbols: tuple[str, ...]
    histories: tuple[HistoryResult, ...]  # by history length, shortest first

    def ratio(self, seconds: Callable[[HistoryResult], float]) -> float:
        """The longest history's median increment over the shortest one's."""
        shortest, longest = self.histories[0], self.histories[-1]
        return seconds(longest) / seconds(shortest)


def run(config: Config, cluster: EmbeddedPostgres, work_dir: Path, command: str = "", progress: Progress = lambda _: None) -> BenchmarkResult:
    """Measure every history length of ``config``, each in a new database of ``cluster``.

    Every history is loaded and built first; then the hours are timed in turns, hour k of
    every history back to back, so the histories compared share whatever else loads the machine.
    """
    started, load_before = datetime.now(UTC), load_average()
    market = SimulatedMarket(config.seed, config.contracts, config.kline_gap)
    symbols = market.most_traded(config.symbols, config.end + SNAPSHOT_DELAY, config.longest_history_start, config.increments_end)
    cases = [
        build_history(migrated_database(cluster, f"bench_{days}d"), market, symbols, days, config, work_dir, progress)
        for days in sorted(config.days)
    ]
    cases = settled(cluster, cases, progress)
    increments: dict[int, list[Increment]] = {case.days: [] for case in cases}
    for k in range(config.increments):
        for case in cases:
            increments[case.days].append(measure_increment(cluster, case, market, symbols, config.end + k * HOUR, work_dir, progress))
    histories = tuple(replace(case, increments=tuple(increments[case.days])) for case in cases)
    machine = this_machine(server_version(cluster.url("postgres")))
    return BenchmarkResult(
        name=NAME, command=command, machine=machine, started_at=started, finished_at=datetime.now(UTC), load_average_before=load_before,
        load_average_after=load_average(), config=config, symbols=tuple(symbols), histories=histories,
    )


def build_history(
    url: str, market: SimulatedMarket, symbols: Sequence[str], days: int, config: Config, work_dir: Path, progress: Progress,
) -> HistoryResult:
    """Load ``days`` of history ending at config.end and build the market models over it (no increments yet)."""
    start, end = config.end - timedelta(days=days), config.end
    progress(f"{days} d: loading {len(symbols)} symbols x {days} days of 1m candles")
    load_contracts_snapshot(url, market, end + SNAPSHOT_DELAY, _run_id(days))
    loaded = load_candles(url, market, symbols, start, end, _run_id(days))
    raw_rows = _count(url, "select count(*) from raw.candles_1m")
    progress(f"{days} d: {raw_rows:,} rows (simulated in {loaded.generate_seconds:.1f} s, stored in {loaded.store_seconds:.1f} s); full dbt build")
    full = run_market_models("build", url, work_dir / f"{days}d", start, end)
    progress(f"{days} d: full build {full.wall_seconds:.1f} s")
    return HistoryResult(days, url.rsplit("/", 1)[-1], start, end, raw_rows, loaded, full, ())


def settled(cluster: EmbeddedPostgres, histories: Sequence[HistoryResult], progress: Progress) -> list[HistoryResult]:
    """Each history's database vacuumed and analyzed (bench.cluster.settle), with the seconds it took."""
    done = []
    for history in histories:
        seconds = settle(cluster, history.database)
        progress(f"{history.days} d: VACUUM (ANALYZE) {seconds:.1f} s")
        done.append(replace(history, settle_seconds=seconds))
    return done


def measure_increment(
    cluster: EmbeddedPostgres, history: HistoryResult, market: SimulatedMarket, symbols: Sequence[str], window_start: datetime,
    work_dir: Path, progress: Progress,
) -> Increment:
    """Append the hour starting at ``window_start`` (with the contracts snapshot taken before the
    pipeline runs it), then time ``dbt build`` and ``dbt run`` of that window."""
    url, window_end = cluster.url(history.database), window_start + HOUR
    load_contracts_snapshot(url, market, window_end + SNAPSHOT_DELAY, _run_id(history.days))
    hour = load_candles(url, market, symbols, window_start, window_end, _run_id(history.days), chunk_hours=1)
    build = run_market_models("build", url, work_dir / f"{history.days}d", window_start, window_end)
    dbt_run = run_market_models("run", url, work_dir / f"{history.days}d", window_start, window_end)
    progress(f"{history.days} d: increment {window_start:%Y-%m-%d %H:%M}: build {build.wall_seconds:.1f} s, run {dbt_run.wall_seconds:.1f} s")
    return Increment(window_start, window_end, hour.rows, hour.gaps, build, dbt_run)


def _run_id(days: int) -> str:
    return f"bench-{NAME}-{days}d"


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


# -- the report -------------------------------------------------------------------------------

COLUMNS = (
    "history",
    "raw.candles_1m rows",
    "full build s",
    "increment build s, each hour",
    "increment build s, median",
    "of which dbt execution s",
    "increment run s, median",
    "build / shortest",
    "execution / shortest",
    "run / shortest",
    "slowest models of the increment build, median s",
)
_TEXT_COLUMNS = (COLUMNS[0], COLUMNS[-1])


def summary(result: BenchmarkResult, slowest: int = 3) -> list[tuple[str, ...]]:
    """One row per history length, in COLUMNS order."""
    first = result.histories[0]
    return [
        (
            f"{h.days} d",
            f"{h.raw_rows:,}",
            f"{h.full_build.wall_seconds:.1f}",
            " / ".join(f"{i.build.wall_seconds:.1f}" for i in h.increments),
            f"{h.median_build_seconds:.1f}",
            f"{h.median_build_execution_seconds:.1f}",
            f"{h.median_run_seconds:.1f}",
            f"{h.median_build_seconds / first.median_build_seconds:.2f}",
            f"{h.median_build_execution_seconds / first.median_build_execution_seconds:.2f}",
            f"{h.median_run_seconds / first.median_run_seconds:.2f}",
            ", ".join(f"{name} {seconds:.2f}" for name, seconds in h.slowest_models(slowest)),
        )
        for h in result.histories
    ]


def ratios(result: BenchmarkResult) -> dict[str, float]:
    """The longest history's medians over the shortest one's."""
    return {
        "increment_build": result.ratio(lambda h: h.median_build_seconds),
        "increment_build_execution": result.ratio(lambda h: h.median_build_execution_seconds),
        "increment_run": result.ratio(lambda h: h.median_run_seconds),
        "control_views": result.ratio(lambda h: h.median_control_seconds),
    }


def conclusions(result: BenchmarkResult) -> list[str]:
    r = ratios(result)
    shortest, longest = result.histories[0], result.histories[-1]
    control = " and ".join(f"{h.median_control_seconds:.2f} s ({h.days} d)" for h in (shortest, longest))
    return [
        f"{longest.days} d over {shortest.days} d: increment build {r['increment_build']:.2f} (its dbt execution "
        f"{r['increment_build_execution']:.2f}), increment run {r['increment_run']:.2f}.",
        "",
        f"Control: the views over empty tables ({', '.join(CONTROL_MODELS)}) took {control} per increment build, a "
        f"ratio of {r['control_views']:.2f} that comes from the machine's load, not from the data.",
    ]


def to_json(result: BenchmarkResult) -> dict[str, Any]:
    data = asdict(result)
    data["ratios"] = ratios(result)
    for history, measured in zip(data["histories"], result.histories, strict=True):
        history["median_increment_build_seconds"] = measured.median_build_seconds
        history["median_increment_build_execution_seconds"] = measured.median_build_execution_seconds
        history["median_increment_run_seconds"] = measured.median_run_seconds
        history["median_control_seconds"] = measured.median_control_seconds
        history["slowest_models"] = measured.slowest_models()
    return data


def markdown(result: BenchmarkResult) -> str:
    c = result.config
    lines = [
        *result.provenance(),
        f"- Workload: the {c.symbols} most traded simulated contracts (seed {c.seed}), history ending {c.end:%Y-%m-%d %H:%M} UTC, "
        f"kline_gap {c.kline_gap}; {c.increments} consecutive one-hour increments after each history.",
        f"- {settle_line(result.histories)}",
        f"- dbt {result.histories[0].full_build.dbt_version}; wall seconds of the dbt process (start-up and the parse included: "
        "partial, from the previous invocation's saved parse, as in every hourly Dagster run); dbt execution is run_results.json's elapsed time.",
        "",
        *report.markdown_table(COLUMNS, summary(result), _TEXT_COLUMNS),
        "",
        *conclusions(result),
    ]
    return "\n".join(lines)


def settle_line(histories: Sequence[HistoryResult]) -> str:
    """How the databases were settled before the timed hours (bench.cluster.settle)."""
    each = ", ".join(f"{h.settle_seconds:.1f} s at {h.days} d" for h in histories)
    return (f"Between the full builds and the first timed hour every database was vacuumed and analyzed ({each}), the state "
            "autovacuum reaches minutes after a bulk load, so that no timed hour shares the machine with autovacuum.")


def write_results(result: BenchmarkResult, results_dir: Path, docs_file: Path | None) -> Path:
    """The JSON under ``results_dir`` (its path is returned) and, with ``docs_file``, the docs section."""
    path = report.write_json(NAME, result.started_at, to_json(result), results_dir)
    if docs_file is not None:
        report.write_docs(NAME, markdown(result), docs_file)
    return path


# -- the command ------------------------------------------------------------------------------


def _days(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected comma-separated whole numbers of days, e.g. 7,30") from None


def _end(_ctx: click.Context, _param: click.Parameter, value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected an ISO-8601 UTC time, e.g. 2026-11-02T00:00:00Z") from None


@click.command(help=__doc__)
@click.option("--symbols", default=Config.symbols, show_default=True, help="Contracts followed (the most traded ones).")
@click.option("--days", default="7,30", show_default=True, callback=_days, help="History lengths to compare, comma-separated.")
@click.option("--increments", default=Config.increments, show_default=True, help="Consecutive hours timed after each history.")
@click.option("--end", default=DEFAULT_END.isoformat(), show_default=True, callback=_end, help="End of the history (a whole UTC hour).")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, help="The simulator's seed.")
@click.option("--kline-gap", default=0.0, show_default=True, help="Share of minutes the simulator withholds (its kline_gap fault).")
@click.option("--docs/--no-docs", default=True, show_default=True, help=f"Write the table into {DOCS_FILE.relative_to(DOCS_FILE.parents[1])}.")
def main(symbols: int, days: tuple[int, ...], increments: int, end: datetime, seed: int, kline_gap: float, docs: bool) -> None:
    try:
        config = Config(symbols=symbols, days=days, increments=increments, end=end, seed=seed, kline_gap=kline_gap)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    console = Console(width=max(Console().width, 180))  # the table has ten columns
    command = shlex.join(["python", "-m", f"bench.{NAME}", *sys.argv[1:]])
    began = time.perf_counter()
    with scratch_cluster() as cluster, tempfile.TemporaryDirectory(prefix="zmart-bench-dbt-") as work_dir:
        console.log(f"PostgreSQL cluster on 127.0.0.1:{cluster.port} in {cluster.root}")
        result = run(config, cluster, Path(work_dir), command, progress=console.log)
    title = f"{NAME}: {config.symbols} symbols, one-hour dbt increments after each history"
    console.print(report.rich_table(title, COLUMNS, summary(result), _TEXT_COLUMNS))
    console.print("\n".join(conclusions(result)))
    path = write_results(result, RESULTS_DIR, DOCS_FILE if docs else None)
    console.print(f"results: {path}" + (f"; table written into {DOCS_FILE}" if docs else ""))
    console.print(f"benchmark took {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
