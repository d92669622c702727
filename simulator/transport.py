"""Transport faults: what happens to the n-th KuCoin request before the exchange sees it.

The fate of request n is drawn at counter n from streams keyed by the seed and the fault, so a
client that sends the same requests in the same order meets the same failures in every run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from simulator.faults import FaultProfile
from simulator.rng import stream_key, uniforms

GATEWAY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n"
    "<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}
MALFORMED_BODY = "<html><body>upstream returned an unexpected response</body></html>"


@dataclass(frozen=True)
class Fate:
    """``kind`` is one of none, burst_429, http_5xx, slow, truncated, malformed."""

    kind: str
    status: int = 200
    delay_ms: int = 0


_NONE = Fate("none")


class TransportFaults:
    def __init__(self, profile: FaultProfile, seed: int) -> None:
        self.profile = profile
        self.seed = seed

    def _draw(self, fault: str, counters: np.ndarray | int) -> np.ndarray:
        return uniforms(stream_key(self.seed, "transport", fault), counters)

    def fate(self, n: int) -> Fate:
        """The fate of the n-th KuCoin request (0-based)."""
        p = self.profile
        if p.burst_429 > 0:
            starts = np.arange(max(0, n - p.burst_429_length + 1), n + 1)
            if (self._draw("burst_429", starts) < p.burst_429).any():
                return Fate("burst_429", 429)
        if p.http_5xx > 0 and self._draw("http_5xx", n)[0] < p.http_5xx:
            return Fate("http_5xx", (500, 502, 503)[int(self._draw("http_5xx-status", n)[0] * 3)])
        if p.slow > 0 and self._draw("slow", n)[0] < p.slow:
            return Fate("slow", 200, p.slow_ms)
        if p.truncated > 0 and self._draw("truncated", n)[0] < p.truncated:
            return Fate("truncated")
        if p.malformed > 0 and self._draw("malformed", n)[0] < p.malformed:
            return Fate("malformed")
        return _NONE


def truncate(body: str) -> str:
    """A JSON text cut in its middle (never a complete document)."""
    return body[: max(1, len(body) // 2)]


def server_error_body() -> str:
    return json.dumps({"code": "500000", "msg": "Internal Server Error. Please try again later."}, separators=(",", ":"))


def gateway_page(status: int) -> str:
    return GATEWAY_PAGE.format(status=status, reason=_REASONS[status])
