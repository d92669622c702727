"""The demo's analytics and sector tables, rendered from hand-made mart rows."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rich.console import Console

from orchestration.cli.demo import analytics_table, sector_table
from orchestration.presentation.figures import HEADLINE_FIGURES, figure

LATEST = datetime(2026, 12, 1, 9, tzinfo=UTC)


def render(table: object) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text().replace("│", " ").replace("┃", " ")  # the column rules


def analytics_row(period: str, covered: bool, value: float | None) -> dict[str, object]:
    row: dict[str, object] = {column: value for column, _, _ in HEADLINE_FIGURES}
    return {**row, "period": period, "is_period_covered": covered, "latest_as_of": LATEST, "return_hours": 40}


def test_figures_are_percentages_or_ratios_and_nulls_are_n_a() -> None:
    assert figure(0.01234, "signed") == "+1.23%"
    assert figure(-0.5, "signed") == "-50.00%"
    assert figure(Decimal("0.25"), "percent") == "25.00%"
    assert figure(1.23456, "ratio") == "1.23"
    assert figure(None, "ratio") == "n/a"
    with pytest.raises(ValueError, match="kind 'bp'"):
        figure(1.0, "bp")
    with pytest.raises(TypeError, match="'x' is not a number"):
        figure("x", "ratio")


def test_analytics_show_the_covered_periods_and_every_headline_figure() -> None:
    rows = [analytics_row("24h", True, -0.02), analytics_row("all", True, 0.015), analytics_row("7d", False, 0.015)]
    rows[0]["sharpe_ratio"] = None
    text = render(analytics_table(rows, "v1"))
    assert " ".join(text.split()).startswith("analytics v1 to 2026-12-01 09:00 UTC")
    header = next(line for line in text.splitlines() if "figure" in line)
    assert header.split() == ["figure", "all", "24h"]  # 7d is not covered: it would repeat all
    for _, label, kind in HEADLINE_FIGURES:
        line = next(line for line in text.splitlines() if line.strip().startswith(label))
        expected = {"signed": ["+1.50%", "-2.00%"], "percent": ["1.50%", "-2.00%"]}.get(kind, ["0.01", "n/a" if label == "Sharpe" else "-0.02"])
        assert line.split()[-2:] == expected, line


def test_no_history_says_so() -> None:
    assert "no portfolio history yet" in render(analytics_table([], "v1"))
    assert "no portfolio history yet" in render(sector_table([], "v1"))


def test_sectors_are_listed_by_weight() -> None:
    rows = [
        {"as_of": LATEST, "sector": "unknown", "weight": Decimal("0.1"), "holding_count": 1, "symbols": ["NEWUSDTM"]},
        {"as_of": LATEST, "sector": "layer1", "weight": Decimal("0.6"), "holding_count": 2, "symbols": ["ETHUSDTM", "XBTUSDTM"]},
        {"as_of": LATEST, "sector": "meme", "weight": Decimal("0.3"), "holding_count": 1, "symbols": ["DOGEUSDTM"]},
    ]
    lines = render(sector_table(rows, "v1")).splitlines()
    assert lines[0].split() == ["sectors", "v1", "at", "2026-12-01", "09:00", "UTC"]
    body = [line.split() for line in lines if line.strip().startswith(("layer1", "meme", "unknown"))]
    assert body == [["layer1", "60.00%", "2", "ETHUSDTM,", "XBTUSDTM"], ["meme", "30.00%", "1", "DOGEUSDTM"], ["unknown", "10.00%", "1", "NEWUSDTM"]]
