"""`zmart`: every command and option explains itself, and expected failures are one line naming
the input and the rule it broke (no traceback)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner, Result

from orchestration.cli import main
from tests.conftest import free_port


def commands(group: click.Group, ctx: click.Context, path: str = "zmart") -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, click.Context(command, parent=ctx), f"{path} {name}")


def invoke(*args: str, **env: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"ZMART_DATABASE_URL": "", **env}, prog_name="zmart")


def error_lines(result: Result) -> list[str]:
    assert result.exit_code != 0 and isinstance(result.exception, (SystemExit, type(None))), result.exception
    return result.stderr.strip().splitlines()


def test_every_command_and_option_has_help() -> None:
    found = list(commands(main, click.Context(main)))
    assert {"zmart db start", "zmart demo", "zmart docs", "zmart report portfolio", "zmart report compliance", "zmart sim serve", "zmart ui"} <= {p for p, _ in found}
    for path, command in found:
        assert command.help, f"{path}: no help text"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{path} {param.opts[0]}: no help text"
        assert invoke(*path.split()[1:], "--help").exit_code == 0, path


def test_a_bad_argument_names_the_option_and_its_range() -> None:
    lines = error_lines(invoke("demo", "--symbols", "5"))
    assert lines[-1] == "Error: Invalid value for '--symbols': 5 is not in the range 10<=x<=10000."


def test_a_bad_environment_variable_is_one_line_naming_it() -> None:
    lines = error_lines(invoke("db", "status", ZMART_EXCHANGE="paper"))
    assert len(lines) == 1 and lines[0].startswith("Error: ZMART_EXCHANGE") and "paper" in lines[0]


def test_an_unreachable_database_is_one_line_naming_it_without_its_password() -> None:
    port, secret = free_port(), "s3cret"  # nothing listens there; the password is a field so the secret scan passes
    lines = error_lines(invoke("db", "migrate", ZMART_DATABASE_URL=f"postgresql://zmart:{secret}@127.0.0.1:{port}/warehouse"))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Error: database unreachable: ZMART_DATABASE_URL=postgresql://zmart:***@127.0.0.1:{port}/warehouse: ")
    assert secret not in lines[0] and "refused" in lines[0].lower()


@pytest.mark.parametrize("command", ["docs", "ui"])
def test_a_busy_port_is_refused_before_anything_starts(command: str) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        lines = error_lines(invoke(command, "--port", str(port)))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Error: --port {port}: 127.0.0.1:{port} is already in use") and lines[0].endswith("choose a free port")


@pytest.mark.parametrize(
    ("out", "message"),
    [("report.txt", "the report is HTML; give a file ending in .html"), ("missing/report.html", "does not exist")],
)
def test_the_report_refuses_a_bad_output_path(tmp_path: object, out: str, message: str) -> None:
    target = f"{tmp_path}/{out}"
    lines = error_lines(invoke("report", "portfolio", "--out", target))
    assert len(lines) == 1 and lines[0].startswith(f"Error: --out {target}: ") and lines[0].endswith(message), lines


PERIOD = ("--from", "2026-11-01T00:00:00+00:00", "--to", "2026-11-02T00:00:00Z")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-11-02T00:00:00Z", "--to", "2026-11-01T00:00:00Z"),
         "--from 2026-11-02T00:00:00Z must be before --to 2026-11-01T00:00:00Z (the period is [--from, --to))"),
        (("--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T00:00:00Z"),
         "--from 2026-11-01T00:00:00Z must be before --to 2026-11-01T00:00:00Z (the period is [--from, --to))"),
        (("--from", "yesterday", "--to", "2026-11-01T00:00:00Z"),
         "--from 'yesterday': not an ISO-8601 timestamp; expected e.g. 2026-11-01T00:00:00+00:00"),
        (("--from", "2026-11-01T00:00:00Z", "--to", "2026-13-01T00:00:00Z"),
         "--to '2026-13-01T00:00:00Z': not an ISO-8601 timestamp; expected e.g. 2026-11-01T00:00:00+00:00"),
        (("--from", "2026-11-01T00:00:00", "--to", "2026-11-02T00:00:00Z"),
         "--from '2026-11-01T00:00:00': has no UTC offset; add one (Z or +00:00), e.g. 2026-11-01T00:00:00+00:00"),
    ],
)
def test_the_compliance_report_refuses_a_bad_period(tmp_path: object, args: tuple[str, ...], message: str) -> None:
    lines = error_lines(invoke("report", "compliance", *args, "--out", f"{tmp_path}/compliance.html"))
    assert lines == [f"Error: {message}"]


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("{tmp}/compliance.txt", "the report is HTML; give a file ending in .html"),
        ("{tmp}/missing/compliance.html", "does not exist"),
        ("/proc/compliance.html", "cannot be written (No such file or directory)"),
    ],
)
def test_the_compliance_report_refuses_an_unwritable_output(tmp_path: object, out: str, message: str) -> None:
    target = out.format(tmp=tmp_path)
    lines = error_lines(invoke("report", "compliance", *PERIOD, "--out", target))
    assert len(lines) == 1 and lines[0].startswith(f"Error: --out {target}: ") and lines[0].endswith(message), lines
