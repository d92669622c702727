"""The README's test command runs the suite on two xdist workers with --dist loadgroup;
tests/conftest.py groups a module's tests, and the modules sharing a session build, onto one
worker. That grouping failed silently once (pytest 9.2's structured node ids), so it is checked
here on a small tree run the same way, with the project's hook."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.conftest import SHARED_BUILDS

ROOT = Path(__file__).parents[2]
RESULT = re.compile(r"^\[(gw\d+)\] .*PASSED (test_\w+\.py)::(\w+)@(\S+)", re.MULTILINE)


def test_a_modules_tests_and_a_shared_builds_modules_run_on_one_worker(tmp_path: Path) -> None:
    shared = SHARED_BUILDS[0]
    (tmp_path / "conftest.py").write_text(
        "import pytest\n"
        "from tests.conftest import pytest_collection_modifyitems  # noqa: F401 (the hook under test)\n\n"
        f"@pytest.fixture(scope='session')\ndef {shared}() -> int:\n    return 1\n"
    )
    for module in ("alpha", "beta", "gamma", "delta"):
        (tmp_path / f"test_{module}.py").write_text("".join(f"def test_{k}() -> None:\n    pass\n\n" for k in range(4)))
    for module in ("uses_build_one", "uses_build_two"):  # the build is requested by one test of each module only
        (tmp_path / f"test_{module}.py").write_text(
            f"def test_0({shared}: int) -> None:\n    pass\n\n" + "".join(f"def test_{k}() -> None:\n    pass\n\n" for k in range(1, 4))
        )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider", "-o", "addopts=", str(tmp_path)],
        cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = RESULT.findall(run.stdout)
    assert len(results) == 24, run.stdout[-3000:]
    workers: dict[str, set[str]] = defaultdict(set)
    groups: dict[str, set[str]] = defaultdict(set)
    for worker, module, _test, group in results:
        workers[group].add(worker)
        groups[module].add(group)
    assert {m: g for m, g in groups.items() if len(g) != 1} == {}
    assert groups["test_uses_build_one.py"] == groups["test_uses_build_two.py"] == {shared}
    assert groups["test_alpha.py"] == {"test_alpha.py"}
    assert {g: w for g, w in workers.items() if len(w) != 1} == {}, "a group's tests ran on both workers"
    assert len({w for ws in workers.values() for w in ws}) == 2, "the groups were not shared out between the two workers"
