"""How a simulator instance is set up: seed, universe size, address, clock and faults."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

from simulator.faults import FaultProfile

DEFAULT_SEED = 42
DEFAULT_CONTRACTS = 700  # about 530 of them are listed in late 2026; more list as the clock moves
MAX_CONTRACTS = 5_000


class ConfigError(ValueError):
    """A simulator setting breaks its rule."""


@dataclass(frozen=True)
class SimulatorConfig:
    seed: int = DEFAULT_SEED
    n_contracts: int = DEFAULT_CONTRACTS
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    faults: FaultProfile = field(default_factory=FaultProfile)
    # Frozen exchange clock in ms (what the exchange considers "now"); None follows the wall clock.
    now_ms: int | None = None
    kline_max_points: int = 200  # KuCoin's (and ccxt's) page size for /api/v1/kline/query

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed={self.seed}: must be a whole number between 0 and 2^63 - 1")
        if not 10 <= self.n_contracts <= MAX_CONTRACTS:
            raise ConfigError(f"contracts={self.n_contracts}: must be between 10 and {MAX_CONTRACTS}")
        try:
            loopback = ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigError(f"host={self.host!r}: the simulator only listens on a loopback address such as 127.0.0.1")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port={self.port}: must be between 0 (any free port) and 65535")
        if not 1 <= self.kline_max_points <= 1500:
            raise ConfigError(f"kline_max_points={self.kline_max_points}: must be between 1 and 1500")

    def now(self) -> int:
        """The exchange's current time in ms."""
        return self.now_ms if self.now_ms is not None else int(time.time() * 1000)
