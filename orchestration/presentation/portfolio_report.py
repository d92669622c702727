"""The portfolio report: one self-contained HTML file (inline CSS, charts as PNG data URIs) from
the portfolio marts of one algorithm version."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from orchestration.presentation import charts
from orchestration.presentation.figures import HEADLINE_FIGURES, PERIOD_ORDER, figure

Row = Mapping[str, Any]
HOUR = timedelta(hours=1)


class ReportError(ValueError):
    """The marts hold nothing to report for the version asked for."""


@dataclass(frozen=True)
class EquityCurve:
    """Wealth W_t = prod_{s<=t}(1 + r_s) over the hours with a portfolio return, at the end of
    each such hour, and its drawdown W_t / max(1, max_{s<=t} W_s) - 1 (the starting wealth 1
    counts as a peak, as in marts.fct_portfolio_analytics.max_drawdown). Hours without a return
    are left out, as there."""

    start: datetime | None  # the first holding hour's start, where wealth is 1
    times: list[datetime]
    wealth: list[float]
    drawdown: list[float]

    def chart(self) -> str:
        """The curve from its start (wealth 1, no drawdown) as a PNG data URI."""
        assert self.start is not None, "an empty curve has no chart"
        return charts.equity_chart([self.start, *self.times], [1.0, *self.wealth], [0.0, *self.drawdown])


@dataclass(frozen=True)
class PortfolioData:
    version: str
    analytics: list[Row]
    returns: list[Row]
    holdings: list[Row]
    decisions: list[Row]
    sectors: list[Row]


def equity_curve(returns: Sequence[Row]) -> EquityCurve:
    """From rows of (as_of, portfolio_return) in time order; a return is earned over [as_of, as_of + 1 hour)."""
    earned = [row for row in returns if row["portfolio_return"] is not None]
    times, wealth, drawdown = [], [], []
    level, peak = 1.0, 1.0
    for row in earned:
        level *= 1.0 + float(row["portfolio_return"])
        peak = max(peak, level)
        times.append(row["as_of"] + HOUR)
        wealth.append(level)
        drawdown.append(level / peak - 1.0)
    return EquityCurve(earned[0]["as_of"] if earned else None, times, wealth, drawdown)


def load(conn: psycopg.Connection, version: str) -> PortfolioData:
    """Everything the report shows, from the marts; a version with no evaluation is refused."""
    def rows(query: str) -> list[Row]:
        with conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, {"version": version}).fetchall()  # type: ignore[arg-type]

    returns = rows(
        """
        select distinct on (as_of) as_of, portfolio_return, benchmark_return
        from marts.fct_portfolio_history where algorithm_version = %(version)s order by as_of
        """
    )
    if not returns:
        known = [r[0] for r in conn.execute("select distinct algorithm_version from marts.fct_portfolio_history order by 1")]
        raise ReportError(
            f"--version {version!r}: marts.fct_portfolio_history has no evaluation of this algorithm version "
            f"(versions with history: {', '.join(known) or 'none; run the market pipeline first'})"
        )
    return PortfolioData(
        version=version,
        analytics=rows("select * from marts.fct_portfolio_analytics where algorithm_version = %(version)s"),
        returns=returns,
        holdings=rows(
            """
            select c.position, c.symbol, c.weight, c.composite_score, c.as_of, d.action, d.reason
            from marts.fct_portfolio_composition c
            left join marts.fct_decisions d on d.evaluation_id = c.evaluation_id and d.symbol = c.symbol
            where c.algorithm_version = %(version)s order by c.position
            """
        ),
        decisions=rows(
            """
            select d.as_of, d.symbol, d.action, d.reason from marts.fct_decisions d
            where d.algorithm_version = %(version)s and d.action = 'remove'
              and d.evaluation_id = (select max(evaluation_id) from marts.fct_portfolio_composition where algorithm_version = %(version)s)
            order by d.symbol
            """
        ),
        sectors=rows(
            """
            select as_of, sector, weight, holding_count, symbols from marts.fct_portfolio_sector_exposure
            where algorithm_version = %(version)s
              and as_of = (select max(as_of) from marts.fct_portfolio_sector_exposure where algorithm_version = %(version)s)
            order by weight desc, sector
            """
        ),
    )


def table(header: Sequence[str], body: Sequence[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; the columns at the ``numeric`` positions are right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    lines = []
    for cells in body:
        tds = "".join(
            f'<td class="{"num" if i in numeric else ""}">{html.escape(str(cell))}</td>' for i, cell in enumerate(cells)
        )
        lines.append(f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _analytics(analytics: Sequence[Row]) -> str:
    by_period = {row["period"]: row for row in analytics}
    periods = [p for p in PERIOD_ORDER if p in by_period and (p == "all" or by_period[p]["is_period_covered"])]
    if not periods:
        return "<p>No analytics yet.</p>"
    body: list[list[object]] = [["hours with a return", *(by_period[p]["return_hours"] for p in periods)]]
    body += [[label, *(figure(by_period[p][column], kind) for p in periods)] for column, label, kind in HEADLINE_FIGURES]
    return table(["figure", *periods], body, numeric=range(1, len(periods) + 1))


def _image(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { padding: 0.2rem 0.6rem; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; }
"""


def render(data: PortfolioData, generated_at: datetime) -> str:
    """The report as one HTML document."""
    curve = equity_curve(data.returns)
    latest = data.returns[-1]["as_of"]
    sections = [
        f"<h1>Portfolio report: algorithm {html.escape(data.version)}</h1>",
        f"<p>Evaluations {data.returns[0]['as_of']:%Y-%m-%d %H:%M} .. {latest:%Y-%m-%d %H:%M} UTC "
        f"({len(data.returns)} hours, {len(curve.times)} with a return); generated {generated_at:%Y-%m-%d %H:%M} UTC.</p>",
        "<h2>Equity curve and drawdown</h2>",
        _image(curve.chart(), "equity curve and drawdown")
        if curve.times else "<p>No hour with a portfolio return yet.</p>",
        "<h2>Analytics</h2>",
        _analytics(data.analytics),
    ]
    if data.holdings:
        as_of = data.holdings[0]["as_of"]
        sections += [
            f'<h2 id="holdings">Holdings at {as_of:%Y-%m-%d %H:%M} UTC</h2>',
            table(
                ["#", "symbol", "weight", "composite score", "decision", "reason"],
                [[h["position"], h["symbol"], f"{float(h['weight']):.2%}", f"{float(h['composite_score']):.4f}", h["action"] or "", h["reason"] or ""]
                 for h in data.holdings],
                numeric=(0, 2, 3),
            ),
        ]
    if data.decisions:
        sections += ["<h3>Removed at that evaluation</h3>", table(["symbol", "reason"], [[d["symbol"], d["reason"]] for d in data.decisions])]
    if data.sectors:
        sections += [
            f"<h2>Sector exposure at {data.sectors[0]['as_of']:%Y-%m-%d %H:%M} UTC</h2>",
            _image(charts.bar_chart("sector weights", [s["sector"] for s in data.sectors], [float(s["weight"]) for s in data.sectors], "weight"), "sector exposure"),
            table(
                ["sector", "weight", "holdings", "symbols"],
                [[s["sector"], f"{float(s['weight']):.2%}", s["holding_count"], ", ".join(s["symbols"])] for s in data.sectors],
                numeric=(1, 2),
            ),
        ]
    body = "\n".join(sections)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Portfolio report {html.escape(data.version)}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
