"""``zmart demo``: the main job end to end on the embedded default (local PostgreSQL + simulator)."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from decimal import Decimal

import click
import dagster as dg
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table

from orchestration.assets.portfolio import PortfolioConfig
from orchestration.cli.errors import cli_errors
from orchestration.cli.progress import progress_bar, run_with_progress
from orchestration.cli.simulation import exchange_url
from orchestration.partitions import daily
from orchestration.platform import prepare, redact
from orchestration.presentation.figures import HEADLINE_FIGURES, PERIOD_ORDER, figure
from orchestration.resources.dbt import prepare_manifest
from orchestration.runs import failure_messages, partition_range, stage_timings
from orchestration.settings import load_settings

# Bound to the terminal: the pipeline's own output is redirected to a log file while it runs.
console = Console(file=sys.stdout, soft_wrap=True)
REPORTED_SCHEMAS = ("raw", "quarantine", "staging", "intermediate", "marts", "portfolio")
_GX_CHECK_SUFFIXES = ("_gate", "_completeness")  # the Great Expectations checks (orchestration/checks)


@click.command()
@click.option("--symbols", default=50, show_default=True, type=click.IntRange(10, 10_000), help="Most traded contracts to follow.")
@click.option("--days", default=2.0, show_default=True, type=click.FloatRange(1 / 24, 120), help="History to ingest, ending at the last closed hour.")
@cli_errors
def demo(symbols: int, days: float) -> None:
    """Ingest, transform, gate and pick the ten-symbol portfolio, then report what was built."""
    started = time.monotonic()
    settings = load_settings()
    with console.status("starting PostgreSQL and applying migrations"):
        platform = prepare(settings)
    console.print(f"warehouse: {redact(platform.database_url)}")
    with exchange_url(settings) as url:
        os.environ["ZMART_MAX_SYMBOLS"] = str(symbols)
        platform.export(url)
        console.print(f"exchange: {settings.exchange} at {url}")
        warnings.filterwarnings("ignore", category=dg.BetaWarning)  # backfill_policy: used knowingly
        with console.status("parsing the dbt project"):
            prepare_manifest()  # before the dbt assets are imported: they read the manifest
            from orchestration.definitions import defs
        first, last = partition_range(max(1, round(days * 24)))
        instance = dg.DagsterInstance.get()
        log_path = settings.state_dir / "logs" / f"demo_{first}_{last}.log".replace(":", "")
        steps: list[tuple[str, tuple[str, str] | None, str]] = [
            ("contracts_snapshot", None, "contract universe"),
            ("market_snapshots", None, "tickers, order books, recent trades"),
        ]
        last_day = daily.get_last_partition_key()  # the last day that has closed
        if last_day is not None and first[:10] <= last_day:
            steps.append(("funding_history", (first[:10], last_day), f"funding rates {first[:10]} .. {last_day}"))
        steps.append(("market_pipeline", (first, last), f"market_pipeline {first} .. {last} ({symbols} symbols)"))
        with progress_bar(console) as progress:
            for job, partitions, doing in steps:
                result = run_with_progress(progress, doing, defs, instance, job, partitions, log_path)
                if not result.success and job != "market_pipeline":
                    raise click.ClickException(f"{job} failed:\n  " + "\n  ".join(failure_messages(result)))
        _report(platform.database_url, instance, result, started, first, last)
        console.print(f"  step output (dbt log): {log_path}")
    if not result.success:
        raise click.ClickException("the pipeline failed:\n  " + "\n  ".join(failure_messages(result)))


def _report(url: str, instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, started: float, first: str, last: str) -> None:
    with psycopg.connect(url) as conn:
        console.print(_row_counts(conn))
        console.print(_checks(result))
        console.print(_timings(instance, result, started))
        if result.success:
            console.print(_portfolio(conn))
            version = PortfolioConfig().algorithm_version  # the demo runs the portfolio manager's default
            console.print(_analytics(conn, version))
            console.print(_sector_exposure(conn, version))
    console.print(
        "\n[bold]Next[/bold]\n"
        "  Dagster UI (asset graph, runs, checks):  zmart ui    -> http://127.0.0.1:3000\n"
        "  dbt docs (lineage raw -> marts):         zmart docs  -> http://127.0.0.1:8080\n"
        f"  this run: {result.run_id}, partitions {first} .. {last}"
    )


def _row_counts(conn: psycopg.Connection) -> Table:
    table = Table(title="rows per table", show_edge=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    relations = conn.execute(
        """
        select table_schema, table_name from information_schema.tables
        where table_schema = any(%s) and table_name not like '%%\\_p2%%'
        order by array_position(%s, table_schema::text), table_name
        """,
        (list(REPORTED_SCHEMAS), list(REPORTED_SCHEMAS)),
    ).fetchall()
    for schema, name in relations:
        count = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, name))).fetchone()
        table.add_row(f"{schema}.{name}", f"{count[0] if count else 0:,}")
    return table


def _checks(result: dg.ExecuteInProcessResult) -> Table:
    """The GX checks one by one, the dbt tests as a count; anything that failed is listed."""
    evaluations = result.get_asset_check_evaluations()
    passed = sum(e.passed for e in evaluations)
    table = Table(title=f"checks: {passed} of {len(evaluations)} passed", show_edge=False)
    table.add_column("asset")
    table.add_column("check")
    table.add_column("result")
    dbt_tests = [e for e in evaluations if not e.check_name.endswith(_GX_CHECK_SUFFIXES)]
    for e in sorted(evaluations, key=lambda e: (e.passed, e.asset_key.to_user_string(), e.check_name)):
        if e.check_name.endswith(_GX_CHECK_SUFFIXES) or not e.passed:
            verdict = "[green]passed[/green]" if e.passed else ("[yellow]warning[/yellow]" if e.severity == dg.AssetCheckSeverity.WARN else "[red]FAILED[/red]")
            table.add_row(e.asset_key.to_user_string(), e.check_name, verdict)
    table.add_row("dbt", f"{len(dbt_tests)} data tests on {len({e.asset_key for e in dbt_tests})} models", f"{sum(e.passed for e in dbt_tests)} passed")
    return table


def _timings(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, started: float) -> Table:
    table = Table(title=f"elapsed {time.monotonic() - started:.1f} s", show_edge=False)
    table.add_column("stage")
    table.add_column("steps", justify="right")
    table.add_column("seconds", justify="right")
    for timing in stage_timings(instance, result.run_id):
        table.add_row(timing.stage, str(timing.steps), f"{timing.seconds:.1f}")
    return table


def _portfolio(conn: psycopg.Connection) -> Table:
    rows = conn.execute(
        """
        select c.position, c.symbol, c.weight, c.composite_score, d.action, d.reason, c.as_of
        from marts.fct_portfolio_composition c
        join marts.fct_decisions d on d.evaluation_id = c.evaluation_id and d.symbol = c.symbol
        order by c.position
        """
    ).fetchall()
    as_of = rows[0][6] if rows else None
    table = Table(title=f"portfolio at {as_of:%Y-%m-%d %H:%M} UTC" if as_of else "portfolio", show_edge=False)
    for column in ("#", "symbol", "weight", "composite", "decision", "reason"):
        table.add_column(column)
    for position, symbol, weight, score, action, reason, _ in rows:
        table.add_row(str(position), symbol, f"{weight:.2f}", f"{score:.4f}", action, reason)
    return table


def _analytics(conn: psycopg.Connection, version: str) -> Table | str:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("select * from marts.fct_portfolio_analytics where algorithm_version = %s", (version,)).fetchall()
    return analytics_table(rows, version)


def analytics_table(rows: Sequence[Mapping[str, object]], version: str) -> Table | str:
    """The headline figures (rows) per period (columns): the whole history, and each trailing
    period the history covers (a longer one would only repeat the whole history)."""
    by_period = {row["period"]: row for row in rows}
    periods = [p for p in PERIOD_ORDER if p in by_period and (p == "all" or by_period[p]["is_period_covered"])]
    if not periods:
        return f"analytics {version}: no portfolio history yet"
    latest = by_period[periods[0]]["latest_as_of"]
    table = Table(title=f"analytics {version} to {latest:%Y-%m-%d %H:%M} UTC", show_edge=False)
    table.add_column("figure")
    for period in periods:
        table.add_column(str(period), justify="right")
    table.add_row("hours with a return", *(str(by_period[p]["return_hours"]) for p in periods))
    for column, label, kind in HEADLINE_FIGURES:
        table.add_row(label, *(figure(by_period[p][column], kind) for p in periods))
    return table


def _sector_exposure(conn: psycopg.Connection, version: str) -> Table | str:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            select as_of, sector, weight, holding_count, symbols
            from marts.fct_portfolio_sector_exposure
            where algorithm_version = %s
              and as_of = (select max(as_of) from marts.fct_portfolio_sector_exposure where algorithm_version = %s)
            """,
            (version, version),
        ).fetchall()
    return sector_table(rows, version)


def sector_table(rows: Sequence[Mapping[str, object]], version: str) -> Table | str:
    """The latest holdings' sectors, the largest weight first."""
    if not rows:
        return f"sectors {version}: no portfolio history yet"
    ordered = sorted(rows, key=lambda row: (-Decimal(str(row["weight"])), str(row["sector"])))
    table = Table(title=f"sectors {version} at {ordered[0]['as_of']:%Y-%m-%d %H:%M} UTC", show_edge=False)
    for column, justify in (("sector", "left"), ("weight", "right"), ("holdings", "right"), ("symbols", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in ordered:
        table.add_row(str(row["sector"]), f"{float(row['weight']):.2%}", str(row["holding_count"]), ", ".join(row["symbols"]))  # type: ignore[arg-type]
    return table
