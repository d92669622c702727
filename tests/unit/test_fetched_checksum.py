"""orchestration.ingestion.runner.checksum_of: one checksum per distinct fetched payload, whichever
encoder it takes (orjson for decoded JSON, to_json for what orjson refuses or writes as null)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from orchestration.ingestion.runner import checksum_of

PAGE = [[1761955200000, 100.5, 101.0, 99.25, 100.0, 7], [1761955260000, 0.1 + 0.2, 1e308, 5e-324, -0.0, 3]]

# pairs that must not share a checksum: each differs from its partner in one value, type or key
DIFFERENT: list[tuple[Any, Any]] = [
    (PAGE, [PAGE[0], [*PAGE[1][:5], 4]]),
    ([1], [1.0]),  # an integer and a float are different payloads
    (["1"], [1]),
    ([float("nan")], [None]),  # orjson writes both as null; to_json does not
    ([math.inf], [-math.inf]),
    ([2**70], [2**70 + 1]),  # beyond 64 bits: to_json
    ({"a": 1, "b": 2}, {"a": 2, "b": 1}),
    ([("XBTUSDTM", PAGE)], [("ETHUSDTM", PAGE)]),
    ([datetime(2026, 1, 1, tzinfo=UTC)], ["2026-01-01T00:00:00+00:00"]),
    ([True], [1]),
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT, ids=repr)
def test_different_payloads_have_different_checksums(a: Any, b: Any) -> None:
    assert checksum_of(a) != checksum_of(b)


@pytest.mark.parametrize("value", [PAGE, [2**70], [float("nan"), None], {"b": [1], "a": {"y": 1, "x": 2}}], ids=repr)
def test_a_payload_has_one_checksum(value: Any) -> None:
    # decoded afresh, a payload is a new object: the checksum is of the value, not the object
    again = json.loads(json.dumps(value)) if _json_round_trips(value) else value
    assert checksum_of(value) == checksum_of(again)


def test_key_order_does_not_matter() -> None:
    assert checksum_of({"b": 1, "a": [{"d": 1, "c": 2}]}) == checksum_of({"a": [{"c": 2, "d": 1}], "b": 1})


def _json_round_trips(value: Any) -> bool:
    try:
        return json.loads(json.dumps(value, allow_nan=False)) == value
    except (TypeError, ValueError):
        return False
