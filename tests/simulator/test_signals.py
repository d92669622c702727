"""The simulator's signal files: deterministic, with the truth they claim, and its CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from simulator.signals import SOURCES, write_signal_files

START = datetime(2026, 11, 1, tzinfo=UTC)


def test_the_same_seed_writes_the_same_bytes_and_another_seed_others(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_signal_files(tmp_path / name, seed, ["XBTUSDTM", "ETHUSDTM"], START, START + timedelta(hours=12))
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted([*(s.file_name for s in SOURCES), "ground_truth.json"])
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert (tmp_path / "a" / "newswire.jsonl").read_bytes() != (tmp_path / "c" / "newswire.jsonl").read_bytes()


def test_the_truth_describes_the_files(tmp_path: Path) -> None:
    truth = write_signal_files(tmp_path, 5, ["XBTUSDTM", "SOLUSDTM"], START, START + timedelta(hours=24))
    stored = json.loads((tmp_path / "ground_truth.json").read_text())
    assert stored["horizon_hours"] == truth.horizon_hours == 4
    for source in truth.sources:
        lines = (tmp_path / source.file).read_text().splitlines()
        header = 1 if source.file.endswith(".csv") else 0
        bad = [m for m in truth.malformed if m.file == source.file]
        assert len(lines) == header + source.signals + len(bad) and len(bad) == 6
        assert source.hits <= source.resolved <= source.signals
    originals = {json.loads(line)["external_id"]: json.loads(line) for line in (tmp_path / "newswire.jsonl").read_text().splitlines() if line.startswith('{"source": "newswire", "external_id": "newswire-')}
    reposts = {json.loads(line)["external_id"]: json.loads(line) for line in (tmp_path / "repost_hub.jsonl").read_text().splitlines() if '"repost_hub-' in line and "-bad-" not in line}
    for repost, original in truth.duplicates:
        assert reposts[repost]["text"] == f"RT @newswire: {originals[original]['text']}"
        assert reposts[repost]["direction"] == originals[original]["direction"] and reposts[repost]["published_at"] > originals[original]["published_at"]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--symbols", "XBTUSDTM", "--hours", "2"], 0, "ground_truth.json"),
    (["--symbols", "NOPEUSDTM"], 2, "not in the simulator's universe"),
    (["--start", "2026-11-01T00:30:00Z"], 2, "expected whole UTC hours"),
])
def test_the_cli_writes_the_files_or_names_the_bad_option(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "simulator", "signals", "--out", str(tmp_path), *args], capture_output=True, text=True, check=False)
    assert result.returncode == code and message in result.stdout + result.stderr
