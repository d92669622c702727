"""`zmart report portfolio` against a warehouse the pipeline filled: what the HTML shows is what the marts hold."""

from __future__ import annotations

import base64
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration.presentation.figures import HEADLINE_FIGURES, figure
from orchestration.presentation.portfolio_report import equity_curve
from orchestration.settings import PROJECT_ROOT
from tests.integration.pipeline.conftest import Pipeline

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def zmart(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZMART_HOME": str(home), "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def report(materialised: tuple[Pipeline, dg.ExecuteInProcessResult, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Pipeline, str]:
    pipeline = materialised[0]
    out = tmp_path_factory.mktemp("report") / "portfolio.html"
    done = zmart("report", "portfolio", "--out", str(out), home=out.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}")
    print(f"portfolio report: {out}")
    return pipeline, out.read_text(encoding="utf-8")


def text(document: str) -> str:
    """The document's visible text, one space between cells."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", document)).split())


def test_the_report_is_self_contained_with_the_equity_curve_and_sector_charts(report: tuple[Pipeline, str]) -> None:
    _, document = report
    assert not re.search(r"""(src|href)=["'](?!data:)""", document)  # nothing loaded from elsewhere
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)">', document)
    assert [alt for _, alt in images] == ["equity curve and drawdown", "sector exposure"]
    assert all(base64.b64decode(data).startswith(PNG_SIGNATURE) for data, _ in images)


def test_the_holdings_are_the_current_portfolio_with_the_reason_for_each(report: tuple[Pipeline, str]) -> None:
    pipeline, document = report
    holdings = pipeline.query(
        """
        select c.position, c.symbol, d.action, d.reason from marts.fct_portfolio_composition c
        join marts.fct_decisions d using (evaluation_id, symbol) where c.algorithm_version = 'v1' order by c.position
        """
    )
    assert len(holdings) == 10
    table = document[document.index('id="holdings"'):]
    shown = re.findall(r"<tr><td[^>]*>(\d+)</td><td[^>]*>([^<]+)</td>(?:<td[^>]*>[^<]*</td>){2}<td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td></tr>", table)
    assert [(int(p), s, a, html.unescape(r)) for p, s, a, r in shown[:10]] == holdings


def test_the_analytics_and_the_equity_curve_agree_with_the_marts(report: tuple[Pipeline, str]) -> None:
    pipeline, document = report
    returns = pipeline.query(
        "select distinct on (as_of) as_of, portfolio_return from marts.fct_portfolio_history where algorithm_version = 'v1' order by as_of"
    )
    curve = equity_curve([{"as_of": a, "portfolio_return": r} for a, r in returns])
    (cumulative, drawdown, hours), = pipeline.query(
        "select cumulative_return, max_drawdown, return_hours from marts.fct_portfolio_analytics where algorithm_version = 'v1' and period = 'all'"
    )
    assert len(curve.times) == hours >= 2
    assert curve.wealth[-1] - 1 == pytest.approx(float(cumulative), rel=1e-9, abs=1e-12)
    assert min(curve.drawdown) == pytest.approx(float(drawdown), rel=1e-9, abs=1e-12)
    visible = text(document)
    assert f"({len(returns)} hours, {hours} with a return)" in visible
    for column, label, kind in HEADLINE_FIGURES:
        value, = pipeline.query(f"select {column} from marts.fct_portfolio_analytics where algorithm_version = 'v1' and period = 'all'")[0]
        assert f"{label} {figure(value, kind)}" in visible, label


def test_the_sector_exposure_is_the_latest_evaluations(report: tuple[Pipeline, str]) -> None:
    pipeline, document = report
    sectors = pipeline.query(
        """
        select sector, weight from marts.fct_portfolio_sector_exposure where algorithm_version = 'v1'
          and as_of = (select max(as_of) from marts.fct_portfolio_sector_exposure where algorithm_version = 'v1')
        order by weight desc, sector
        """
    )
    visible = text(document)
    assert sectors and all(f"{sector} {float(weight):.2%}" in visible for sector, weight in sectors)


def test_an_unknown_version_is_refused_naming_it_and_the_versions_known(materialised: tuple[Pipeline, dg.ExecuteInProcessResult, str], tmp_path: Path) -> None:
    done = zmart("report", "portfolio", "--out", str(tmp_path / "r.html"), "--version", "v9", home=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: --version 'v9': marts.fct_portfolio_history has no evaluation of this algorithm version (versions with history: v1)"
    ]
    assert not (tmp_path / "r.html").exists()


def test_the_demo_progress_bars_counted_every_asset(materialised: tuple[Pipeline, dg.ExecuteInProcessResult, str]) -> None:
    from orchestration.definitions import defs

    total = len(defs.resolve_job_def("market_pipeline").asset_layer.selected_asset_keys)
    assert re.search(rf"market pipeline .* {total}/{total} assets", materialised[2]), materialised[2]
