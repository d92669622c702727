"""One platform with a materialised day (the market pipeline over 24 hours, run with the demo's
progress bars) shared by the report and UI tests, and the headless browser they drive."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from rich.console import Console

from orchestration.cli.progress import progress_bar, run_with_progress
from orchestration.embedded_postgres import EmbeddedPostgres
from orchestration.resources.dbt import prepare_manifest
from tests.integration.pipeline.conftest import Pipeline, hour, isolated_pipeline

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium package


@pytest.fixture(scope="session")
def materialised(pg_cluster: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pipeline, dg.ExecuteInProcessResult, str]]:
    """The platform after contracts_snapshot and market_pipeline over hours 0..23; also what the
    progress bars printed while it ran."""
    prepare_manifest()
    with pytest.MonkeyPatch.context() as monkeypatch, isolated_pipeline(pg_cluster, tmp_path_factory.mktemp("dagster"), monkeypatch) as pipeline:
        pipeline.start_simulator()
        from orchestration.definitions import defs

        terminal = io.StringIO()
        log = tmp_path_factory.mktemp("logs") / "pipeline.log"
        with progress_bar(Console(file=terminal, width=160, force_terminal=False)) as progress:
            assert run_with_progress(progress, "contracts", defs, pipeline.instance, "contracts_snapshot", None, log).success
            result = run_with_progress(progress, "market pipeline", defs, pipeline.instance, "market_pipeline", (hour(0), hour(23)), log)
        assert result.success, log.read_text()[-3000:]
        yield pipeline, result, terminal.getvalue()


def _apt_install(package: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", package], env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed here when missing and the tests run as root with apt (as CI
    does on a clean machine); otherwise the test fails saying how to install it."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        installed = _apt_install("chromium")
        if installed.returncode != 0:  # a fresh machine's package lists may be missing or stale
            subprocess.run(["apt-get", "update"], capture_output=True, text=True, check=False)
            installed = _apt_install("chromium")
        if installed.returncode != 0:
            pytest.fail(f"apt-get install chromium failed:\n{(installed.stdout + installed.stderr)[-2000:]}")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the UI test drives Debian's chromium package; install it with `apt-get install chromium` (as root)")
    return CHROMIUM
