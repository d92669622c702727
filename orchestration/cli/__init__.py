"""The ``zmart`` command line: database, simulator, demo, portfolio replay, reports, signals, lineage, archive, Dagster UI, dbt docs and GX Data Docs.

Subcommands are imported when invoked, so ``zmart db status`` does not pay for importing
Dagster, dbt and Great Expectations.
"""

from __future__ import annotations

import importlib

import click

_COMMANDS = {
    "archive": "orchestration.cli.archive:archive",
    "db": "orchestration.cli.db:db",
    "demo": "orchestration.cli.demo:demo",
    "docs": "orchestration.cli.tools:docs",
    "lineage": "orchestration.cli.lineage:lineage",
    "env": "orchestration.cli.tools:env",
    "portfolio": "orchestration.cli.portfolio:portfolio",
    "quality": "orchestration.cli.quality:quality",
    "report": "orchestration.cli.report:report",
    "restore": "orchestration.cli.archive:restore",
    "signals": "orchestration.cli.signals:signals",
    "sim": "simulator.cli:sim",
    "ui": "orchestration.cli.tools:ui",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ZmartBot symbol platform: KuCoin futures -> PostgreSQL -> dbt -> ten-symbol portfolio.

    With ZMART_DATABASE_URL unset, the platform runs its own PostgreSQL cluster under .zmart/.
    """
