"""Fault profiles: the ways the simulated exchange misbehaves when a test asks it to.

A profile is written as comma-separated ``name=value`` pairs, e.g.
``ohlc_inverted=0.002,crash_after_klines=40`` (the ``--faults`` option and ``ZMART_SIM_FAULTS``).
Record-level faults pick their victims with counter-based draws, so the same profile and seed
corrupt the same candles on every request, as a real bad record would stay bad.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


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

    @property
    def active(self) -> bool:
        return self != FaultProfile()

    def describe(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)}" for f in fields(self) if getattr(self, f.name) != f.default]
        return ",".join(parts) or "none"


_RULES = {
    "crash_after_klines": ("a whole number >= 0", lambda text: _whole(text, minimum=0)),
    "ohlc_inverted": ("a share between 0 and 1", lambda text: _share(text)),
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
            raise FaultSpecError(f"fault {name!r} in {text!r} is unknown; known faults: {', '.join(sorted(_RULES))}")
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


def _whole(text: str, minimum: int) -> int:
    if not text.isdigit() or int(text) < minimum:
        raise ValueError(text)
    return int(text)


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(text)
    return value
