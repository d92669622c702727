"""The ``zmart`` command line: database, simulator, demo, Dagster UI and dbt docs."""

from __future__ import annotations

import click

from orchestration.cli.db import db
from orchestration.cli.demo import demo
from orchestration.cli.tools import docs, env, ui
from simulator.cli import sim


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ZmartBot symbol platform: KuCoin futures -> PostgreSQL -> dbt -> ten-symbol portfolio.

    With ZMART_DATABASE_URL unset, the platform runs its own PostgreSQL cluster under .zmart/.
    """


main.add_command(db)
main.add_command(sim)
main.add_command(demo)
main.add_command(ui)
main.add_command(docs)
main.add_command(env)
