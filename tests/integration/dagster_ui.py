"""The Dagster webserver as the UI runs it, started by a test on a free loopback port, and its GraphQL API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from orchestration.settings import PROJECT_ROOT
from tests.conftest import free_port

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 180
STOP_SECONDS = 60


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group started with start_new_session; SIGKILL it if the graceful
    shutdown outlasts STOP_SECONDS (dagster dev's can, on loaded shared cores)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)


def graphql(port: int, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", json.dumps({"query": query, "variables": variables}).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


@contextmanager
def dagster_webserver(log: Path, daemon: bool) -> Iterator[int]:
    """``dagster dev`` (webserver and daemon) or the webserver alone, on the current environment's
    DAGSTER_HOME and code location; yields its port once GraphQL answers, stops its process group after."""
    port = free_port()
    command = [str(BIN / "dagster"), "dev"] if daemon else [str(BIN / "dagster-webserver")]
    process = subprocess.Popen(
        [*command, "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT, env=dict(os.environ), stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            try:
                graphql(port, "{ version }", {})
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(f"the Dagster webserver did not answer within {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")
        yield port
    finally:
        stop_process_group(process)
