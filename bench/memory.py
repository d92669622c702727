"""Peak memory of a benchmark stage, sampled while it runs: this process, its child processes
(dbt, the simulator) and the PostgreSQL server.

A background thread samples every ``interval`` seconds and keeps the largest value of each:

- *process*: the resident set (RSS) of the benchmark's own Python process, which runs the
  ingestion, the GX checkpoints and the portfolio manager in process;
- *children*: the sum of the RSS of its descendant processes (a dbt invocation, the simulator);
- *server*: the sum of the proportional set size (PSS) of the postmaster and its backends. RSS
  would count the shared buffers once per backend that touched them; PSS charges each shared page
  to the processes mapping it in equal parts, so the sum counts it once. Where the server's
  processes cannot be read (another user without privileges), their RSS is summed instead and
  ``server_measure`` says so.

Sampling misses a peak shorter than the interval; the numbers are lower bounds of the true peaks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType

import psutil

MIB = 2**20


@dataclass(frozen=True)
class Peaks:
    process_mib: float
    children_mib: float
    server_mib: float
    server_measure: str  # "PSS" or "RSS"


class PeakSampler:
    """``with PeakSampler(server_pid) as sampler: ...``; then ``sampler.peaks()``."""

    def __init__(self, server_pid: int | None, interval: float = 0.25) -> None:
        self._own = psutil.Process()
        self._server = psutil.Process(server_pid) if server_pid is not None else None
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._process = self._children = self._server_peak = 0
        self._server_measure = "PSS"

    def __enter__(self) -> PeakSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def peaks(self) -> Peaks:
        return Peaks(self._process / MIB, self._children / MIB, self._server_peak / MIB, self._server_measure)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        server = self._server_tree()
        server_pids = {p.pid for p in server}
        self._process = max(self._process, _rss(self._own))
        children = [p for p in self._own.children(recursive=True) if p.pid not in server_pids]
        self._children = max(self._children, sum(_rss(p) for p in children))
        self._server_peak = max(self._server_peak, sum(self._server_bytes(p) for p in server))

    def _server_tree(self) -> list[psutil.Process]:
        if self._server is None:
            return []
        try:
            return [self._server, *self._server.children(recursive=True)]
        except psutil.Error:
            return []

    def _server_bytes(self, process: psutil.Process) -> int:
        try:
            return int(process.memory_full_info().pss)
        except psutil.AccessDenied:
            self._server_measure = "RSS"
            return _rss(process)
        except psutil.Error:  # a backend that exited between listing and reading
            return 0


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0
