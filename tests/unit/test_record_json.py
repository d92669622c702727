"""models.rejections.to_json: its one-pass encoding is the general path's text, exactly, for every
kind of value the general path converts (a rejected record reads the same whichever path encoded it)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from models.rejections import _jsonable, to_json


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


VALUES: list[Any] = [
    [[1761955200000, 100.5, 101.0, 99.25, 100.0, 7.0], [1761955260000, 0.1 + 0.2, 1e308, 5e-324, -0.0, 3]],
    [("XBTUSDTM", [[1, 2.5]]), ("ETHUSDTM", [])],
    ["a", None, True, False, 0, -1, 2**70, 1.5],
    [float("nan"), 1.0],
    [math.inf, -math.inf],
    ["nul \x00 inside"],
    ["a literal \\u0000 text"],
    {"b": 1, "a": [1, 2]},
    {1: "int key", 10: "sorted as text", 9: "nine"},
    {True: "bool key", None: "none key"},
    [{"nested": {"deep": "x\x00"}}],
    [Opaque(), 1],
    "plain text",
    "{ braces in text }",
    12.0,
    [],
    {},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_to_json_is_the_general_paths_text(value: Any) -> None:
    assert to_json(value) == json.dumps(_jsonable(value), sort_keys=True)
