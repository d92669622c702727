"""Fixtures for the dbt project tests.

A full `dbt build` of the synthetic data takes minutes (parsing alone 15-30 s a call: a change of
--vars or of the database makes dbt parse the whole project again), so the modules that start
from the same data share one build per session instead of building it each:

* `synthetic_built`: synthetic.populate, then `dbt build` of the whole project;
* `portfolio_built`: synthetic.populate plus synthetic_portfolio.populate (the rotation/steady
  portfolio history), then `dbt build` of the whole project; its data is a `Portfolio`.

Each is a database built once and then only cloned (`create database ... template`, a file copy):
a module calls `.clone()` in its module fixture and gets a database of its own, already built,
that it may change freely, and its own copy of what populate returned (the independent reference
the module computes its expectations from). A new module whose data is one of these should use
it instead of populating and building again:

    @pytest.fixture(scope="module")
    def built(synthetic_built: BuiltDatabase[synthetic.Synthetic], dbt_work_dir: Path) -> Built:
        url, data = synthetic_built.clone()
        return Built(url, Dbt(url, dbt_work_dir), data)

The build uses the project's default vars; a module that needs others rebuilds its own models
(with --full-refresh where the vars change their content). A module whose data differs, or whose
property needs unbuilt models (windows built from nothing against a full refresh), keeps its own
populate + build on `database_url`. Under pytest-xdist the modules using one of these run on the
same worker (tests/conftest.py: SHARED_BUILDS), so a new shared build is added there too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pandas as pd
import pytest

from orchestration.embedded_postgres import EmbeddedPostgres
from tests.conftest import create_database
from tests.integration.dbt import synthetic, synthetic_portfolio
from tests.integration.dbt.dbt_cli import Dbt

T = TypeVar("T")


@dataclass(frozen=True)
class BuiltDatabase(Generic[T]):
    """A populated, fully built database that is only ever cloned, and what populate returned."""

    cluster: EmbeddedPostgres
    name: str
    data: T

    def clone(self) -> tuple[str, T]:
        """A new database with the built one's content (URL) and a deep copy of the data."""
        return create_database(self.cluster, template=self.name), copy.deepcopy(self.data)


def build_once(cluster: EmbeddedPostgres, work_dir: Path, populate: Callable[[str], Any]) -> BuiltDatabase[Any]:
    url = create_database(cluster, prefix="zmart_built")
    data = populate(url)
    Dbt(url, work_dir).run("build")
    return BuiltDatabase(cluster, url.rsplit("/", 1)[-1], data)


@dataclass(frozen=True)
class Portfolio:
    data: synthetic.Synthetic  # what synthetic.populate wrote
    closes: dict[str, pd.Series]  # synthetic_portfolio.reference_closes(data)


def populate_portfolio(url: str) -> Portfolio:
    """synthetic.populate, then synthetic_portfolio's history; keeps what synthetic.populate returned and the reference closes."""
    data = synthetic.populate(url)
    synthetic_portfolio.populate(url)
    return Portfolio(data, synthetic_portfolio.reference_closes(data))


@pytest.fixture(scope="module")
def dbt_work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt")


@pytest.fixture(scope="session")
def synthetic_built(pg_cluster: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> BuiltDatabase[synthetic.Synthetic]:
    return build_once(pg_cluster, tmp_path_factory.mktemp("synthetic_built"), synthetic.populate)


@pytest.fixture(scope="session")
def portfolio_built(pg_cluster: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> BuiltDatabase[Portfolio]:
    return build_once(pg_cluster, tmp_path_factory.mktemp("portfolio_built"), populate_portfolio)
