"""The exchange a command talks to: KuCoin itself (live), a running simulator, or one started here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from orchestration.resources.exchange import LIVE_FUTURES_URL
from orchestration.settings import Settings
from simulator.config import SimulatorConfig
from simulator.server import SimulatorProcess


@contextmanager
def exchange_url(settings: Settings, port: int = 0) -> Iterator[str]:
    """Yield the exchange base URL for the duration of a command.

    ``live``: KuCoin. ``sim`` with ZMART_SIM_URL set: that simulator. Otherwise a simulator is
    started as a child process (its own core; stopped on exit) on ``port`` (0: any free port).
    """
    if settings.exchange == "live":
        yield LIVE_FUTURES_URL
        return
    if settings.sim_url is not None:
        yield settings.sim_url
        return
    config = simulator_config(settings, port)
    with SimulatorProcess(config) as simulator:
        yield simulator.url


def simulator_config(settings: Settings, port: int = 0) -> SimulatorConfig:
    """The simulator the settings describe. Its public pool is the client's weight budget, and its
    unified pool (KuCoin: 200 weight per 3 s against 2000 per 30 s) scales with it."""
    return SimulatorConfig(
        seed=settings.sim_seed,
        n_contracts=settings.sim_contracts,
        port=port,
        faults=settings.sim_faults,
        rate_limit_public=settings.weight_budget,
        rate_limit_unified=max(200, settings.weight_budget // 10),
    )
