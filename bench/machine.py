"""The machine a benchmark ran on, read from /proc, for the record next to the numbers."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cores: int
    ram_gib: float
    postgres_version: str
    python_version: str

    def describe(self) -> str:
        return f"{self.cpu_model}, {self.cores} cores, {self.ram_gib:.1f} GiB RAM; {self.postgres_version}; Python {self.python_version}"


def this_machine(postgres_version: str) -> Machine:
    return Machine(_cpu_model(), os.cpu_count() or 0, _ram_gib(), postgres_version, platform.python_version())


def load_average() -> tuple[float, float, float]:
    """1, 5 and 15-minute load averages: how busy the machine was besides the benchmark."""
    return os.getloadavg()


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20  # kB
    return 0.0


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
