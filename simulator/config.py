"""How a simulator instance is set up: seed, universe size, address, clock, faults, rate limits, replay."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from pathlib import Path

from simulator.faults import FaultProfile
from simulator.replay import SUFFIXES, replay_files

DEFAULT_SEED = 42
DEFAULT_CONTRACTS = 700  # about 530 of them are listed in late 2026; more list as the clock moves
MAX_CONTRACTS = 5_000
# KuCoin's PUBLIC pool (2000 weight per 30 s, every VIP level) and Unified pool (200 per 3 s at VIP0)
DEFAULT_PUBLIC_POOL = (2_000, 30_000)
DEFAULT_UNIFIED_POOL = (200, 3_000)
MAX_POOL_WEIGHT = 1_000_000_000
MAX_WINDOW_MS = 3_600_000


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
    # Rate-limit pools: weight per window and window length (benchmarks raise the weight).
    rate_limit_public: int = DEFAULT_PUBLIC_POOL[0]
    rate_limit_public_window_ms: int = DEFAULT_PUBLIC_POOL[1]
    rate_limit_unified: int = DEFAULT_UNIFIED_POOL[0]
    rate_limit_unified_window_ms: int = DEFAULT_UNIFIED_POOL[1]
    # Recorded 1-minute candles (a CSV/Parquet file or a directory of them) served instead of simulated ones.
    replay: Path | None = None

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
        for pool in ("public", "unified"):
            weight = getattr(self, f"rate_limit_{pool}")
            window = getattr(self, f"rate_limit_{pool}_window_ms")
            if not 10 <= weight <= MAX_POOL_WEIGHT:  # the heaviest endpoint weighs 10
                raise ConfigError(f"rate_limit_{pool}={weight}: must be a weight between 10 (one request of any endpoint) and {MAX_POOL_WEIGHT}")
            if not 100 <= window <= MAX_WINDOW_MS:
                raise ConfigError(f"rate_limit_{pool}_window_ms={window}: must be between 100 and {MAX_WINDOW_MS} ms")
        if self.replay is not None:
            self._check_replay(Path(self.replay))

    @staticmethod
    def _check_replay(path: Path) -> None:
        if not path.exists():
            raise ConfigError(f"replay={str(path)!r}: no such file or directory")
        if path.is_file() and path.suffix.lower() not in SUFFIXES:
            raise ConfigError(f"replay={str(path)!r}: must be a {', '.join(SUFFIXES)} file or a directory of them")
        if path.is_dir() and not replay_files(path):
            raise ConfigError(f"replay={str(path)!r}: the directory holds no {', '.join(SUFFIXES)} files")

    def now(self) -> int:
        """The exchange's current time in ms."""
        return self.now_ms if self.now_ms is not None else int(time.time() * 1000)
