"""The README opens with exactly the two set-up commands, and CI runs the second one."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.S)


def test_the_readme_opens_with_the_demo_and_the_test_command() -> None:
    commands = readme_commands()
    demo, tests = commands[0], commands[1]
    assert "\n" not in demo and demo.endswith("zmart demo")
    assert "\n" not in tests and tests.endswith("pytest -n 2 --dist loadgroup") and "'.[test]'" in tests


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert readme_commands()[1] in ci
