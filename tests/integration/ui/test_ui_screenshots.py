"""Headless Chromium (Debian's package, driven by Playwright) through the Dagster UI (the asset
graph by layer, an asset's equity-curve chart, the materialising run) and the dbt docs that
`zmart docs` serves; a screenshot of each page is saved and their folder printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from orchestration.assets import LAYERS
from orchestration.settings import PROJECT_ROOT
from tests.conftest import free_port
from tests.integration.dagster_ui import dagster_webserver, stop_process_group
from tests.integration.pipeline.conftest import Pipeline

# Without the background-networking flags Chromium tries hosts the closed network refuses.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
PAGE_TIMEOUT_MS = 120_000  # two shared cores: the UI's first render can be slow
DOCS_STARTUP_SECONDS = 300  # dbt docs generate parses the project and reads the catalog first
expect.set_options(timeout=PAGE_TIMEOUT_MS)  # assertions wait as long as page actions
# The raw layer's assets, as its lineage page labels them; the external ledger is drawn too.
RAW_ASSETS = (
    "kucoin_contracts", "kucoin_candles_1m", "kucoin_open_interest", "kucoin_funding_rates", "kucoin_tickers",
    "kucoin_order_books", "kucoin_trades", "signals", "signal_sentiment", "load_batches",
)
VIEWPORT = {"width": 1600, "height": 1000}
GRAPH_MARGIN_PX = 300  # the page header and toolbar above the lineage graph


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ui-screenshots")
    print(f"\nUI screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(chromium), headless=True,
            args=CHROMIUM_FLAGS, viewport=VIEWPORT,
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def dagster_port(materialised: tuple[Pipeline, dg.ExecuteInProcessResult, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with dagster_webserver(tmp_path_factory.mktemp("webserver") / "dagster.log", daemon=False) as port:
        yield port


@pytest.fixture(scope="module")
def docs_port(materialised: tuple[Pipeline, dg.ExecuteInProcessResult, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`zmart docs` as a user runs it, against the materialised warehouse."""
    port = free_port()
    home = tmp_path_factory.mktemp("zmart-docs")
    log = home / "docs.log"
    env = {**os.environ, "ZMART_HOME": str(home), "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "docs", "--port", str(port)], cwd=PROJECT_ROOT, env=env,
        stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + DOCS_STARTUP_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/catalog.json", timeout=10).close()
                break
            except OSError:
                time.sleep(2)
        else:
            pytest.fail(f"zmart docs did not serve within {DOCS_STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")
        assert f"dbt docs on http://127.0.0.1:{port}" in log.read_text()
        yield port
    finally:
        stop_process_group(process)


def open_page(browser: BrowserContext, url: str) -> Page:
    page = browser.new_page()
    # Dagster's UI asks once to join its community, over whatever page is open.
    page.add_locator_handler(page.get_by_text("Join the Dagster community"), lambda: page.get_by_role("button", name="Skip").click())
    page.goto(url)
    return page


def fit_graph_height(page: Page) -> None:
    """Make the window as tall as the lineage graph, then reload it. The UI zooms a lineage graph to
    fit the window's width (at most 100 %) and centres it vertically; it draws only the nodes inside
    the window, so a graph taller than the window has nodes that are not on the page at all (the
    raw layer's is ten assets tall). Zooming out instead would shorten long labels."""
    graph = page.locator("[data-svg-viewport] svg").first
    expect(graph).to_be_attached()
    height = float(graph.get_attribute("height") or 0)  # the graph's own size, at 100 %
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], int(height) + GRAPH_MARGIN_PX)})
    page.reload()


def shoot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert (folder / f"{name}.png").stat().st_size > 10_000  # a rendered page, not a blank one


def test_the_asset_graph_shows_the_layers_and_a_layers_assets(browser: BrowserContext, dagster_port: int, screenshots: Path) -> None:
    page = open_page(browser, f"http://127.0.0.1:{dagster_port}/asset-groups")
    for layer in LAYERS:  # the global lineage collapses its assets into their groups: the layers
        expect(page.get_by_text(layer, exact=True).last).to_be_visible()
    expect(page.get_by_text("fetching statuses")).to_have_count(0)
    shoot(page, screenshots, "asset_graph")
    page.goto(f"http://127.0.0.1:{dagster_port}/locations/zmart/asset-groups/raw/lineage")
    fit_graph_height(page)
    for asset in RAW_ASSETS:
        expect(page.get_by_text(asset, exact=True).first).to_be_visible()
    shoot(page, screenshots, "asset_graph_raw")


def test_an_asset_page_shows_its_equity_curve(browser: BrowserContext, dagster_port: int, screenshots: Path) -> None:
    page = open_page(browser, f"http://127.0.0.1:{dagster_port}/assets/marts/fct_portfolio_history?view=events")
    page.locator("tr", has_text="equity_curve").get_by_text("[Show Markdown]").click()
    chart = page.locator('img[src^="data:image/png;base64,"]').first
    expect(chart).to_be_visible()
    assert chart.evaluate("image => image.naturalWidth") > 100  # the PNG decoded
    shoot(page, screenshots, "asset_fct_portfolio_history_equity_curve")


def test_the_run_page_shows_the_successful_run(
    browser: BrowserContext, dagster_port: int, materialised: tuple[Pipeline, dg.ExecuteInProcessResult, str], screenshots: Path
) -> None:
    run_id = materialised[1].run_id
    page = open_page(browser, f"http://127.0.0.1:{dagster_port}/runs/{run_id}")
    expect(page.get_by_text("Success").first).to_be_visible()
    expect(page.get_by_text("market_pipeline").first).to_be_visible()
    expect(page.get_by_text(run_id[:8]).first).to_be_visible()
    # the run's event log has loaded: the step panel counts the succeeded steps
    expect(page.get_by_text("Loading run logs")).to_have_count(0)
    expect(page.get_by_text(re.compile(r"^Succeeded \([1-9][0-9]*\)$")).first).to_be_visible()
    shoot(page, screenshots, "run")


def test_the_dbt_docs_show_a_model_with_its_documented_columns(browser: BrowserContext, docs_port: int, screenshots: Path) -> None:
    page = open_page(browser, f"http://127.0.0.1:{docs_port}/#!/model/model.zmart.fct_symbol_scores")
    expect(page.locator("h1", has_text="fct_symbol_scores")).to_be_visible()
    expect(page.get_by_text("composite_score", exact=True)).to_be_visible()  # a row of the columns table
    shoot(page, screenshots, "dbt_docs_fct_symbol_scores")
