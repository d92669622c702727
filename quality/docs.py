"""GX Data Docs of every suite for one hour window, as a static site.

The gates validate in ephemeral contexts (concurrent check ops must not share a file context's
configuration); the site is built by validating the same suites again, for the window asked for
(by default the latest hour with stored candles), in a GX 1.x file context, which keeps the
results and renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import great_expectations as gx
import psycopg

from quality.gate import GateError, GateResult, SuiteSpec, run_suites
from quality.suites import layers, portfolio, raw_candles, reconciliation

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class DocsSite:
    index: Path
    results: list[GateResult]
    not_evaluated: dict[str, str]  # suite -> why (e.g. the layer is not built yet)


def all_suites(start: datetime, end: datetime) -> list[SuiteSpec]:
    return [
        raw_candles.suite(start, end), raw_candles.completeness_suite(start, end),
        *(spec for suites in layers.LAYERS.values() for spec in suites(start, end)),
        reconciliation.trades_vs_candles(start, end), reconciliation.tickers_vs_candles(start, end), reconciliation.contracts_vs_exchange(),
        portfolio.suite(start, end),
    ]


def latest_hour(url: str) -> datetime | None:
    """The start of the latest hour with a stored candle (None: no candle yet)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("select date_trunc('hour', max(open_time)) from raw.candles_1m").fetchone()
    return row[0] if row else None


def build_site(url: str, out_dir: Path, start: datetime) -> DocsSite:
    """Validate every suite on [start, start + 1 h) into a file context under ``out_dir`` and render the site."""
    context = gx.get_context(mode="file", project_root_dir=str(out_dir))
    results: list[GateResult] = []
    not_evaluated: dict[str, str] = {}
    for spec in all_suites(start, start + HOUR):
        try:
            results.extend(run_suites(url, [spec], context, details=True))
        except GateError as error:  # stored as an errored validation, shown as such in the site
            not_evaluated[spec.name] = str(error)
    sites = context.build_data_docs()
    index = Path(sites["local_site"].removeprefix("file://"))
    return DocsSite(index, results, not_evaluated)
