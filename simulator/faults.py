"""Fault profiles: the ways the simulated exchange misbehaves when a test asks it to.

A profile is written as comma-separated ``name=value`` pairs, e.g.
``ohlc_inverted=0.002,crash_after_klines=40`` (the ``--faults`` option and ``ZMART_SIM_FAULTS``).

Victims are picked with counter-based draws keyed by the seed: a record fault picks its records
by their identity (symbol and minute, trade id, settlement time, ...), so the same profile and
seed corrupt the same records on every request, as a real bad record stays bad; a transport
fault picks requests by their arrival number, so the n-th request of a run meets the same fate
in every run. Transport faults apply to KuCoin paths only (never ``/_sim/*``); a 429 burst or a
5xx is decided before the rate limiter and spends no weight, while a slow, truncated or malformed
answer is a served request and does.

| fault | value | effect |
|---|---|---|
| `crash_after_klines` | whole number >= 0 | the process dies (connections reset, no response) on the kline request after this many were answered |
| `ohlc_inverted` | share 0-1 | that share of 1-minute candles has high and low swapped (high < low), also inside aggregated candles |
| `burst_429` | share 0-1 | that share of requests starts a run of `burst_429_length` requests answered HTTP 429 `{"code":"429000"}` with the gw-ratelimit headers (remaining 0) |
| `burst_429_length` | whole number 1-1000 (default 5) | length of each 429 run |
| `http_5xx` | share 0-1 | that share of requests fails: 500 with KuCoin's `{"code":"500000"}` body, or 502/503 with a gateway HTML page (status drawn per request) |
| `slow` | share 0-1 | that share of requests is answered only after `slow_ms` (a client with a shorter timeout sees a timeout) |
| `slow_ms` | whole number 1-600000 (default 10000) | the delay of a slow response, ms |
| `truncated` | share 0-1 | that share of responses is cut in the middle of the JSON body (HTTP 200, consistent Content-Length) |
| `malformed` | share 0-1 | that share of responses is HTTP 200 with a body that is not JSON |
| `kline_gap` | share 0-1 | that share of served kline rows is missing (the minute or bucket is absent) |
| `kline_duplicate` | share 0-1 | that share of kline rows is served twice in a row |
| `kline_out_of_order` | share 0-1 | that share of kline rows swaps place with the row after it |
| `kline_nan` | share 0-1 | in that share of kline rows one number (drawn) is JSON null or the string "NaN" |
| `kline_negative` | share 0-1 | in that share of kline rows one value (a price or the volume, drawn) is negated |
| `trade_gap` | share 0-1 | that share of trades is missing from trade/history (the minute no longer sums to its candle) |
| `trade_duplicate` | share 0-1 | that share of trades appears twice (same tradeId) |
| `trade_out_of_order` | share 0-1 | that share of trades swaps place with its neighbour |
| `trade_nan` | share 0-1 | that share of trades has price "NaN" or null, or size null (drawn) |
| `trade_negative` | share 0-1 | that share of trades has a negative size or price (drawn) |
| `ticker_nan` | share 0-1 | tickers whose last trade is among that share show price "NaN" or null, or a null best-bid size |
| `ticker_negative` | share 0-1 | tickers whose last trade is among that share show a negative last size or price |
| `book_nan` | share 0-1 | that share of book levels has a null or "NaN" price |
| `book_negative` | share 0-1 | that share of book levels has a negative size |
| `book_crossed` | share 0-1 | that share of book snapshots (per 100 ms of exchange time) is crossed: best bid >= best ask |
| `funding_gap` | share 0-1 | that share of settlements is missing from the funding history |
| `funding_duplicate` | share 0-1 | that share of funding-history entries appears twice |
| `funding_out_of_order` | share 0-1 | that share of funding-history entries swaps place with the next |
| `funding_nan` | share 0-1 | the rate of that share of settlements is null or "NaN" (history and funding-rate/current alike) |
| `oi_gap` | share 0-1 | that share of open-interest history points is missing |
| `oi_duplicate` | share 0-1 | that share of open-interest points appears twice |
| `oi_out_of_order` | share 0-1 | that share of open-interest points swaps place with the next |
| `oi_nan` | share 0-1 | that share of open-interest points has openInterest null or "NaN" |
| `oi_negative` | share 0-1 | that share of open-interest points has a negative openInterest |
| `hostile_symbols` | whole number 0-12 | contracts/active (and contracts/{symbol}) also list that many contracts with hostile ids (SQL, quotes, path traversal, whitespace, unicode, control characters, 300 characters); every other endpoint answers them with 400100 |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from simulator.hostile import HOSTILE_SYMBOLS


class FaultSpecError(ValueError):
    """A fault profile text names an unknown fault or gives it a value outside its rule."""


@dataclass(frozen=True)
class FaultProfile:
    # The server process dies (no response, connections reset) on the kline request after
    # this many have been answered: an exchange outage in the middle of a load.
    crash_after_klines: int | None = None
    # Share of served candles whose high and low are swapped (high < low): a corrupt record
    # that passes the loader's structural checks and must be stopped by the quality gate.
    ohlc_inverted: float = 0.0
    # transport
    burst_429: float = 0.0
    burst_429_length: int = 5
    http_5xx: float = 0.0
    slow: float = 0.0
    slow_ms: int = 10_000
    truncated: float = 0.0
    malformed: float = 0.0
    # records
    kline_gap: float = 0.0
    kline_duplicate: float = 0.0
    kline_out_of_order: float = 0.0
    kline_nan: float = 0.0
    kline_negative: float = 0.0
    trade_gap: float = 0.0
    trade_duplicate: float = 0.0
    trade_out_of_order: float = 0.0
    trade_nan: float = 0.0
    trade_negative: float = 0.0
    ticker_nan: float = 0.0
    ticker_negative: float = 0.0
    book_nan: float = 0.0
    book_negative: float = 0.0
    book_crossed: float = 0.0
    funding_gap: float = 0.0
    funding_duplicate: float = 0.0
    funding_out_of_order: float = 0.0
    funding_nan: float = 0.0
    oi_gap: float = 0.0
    oi_duplicate: float = 0.0
    oi_out_of_order: float = 0.0
    oi_nan: float = 0.0
    oi_negative: float = 0.0
    # symbols
    hostile_symbols: int = 0

    @property
    def active(self) -> bool:
        return self != FaultProfile()

    def share(self, record: str, kind: str) -> float:
        """The share of ``record`` rows (kline, trade, ...) hit by ``kind`` (gap, nan, ...)."""
        return float(getattr(self, f"{record}_{kind}", 0.0))

    def describe(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)}" for f in fields(self) if getattr(self, f.name) != f.default]
        return ",".join(parts) or "none"


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def convert(text: str) -> int:
        if not text.isdigit() or int(text) < minimum or (maximum is not None and int(text) > maximum):
            raise ValueError(text)
        return int(text)

    return convert


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise ValueError(text)
    return value


_WHOLE_RULES: dict[str, tuple[str, Callable[[str], int]]] = {
    "crash_after_klines": ("a whole number >= 0", _whole(0)),
    "burst_429_length": ("a whole number between 1 and 1000", _whole(1, 1000)),
    "slow_ms": ("a whole number of ms between 1 and 600000", _whole(1, 600_000)),
    "hostile_symbols": (f"a whole number between 0 and {len(HOSTILE_SYMBOLS)}", _whole(0, len(HOSTILE_SYMBOLS))),
}
# Declaration order: the two original faults lead the list that errors print.
_RULES: dict[str, tuple[str, Callable[[str], object]]] = {
    f.name: _WHOLE_RULES.get(f.name, ("a share between 0 and 1", _share)) for f in fields(FaultProfile)
}


def parse_faults(text: str) -> FaultProfile:
    """The profile described by ``text`` (empty: no faults)."""
    values: dict[str, object] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, raw = item.partition("=")
        name = name.strip()
        if name not in _RULES:
            raise FaultSpecError(f"fault {name!r} in {text!r} is unknown; known faults: {', '.join(_RULES)}")
        if not sep:
            raise FaultSpecError(f"fault {name!r} in {text!r} needs a value: {name}=<{_RULES[name][0]}>")
        if name in values:
            raise FaultSpecError(f"fault {name!r} is given twice in {text!r}")
        rule, convert = _RULES[name]
        try:
            values[name] = convert(raw.strip())
        except ValueError:
            raise FaultSpecError(f"fault {name}={raw.strip()!r} in {text!r}: the value must be {rule}") from None
    return FaultProfile(**values)  # type: ignore[arg-type]
