"""Platform settings, read from the environment (``ZMART_*``) with validated defaults.

Secrets (database passwords) only ever come from the environment or from the embedded
cluster's own 0600 password file; nothing secret lives in the repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from simulator.config import DEFAULT_CONTRACTS, DEFAULT_SEED, MAX_CONTRACTS
from simulator.faults import FaultProfile, FaultSpecError, parse_faults

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

EXCHANGE_MODES = ("sim", "live")
# KuCoin's public pool: 2000 request weight per 30 s per IP, at every VIP level.
KUCOIN_PUBLIC_WEIGHT_BUDGET = 2000


class SettingsError(ValueError):
    """An environment variable holds a value the platform cannot use."""


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    database_url: str | None
    dagster_database_url: str | None
    pg_port: int
    exchange: str
    sim_url: str | None  # a running simulator to use; None: the platform starts its own
    sim_seed: int
    sim_contracts: int
    sim_faults: FaultProfile
    weight_budget: int  # request weight per 30 s: the client's pace and, in sim mode, the simulator's pool
    exchange_timeout_ms: int  # per request; a slower answer is a RequestTimeout, retried
    signals_dir: Path  # the drop folder the signals sensor watches
    archive_dir: Path  # the cold tier: Parquet files and manifests of archived partitions
    partitions_ahead_days: int  # partitions exist this many days past now before data arrives
    hot_days: int  # a partition ending within this many days of now is hot (btree), older ones warm (BRIN)
    retention_days: int  # the maintenance job archives partitions ending this many days ago; 0: never

    @property
    def dagster_home(self) -> Path:
        return self.state_dir / "dagster"

    @property
    def embedded_postgres_dir(self) -> Path:
        return self.state_dir / "postgres"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    state_dir = Path(env.get("ZMART_HOME") or PROJECT_ROOT / ".zmart").expanduser().resolve()
    exchange = env.get("ZMART_EXCHANGE", "sim").strip().lower()
    if exchange not in EXCHANGE_MODES:
        raise SettingsError(f"ZMART_EXCHANGE={exchange!r}: must be one of {', '.join(EXCHANGE_MODES)}")
    hot_days = _integer(env, "ZMART_HOT_DAYS", 7, 1, 3650)
    return Settings(
        state_dir=state_dir,
        database_url=_postgres_url(env, "ZMART_DATABASE_URL"),
        dagster_database_url=_postgres_url(env, "ZMART_DAGSTER_DATABASE_URL"),
        pg_port=_port(env, "ZMART_PG_PORT", 54329),
        exchange=exchange,
        sim_url=_loopback_http_url(env, "ZMART_SIM_URL"),
        sim_seed=_integer(env, "ZMART_SIM_SEED", DEFAULT_SEED, 0, 2**63 - 1),
        sim_contracts=_integer(env, "ZMART_SIM_CONTRACTS", DEFAULT_CONTRACTS, 10, MAX_CONTRACTS),
        sim_faults=_faults(env, "ZMART_SIM_FAULTS"),
        weight_budget=_integer(env, "ZMART_EXCHANGE_WEIGHT_BUDGET", KUCOIN_PUBLIC_WEIGHT_BUDGET, 1, 10_000_000),
        exchange_timeout_ms=_integer(env, "ZMART_EXCHANGE_TIMEOUT_MS", 10_000, 100, 600_000),
        signals_dir=Path(env.get("ZMART_SIGNALS_DIR") or state_dir / "signals" / "inbox").expanduser().resolve(),
        archive_dir=Path(env.get("ZMART_ARCHIVE_DIR") or state_dir / "archive").expanduser().resolve(),
        partitions_ahead_days=_integer(env, "ZMART_PARTITIONS_AHEAD_DAYS", 3, 1, 366),
        hot_days=hot_days,
        retention_days=_retention_days(env, "ZMART_RETENTION_DAYS", hot_days),
    )


def _postgres_url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path.strip("/"):
        raise SettingsError(
            f"{name}: expected postgresql://user:password@host:port/database, got scheme "
            f"{parts.scheme!r}, host {parts.hostname!r}, database {parts.path.strip('/')!r}"
        )
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1024 <= int(raw) <= 65535:
        raise SettingsError(f"{name}={raw!r}: must be a port number between 1024 and 65535")
    return int(raw)


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name}={raw!r}: must be a whole number between {low} and {high}")
    return int(raw)


def _retention_days(env: Mapping[str, str], name: str, hot_days: int) -> int:
    days = _integer(env, name, 365, 0, 36500)
    if 0 < days <= hot_days:
        raise SettingsError(f"{name}={days}: must be 0 (never archive) or more than ZMART_HOT_DAYS={hot_days}")
    return days


def _faults(env: Mapping[str, str], name: str) -> FaultProfile:
    try:
        return parse_faults(env.get(name, ""))
    except FaultSpecError as error:
        raise SettingsError(f"{name}: {error}") from None


def _loopback_http_url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SettingsError(f"{name}={value!r}: the simulator must be an http:// URL on a loopback address")
    return value.rstrip("/")
