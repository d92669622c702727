"""``zmart sim``: run the KuCoin-futures simulator (also ``python -m simulator``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from simulator.config import (
    DEFAULT_CONTRACTS,
    DEFAULT_PUBLIC_POOL,
    DEFAULT_SEED,
    DEFAULT_UNIFIED_POOL,
    MAX_CONTRACTS,
    ConfigError,
    SimulatorConfig,
)
from simulator.faults import FaultSpecError, parse_faults
from simulator.replay import ReplayError
from simulator.server import serve_forever
from simulator.signals import write_signal_files


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def sim() -> None:
    """The simulated KuCoin-futures exchange (public market-data REST API on loopback)."""


@sim.command()
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=click.IntRange(0, 2**63 - 1), help="Everything served follows from it.")
@click.option("--contracts", default=DEFAULT_CONTRACTS, show_default=True, type=click.IntRange(10, MAX_CONTRACTS), help="Universe size (listed and not yet / no longer listed).")
@click.option("--host", default="127.0.0.1", show_default=True, help="A loopback address.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--faults", default="", help="Fault profile, e.g. 'ohlc_inverted=0.001,crash_after_klines=50' (catalogue: simulator/faults.py).")
@click.option("--now", "now_iso", default=None, help="Freeze the exchange clock at this UTC time (ISO-8601, e.g. 2026-11-01T12:00:00Z).")
@click.option("--now-ms", type=click.IntRange(0), default=None, hidden=True)
@click.option("--rate-limit-public", default=DEFAULT_PUBLIC_POOL[0], show_default=True, type=int, help="Weight of the PUBLIC pool per window.")
@click.option("--rate-limit-public-window-ms", default=DEFAULT_PUBLIC_POOL[1], show_default=True, type=int, help="Length of the PUBLIC pool's window.")
@click.option("--rate-limit-unified", default=DEFAULT_UNIFIED_POOL[0], show_default=True, type=int, help="Weight of the Unified pool (open interest) per window.")
@click.option("--rate-limit-unified-window-ms", default=DEFAULT_UNIFIED_POOL[1], show_default=True, type=int, help="Length of the Unified pool's window.")
@click.option("--replay", type=click.Path(path_type=Path), default=None, help="Serve recorded 1-minute candles: a CSV/Parquet file or a directory of them.")
def serve(
    seed: int, contracts: int, host: str, port: int, faults: str, now_iso: str | None, now_ms: int | None,
    rate_limit_public: int, rate_limit_public_window_ms: int, rate_limit_unified: int, rate_limit_unified_window_ms: int,
    replay: Path | None,
) -> None:
    """Serve the public endpoints ccxt's kucoinfutures calls until interrupted."""
    try:
        config = SimulatorConfig(
            seed=seed, n_contracts=contracts, host=host, port=port, faults=parse_faults(faults),
            now_ms=now_ms if now_ms is not None else _parse_now(now_iso),
            rate_limit_public=rate_limit_public, rate_limit_public_window_ms=rate_limit_public_window_ms,
            rate_limit_unified=rate_limit_unified, rate_limit_unified_window_ms=rate_limit_unified_window_ms,
            replay=replay,
        )
    except (ConfigError, FaultSpecError) as error:
        raise click.BadParameter(str(error)) from error
    try:
        serve_forever(config, lambda line: click.echo(line, nl=True) or _flush())
    except ReplayError as error:
        raise click.ClickException(f"replay: {error}") from error


@sim.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory to write the files into.")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=click.IntRange(0, 2**63 - 1), help="The market's seed (prices) and the signals'.")
@click.option("--symbols", default="XBTUSDTM,ETHUSDTM,SOLUSDTM,XRPUSDTM,DOGEUSDTM", show_default=True, help="Comma-separated contracts.")
@click.option("--start", "start_iso", default="2026-11-01T00:00:00Z", show_default=True, help="First hour (UTC ISO-8601).")
@click.option("--hours", default=72, show_default=True, type=click.IntRange(1, 24 * 366), help="Hours of signals from --start.")
@click.option("--contracts", default=DEFAULT_CONTRACTS, show_default=True, type=click.IntRange(10, MAX_CONTRACTS), help="Universe size the symbols come from.")
def signals(out_dir: Path, seed: int, symbols: str, start_iso: str, hours: int, contracts: int) -> None:
    """Write signal files (JSONL and CSV, one per source) and ground_truth.json: informative and noise
    sources judged against the simulator's own future returns, cross-source duplicates, malformed rows."""
    start_ms = _parse_now(start_iso)
    assert start_ms is not None
    start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
    try:
        truth = write_signal_files(out_dir, seed, [s.strip() for s in symbols.split(",") if s.strip()], start, start + timedelta(hours=hours), contracts)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error
    for source in truth.sources:
        accuracy = "echo" if source.nominal_accuracy is None else f"accuracy {source.nominal_accuracy:.2f}"
        click.echo(f"{out_dir / source.file}: {source.signals} signals ({accuracy})")
    click.echo(f"{out_dir / 'ground_truth.json'}: {len(truth.duplicates)} duplicates, {len(truth.malformed)} malformed rows")


def _flush() -> None:
    click.get_text_stream("stdout").flush()


def _parse_now(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"--now {text!r}: expected an ISO-8601 time such as 2026-11-01T12:00:00Z") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"--now {text!r}: give the UTC offset (Z or +00:00)")
    return int(moment.astimezone(UTC).timestamp() * 1000)
