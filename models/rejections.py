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
    return json.dumps(_jsonable(value), sort_keys=True)


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
