"""A record the platform refused, with the rule it broke: the unit of quarantine."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Rejection:
    rule: str
    detail: str
    record: Any
    symbol: str | None = None
    key_time: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def record_json(self) -> str:
        """The record as received, as JSON."""
        return to_json(self.record)


def to_json(value: Any) -> str:
    """JSON text PostgreSQL's jsonb accepts: values JSON cannot hold (NaN, inf, objects) become
    strings, and NUL characters (which no PostgreSQL text can hold) become the text \\u0000."""
    fast = _plain_json(value)
    return fast if fast is not None else json.dumps(_jsonable(value), sort_keys=True)


def _plain_json(value: Any) -> str | None:
    """The same text as the general path when the value needs none of its conversions, made by
    the C encoder in one pass (a candle page is 1,200 numbers: the per-value walk cost more than
    the load). None when it might need one: the encoder refused a value (NaN, inf, an object),
    or the text holds an object (``{``: keys the general path would turn into text before
    sorting) or an escaped NUL (``\\u0000``, which the general path writes differently)."""
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return None if "{" in text or "\\u0000" in text else text


def storable(text: str | None) -> str | None:
    """Text for a PostgreSQL text column: a NUL character, refused by PostgreSQL, shown as \\u0000."""
    return None if text is None else text.replace("\x00", "\\u0000")


def _jsonable(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {storable(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
