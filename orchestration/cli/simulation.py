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
    config = SimulatorConfig(seed=settings.sim_seed, n_contracts=settings.sim_contracts, port=port, faults=settings.sim_faults)
    with SimulatorProcess(config) as simulator:
        yield simulator.url
