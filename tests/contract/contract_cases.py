"""The hand-written contract fixture (tests/fixtures/contract_cases.json), loaded for both the
Python and the JavaScript side of the contract."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "contract_cases.json"


def load() -> dict[str, Any]:
    return dict(json.loads(FIXTURE.read_text(encoding="utf-8")))


def cases() -> list[dict[str, Any]]:
    return list(load()["cases"])


def same_values(expected: list[Any], actual: list[Any]) -> bool:
    """Elementwise equality, "NaN" in the fixture meaning NaN; strings compared as strings."""
    if len(expected) != len(actual):
        return False
    for e, a in zip(expected, actual, strict=True):
        if e == "NaN":  # JSON has no NaN: the JS side reports it as "NaN" too
            if not (a == "NaN" or (isinstance(a, float) and math.isnan(a))):
                return False
        elif isinstance(e, str):
            if a != e:
                return False
        elif isinstance(a, str) or float(a) != float(e):
            return False
    return True
