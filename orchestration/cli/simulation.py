"""Run the KuCoin-futures simulator beside a command when the platform is in ``sim`` mode."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from orchestration.resources.exchange import LIVE_FUTURES_URL
from orchestration.settings import Settings
from simulator.config import SimulatorConfig
from simulator.faults import parse_faults
from simulator.server import SimulatorServer


@contextmanager
def simulator_for(settings: Settings, port: int = 0) -> Iterator[str]:
    """Yield the exchange base URL: a simulator started here (``sim``), or KuCoin itself (``live``)."""
    if settings.exchange == "live":
        yield LIVE_FUTURES_URL
        return
    config = SimulatorConfig(
        seed=int(os.environ.get("ZMART_SIM_SEED", "42")),
        n_contracts=int(os.environ.get("ZMART_SIM_CONTRACTS", "560")),
        port=port,
        faults=parse_faults(os.environ.get("ZMART_SIM_FAULTS", "")),
    )
    with SimulatorServer(config) as server:
        yield server.url
