"""Charts as self-contained PNG data URIs (matplotlib, no display), for Dagster metadata and the HTML report."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # headless: webserver, daemon and CI have no display

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

SIZE = (7.5, 3.0)  # inches; at 100 dpi a chart is a few tens of kilobytes


def data_uri(figure: Figure) -> str:
    """The figure as a base64 PNG data URI; the figure is closed (pyplot keeps figures alive otherwise)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _axes(title: str, ylabel: str) -> tuple[Figure, plt.Axes]:
    figure, axes = plt.subplots(figsize=SIZE)
    axes.set_title(title, fontsize=10)
    axes.set_ylabel(ylabel, fontsize=9)
    axes.grid(alpha=0.3)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    figure.autofmt_xdate()
    return figure, axes


def line_chart(title: str, ylabel: str, series: Mapping[str, tuple[Sequence[datetime], Sequence[float]]]) -> str:
    """One line per named series of (times, values); a legend when there is more than one."""
    figure, axes = _axes(title, ylabel)
    for name, (times, values) in series.items():
        axes.plot(times, values, label=name, linewidth=1.2)
    if len(series) > 1:
        axes.legend(fontsize=7, ncol=min(4, len(series)))
    return data_uri(figure)


def equity_chart(times: Sequence[datetime], wealth: Sequence[float], drawdown: Sequence[float]) -> str:
    """Wealth W_t (from 1) above its drawdown from the running peak."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(SIZE[0], SIZE[1] * 1.6), sharex=True, height_ratios=(2, 1))
    top.plot(times, wealth, color="tab:blue", linewidth=1.3)
    top.axhline(1.0, color="grey", linewidth=0.8)
    top.set_title("equity curve (wealth from 1)", fontsize=10)
    top.grid(alpha=0.3)
    bottom.fill_between(times, drawdown, 0, color="tab:red", alpha=0.4, step="post")
    bottom.set_ylabel("drawdown", fontsize=9)
    bottom.grid(alpha=0.3)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    figure.autofmt_xdate()
    return data_uri(figure)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], xlabel: str) -> str:
    """Horizontal bars, the first label on top."""
    figure, axes = plt.subplots(figsize=(SIZE[0], max(1.5, 0.35 * len(labels) + 0.8)))
    axes.barh(list(labels)[::-1], list(values)[::-1], color="tab:green")
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel, fontsize=9)
    axes.grid(alpha=0.3, axis="x")
    return data_uri(figure)
