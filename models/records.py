"""Validating exchange objects field by field: a pydantic model per payload, a Rejection per refusal.

Shared by every object-shaped payload (contracts, tickers, trades, funding rates, open interest):
the first field error names the rule (``<field>:<pydantic error type>``, e.g.
``price:finite_number`` or ``size:greater_than``), a key seen twice in one response is
``duplicate_key``, and a model's own cross-field check can add a rule of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, Field, ValidationError

from models.rejections import Rejection

M = TypeVar("M", bound=BaseModel)

# Contract ids are short upper-case alphanumerics (XBTUSDTM, 1000BONKUSDTM, XBTMZ26). Anything
# else is refused before it reaches a table, a URL or a log line.
SYMBOL_PATTERN = r"^[A-Z0-9]{2,40}$"
Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN)]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Finite = Annotated[float, AfterValidator(_finite)]
PositiveFinite = Annotated[Finite, Field(gt=0)]
NonNegativeFinite = Annotated[Finite, Field(ge=0)]


def rule_of(error: ValidationError) -> tuple[str, str]:
    """(rule, detail) of the first error: the field path and pydantic's error type."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "object"
    kind = "finite_number" if first["type"] == "value_error" and "finite" in first["msg"] else first["type"]
    return f"{field}:{kind}", f"{field}: {first['msg']} (input {first.get('input')!r:.60})"


def validate_records(
    model: type[M],
    records: Iterable[Any],
    *,
    key: Callable[[M], Hashable],
    symbol: Callable[[Any], str | None],
    key_time: Callable[[M], datetime | None] = lambda _: None,
    check: Callable[[M], tuple[str, str] | None] = lambda _: None,
) -> tuple[list[M], list[Rejection]]:
    """Parse each record into ``model``; refuse invalid ones, those ``check`` flags, and repeated keys.

    ``symbol`` reads the symbol from the raw record (for the quarantine row, even when the
    record is invalid); ``check`` returns (rule, detail) for a record valid field by field but
    wrong as a whole (a crossed book, a time outside the requested window).
    """
    accepted: list[M] = []
    rejections: list[Rejection] = []
    seen: set[Hashable] = set()
    for record in records:
        hint = symbol(record)
        try:
            parsed = model.model_validate(record)
        except ValidationError as error:
            rule, detail = rule_of(error)
            rejections.append(Rejection(rule, detail, record, str(hint)[:80] if hint is not None else None))
            continue
        problem = check(parsed)
        if problem is not None:
            rejections.append(Rejection(problem[0], problem[1], record, hint, key_time(parsed)))
            continue
        record_key = key(parsed)
        if record_key in seen:
            rejections.append(Rejection("duplicate_key", f"{record_key} appears twice in one response", record, hint, key_time(parsed)))
            continue
        seen.add(record_key)
        accepted.append(parsed)
    return accepted, rejections


def from_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def from_ns(ns: int) -> datetime:
    """Nanoseconds since the epoch, to the microsecond (PostgreSQL's precision)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def symbol_field(name: str = "symbol") -> Callable[[Any], str | None]:
    """Reads ``name`` from a record that may not even be a mapping."""
    return lambda record: record.get(name) if isinstance(record, dict) else None
