"""Metadata the Dagster UI shows on an asset's materialisation: row counts, Markdown previews and
charts (PNG data URIs inside Markdown). Every query is bounded whatever the history's length: a
time range on an indexed column, at most CHART_SYMBOLS symbols and PREVIEW_ROWS rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import psycopg
from psycopg.rows import dict_row

from orchestration.presentation import charts
from orchestration.presentation.portfolio_report import equity_curve

PREVIEW_ROWS = 10
CHART_SYMBOLS = 5
CHART_SPAN = timedelta(hours=48)  # a chart shows the last 48 hours up to the window's end
EQUITY_SPAN = timedelta(days=30)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; pipes and newlines in cells are escaped so a cell stays one cell."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def image(uri: str, alt: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"![{alt}]({uri})")


def _series(rows: Sequence[tuple[str, datetime, float]]) -> dict[str, tuple[list[datetime], list[float]]]:
    series: dict[str, tuple[list[datetime], list[float]]] = defaultdict(lambda: ([], []))
    for name, moment, value in rows:
        series[name][0].append(moment)
        series[name][1].append(value)
    return dict(series)


def candles_metadata(url: str, start: datetime, end: datetime) -> dict[str, dg.MetadataValue]:
    """Rows of raw.candles_1m in the window, the latest rows, and the closes of the most traded
    symbols over the last CHART_SPAN, each divided by its first close in the span (one scale)."""
    span_start = max(start, end - CHART_SPAN)
    with psycopg.connect(url) as conn:
        count = conn.execute("select count(*) from raw.candles_1m where open_time >= %s and open_time < %s", (start, end)).fetchone()
        preview = conn.execute(
            """
            select symbol, open_time, open, high, low, close, volume from raw.candles_1m
            where open_time >= %s and open_time < %s order by open_time desc, symbol limit %s
            """,
            (span_start, end, PREVIEW_ROWS),
        ).fetchall()
        closes = conn.execute(
            """
            with span as (
                select symbol, open_time, close, volume from raw.candles_1m where open_time >= %(start)s and open_time < %(end)s
            ),
            most_traded as (
                select symbol from span group by symbol order by sum(volume * close) desc, symbol limit %(symbols)s
            )
            select symbol, open_time, close / first_value(close) over (partition by symbol order by open_time)
            from span where symbol in (select symbol from most_traded) order by symbol, open_time
            """,
            {"start": span_start, "end": end, "symbols": CHART_SYMBOLS},
        ).fetchall()
    metadata: dict[str, dg.MetadataValue] = {
        "rows_in_window": dg.MetadataValue.int(count[0] if count else 0),
        "preview": dg.MetadataValue.md(markdown_table(["symbol", "open_time", "open", "high", "low", "close", "volume"], preview)),
    }
    if closes:
        uri = charts.line_chart(f"1m close / first close, {span_start:%m-%d %H:%M} .. {end:%m-%d %H:%M} UTC", "relative close", _series(closes))
        metadata["price_chart"] = image(uri, "price chart")
    return metadata


def scores_metadata(url: str, end: datetime) -> dict[str, dg.MetadataValue]:
    """The latest scores up to ``end`` (the best first) and the composite score over the last
    CHART_SPAN of the symbols best scored at the latest score time."""
    with psycopg.connect(url) as conn:
        latest = conn.execute(
            """
            select symbol, score_time, algorithm_version, composite_score, trend_score, momentum_score, liquidity_score, is_eligible
            from marts.fct_symbol_scores
            where score_time = (select max(score_time) from marts.fct_symbol_scores where score_time <= %s)
            order by is_eligible desc, composite_score desc nulls last, symbol limit %s
            """,
            (end, PREVIEW_ROWS),
        ).fetchall()
        best = [(row[0], row[2]) for row in latest if row[7]][:CHART_SYMBOLS]
        history = conn.execute(
            """
            select symbol || ' ' || algorithm_version, score_time, composite_score from marts.fct_symbol_scores
            where score_time > %s and score_time <= %s and (symbol, algorithm_version) in (select * from unnest(%s::text[], %s::text[]))
              and composite_score is not null
            order by 1, score_time
            """,
            (end - CHART_SPAN, end, [s for s, _ in best], [v for _, v in best]),
        ).fetchall()
    columns = ["symbol", "score_time", "version", "composite", "trend score", "momentum score", "liquidity score", "eligible"]
    metadata: dict[str, dg.MetadataValue] = {"latest_scores": dg.MetadataValue.md(markdown_table(columns, latest))}
    if history:
        metadata["score_chart"] = image(charts.line_chart("composite score of the best-scored symbols", "composite score", _series(history)), "score chart")
    return metadata


def holdings_metadata(url: str, version: str, end: datetime) -> dict[str, dg.MetadataValue]:
    """The holdings of the latest formed evaluation up to ``end`` (a window evaluates at the ends
    of its hours, so ``end`` included), with the decision behind each."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            with latest as (
                select evaluation_id from portfolio.evaluations
                where algorithm_version = %s and outcome = 'formed' and as_of <= %s order by as_of desc limit 1
            )
            select c.position, c.symbol, c.weight, c.composite_score, d.action, d.reason
            from portfolio.composition c join latest using (evaluation_id)
            left join portfolio.decisions d on d.evaluation_id = c.evaluation_id and d.symbol = c.symbol
            order by c.position
            """,
            (version, end),
        ).fetchall()
    return {"holdings": dg.MetadataValue.md(markdown_table(["#", "symbol", "weight", "composite", "decision", "reason"], rows))} if rows else {}


def equity_metadata(url: str, version: str, end: datetime) -> dict[str, dg.MetadataValue]:
    """The equity curve and drawdown of the last EQUITY_SPAN up to ``end`` (wealth from 1 at the span's start)."""
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        returns = cur.execute(
            """
            select distinct on (as_of) as_of, portfolio_return from marts.fct_portfolio_history
            where algorithm_version = %s and as_of >= %s and as_of < %s order by as_of
            """,
            (version, end - EQUITY_SPAN, end),
        ).fetchall()
    curve = equity_curve(returns)
    if not curve.times:
        return {}
    return {
        "hours_with_return": dg.MetadataValue.int(len(curve.times)),
        "span_return": dg.MetadataValue.float(curve.wealth[-1] - 1.0),
        "span_max_drawdown": dg.MetadataValue.float(min(curve.drawdown)),
        "equity_curve": image(curve.chart(), "equity curve"),
    }


def sector_metadata(url: str, version: str, end: datetime) -> dict[str, dg.MetadataValue]:
    """The sector weights of the latest evaluation up to ``end``."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            select sector, weight, holding_count, array_to_string(symbols, ', ') from marts.fct_portfolio_sector_exposure
            where algorithm_version = %s
              and as_of = (select max(as_of) from marts.fct_portfolio_sector_exposure where algorithm_version = %s and as_of < %s)
            order by weight desc, sector
            """,
            (version, version, end),
        ).fetchall()
    if not rows:
        return {}
    chart = charts.bar_chart("sector exposure", [r[0] for r in rows], [float(r[1]) for r in rows], "weight")
    return {
        "sectors": dg.MetadataValue.md(markdown_table(["sector", "weight", "holdings", "symbols"], rows)),
        "sector_exposure": image(chart, "sector exposure"),
    }
