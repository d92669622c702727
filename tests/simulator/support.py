"""What the simulator tests share: raw HTTP replies and a ccxt client pinned to one simulator."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ccxt.async_support as ccxt_async

NOW = int(datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp() * 1000)  # the exchange's frozen clock, on the hour
MINUTE = 60_000
HOUR = 3_600_000
DEAD = "http://127.0.0.1:9"  # nothing listens there: any host ccxt should not use fails fast


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def fetch(url: str, path: str, timeout: float = 30) -> Reply:
    """GET ``url + path``: status, headers (lower-case names) and body, errors included."""
    try:
        with urllib.request.urlopen(url + path, timeout=timeout) as response:
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode())
    except urllib.error.HTTPError as error:
        return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode())


def data(url: str, path: str) -> Any:
    reply = fetch(url, path)
    assert reply.status == 200, (path, reply.status, reply.text[:300])
    return reply.json()["data"]


@asynccontextmanager
async def kucoinfutures(url: str, **options: Any) -> AsyncIterator[ccxt_async.kucoinfutures]:
    """ccxt's kucoinfutures with the public, futuresPublic and uta hosts on the simulator, the rest dead."""
    exchange = ccxt_async.kucoinfutures({"rateLimit": 1, **options})
    for host in exchange.urls["api"]:
        exchange.urls["api"][host] = url if host in ("public", "futuresPublic", "uta") else DEAD
    try:
        yield exchange
    finally:
        await exchange.close()
