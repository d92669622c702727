"""What the Dagster UI shows on the assets after the day's run: row counts, previews and charts
recorded as materialisation metadata, checked against the warehouse."""

from __future__ import annotations

import base64
import re

import dagster as dg
import pytest

from orchestration.presentation.asset_metadata import PREVIEW_ROWS
from tests.integration.pipeline.conftest import SYMBOLS, Pipeline

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def metadata(pipeline: Pipeline, *key: str) -> dict[str, object]:
    event = pipeline.instance.get_latest_materialization_event(dg.AssetKey(list(key)))
    assert event is not None and event.asset_materialization is not None, key
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def assert_png(markdown: object, alt: str) -> None:
    match = re.fullmatch(rf"!\[{alt}\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", str(markdown))
    assert match, str(markdown)[:80]
    assert base64.b64decode(match.group(1)).startswith(PNG_SIGNATURE)


def table_rows(markdown: object) -> list[list[str]]:
    """The body rows of a Markdown table, cells stripped."""
    lines = str(markdown).splitlines()[2:]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


@pytest.fixture(scope="module")
def pipeline(materialised: tuple[Pipeline, dg.ExecuteInProcessResult, str]) -> Pipeline:
    return materialised[0]


def test_candles_carry_their_row_count_a_preview_and_a_price_chart(pipeline: Pipeline) -> None:
    shown = metadata(pipeline, "raw", "kucoin_candles_1m")
    assert shown["rows_in_window"] == SYMBOLS * 24 * 60 == pipeline.query("select count(*) from raw.candles_1m")[0][0]
    latest = pipeline.query(
        "select symbol, open_time, close from raw.candles_1m order by open_time desc, symbol limit %s", (PREVIEW_ROWS,)
    )
    preview = table_rows(shown["preview"])
    assert [(row[0], row[1], float(row[5])) for row in preview] == [(s, str(t), c) for s, t, c in latest]
    assert_png(shown["price_chart"], "price chart")


def test_scores_carry_the_latest_scores_best_first_and_a_score_chart(pipeline: Pipeline) -> None:
    shown = metadata(pipeline, "marts", "fct_symbol_scores")
    best = pipeline.query(
        """
        select symbol from marts.fct_symbol_scores where score_time = (select max(score_time) from marts.fct_symbol_scores)
        order by is_eligible desc, composite_score desc nulls last, symbol limit %s
        """,
        (PREVIEW_ROWS,),
    )
    assert [row[0] for row in table_rows(shown["latest_scores"])] == [s for s, in best]
    assert_png(shown["score_chart"], "score chart")


def test_the_portfolio_carries_its_holdings_equity_curve_and_sector_exposure(pipeline: Pipeline) -> None:
    holdings = table_rows(metadata(pipeline, "portfolio", "composition")["holdings"])
    current = pipeline.query("select position, symbol from marts.fct_portfolio_composition order by position")
    assert [(int(row[0]), row[1]) for row in holdings] == current and len(current) == 10

    history = metadata(pipeline, "marts", "fct_portfolio_history")
    (cumulative, drawdown, hours), = pipeline.query(
        "select cumulative_return, max_drawdown, return_hours from marts.fct_portfolio_analytics where algorithm_version = 'v1' and period = 'all'"
    )
    assert history["hours_with_return"] == hours  # the 30-day span covers the whole day
    assert history["span_return"] == pytest.approx(float(cumulative), rel=1e-9, abs=1e-12)
    assert history["span_max_drawdown"] == pytest.approx(float(drawdown), rel=1e-9, abs=1e-12)
    assert_png(history["equity_curve"], "equity curve")

    sectors = metadata(pipeline, "marts", "fct_portfolio_sector_exposure")
    latest = pipeline.query(
        """
        select sector from marts.fct_portfolio_sector_exposure
        where as_of = (select max(as_of) from marts.fct_portfolio_sector_exposure) order by weight desc, sector
        """
    )
    assert [row[0] for row in table_rows(sectors["sectors"])] == [s for s, in latest]
    assert_png(sectors["sector_exposure"], "sector exposure")
