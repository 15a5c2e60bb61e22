"""A small reader of Universal Binary JSON, the format of XGBoost's `save_raw("ubj")`.

Why not the JSON form: XGBoost stores split conditions and leaf values as float32, and its JSON
writes them as short decimal strings; read into Python floats (float64) and rounded back to
float32, a value could in principle land one float32 step away. UBJSON holds them as the float32
bits XGBoost predicts with: typed arrays of `d` (float32) come back as numpy float32 arrays, exact.

Covers what XGBoost writes: objects and arrays (with or without `$` type and `#` count), strings,
integers, float32/float64, booleans and null.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

_SCALARS = {
    "i": (">b", 1),
    "U": (">B", 1),
    "I": (">h", 2),
    "l": (">i", 4),
    "L": (">q", 8),
    "d": (">f", 4),
    "D": (">d", 8),
}
_ARRAYS = {"i": ">i1", "U": ">u1", "I": ">i2", "l": ">i4", "L": ">i8", "d": ">f4", "D": ">f8"}


def loads(data: bytes) -> Any:
    value, end = _value(memoryview(data), 0, None)
    if end != len(data):
        raise ValueError(f"UBJSON: {len(data) - end} bytes left after the document")
    return value


def _value(b: memoryview, p: int, kind: str | None) -> tuple[Any, int]:
    if kind is None:
        kind, p = chr(b[p]), p + 1
        while kind == "N":  # no-op padding
            kind, p = chr(b[p]), p + 1
    if kind in _SCALARS:
        fmt, size = _SCALARS[kind]
        (number,) = struct.unpack_from(fmt, b, p)
        return (np.float32(number) if kind == "d" else number), p + size
    if kind in "SH":
        length, p = _value(b, p, None)
        return bytes(b[p : p + length]).decode("utf-8"), p + length
    if kind == "C":
        return chr(b[p]), p + 1
    if kind in "TFZ":
        return {"T": True, "F": False, "Z": None}[kind], p
    if kind == "[":
        return _array(b, p)
    if kind == "{":
        return _object(b, p)
    raise ValueError(f"UBJSON: unknown type marker {kind!r} at byte {p - 1}")


def _container(b: memoryview, p: int) -> tuple[str | None, int | None, int]:
    """The optional `$` type and `#` count after a container's opening marker."""
    kind: str | None = None
    count: int | None = None
    if chr(b[p]) == "$":
        kind, p = chr(b[p + 1]), p + 2
    if chr(b[p]) == "#":
        count, p = _value(b, p + 1, None)
    return kind, count, p


def _array(b: memoryview, p: int) -> tuple[Any, int]:
    kind, count, p = _container(b, p)
    if kind in _ARRAYS and count is not None:
        dtype = np.dtype(_ARRAYS[kind])
        array = np.frombuffer(b, dtype, count, p).astype(dtype.newbyteorder("="))
        return array, p + count * dtype.itemsize
    items: list[Any] = []
    if count is not None:
        for _ in range(count):
            item, p = _value(b, p, kind)
            items.append(item)
        return items, p
    while chr(b[p]) != "]":
        item, p = _value(b, p, None)
        items.append(item)
    return items, p + 1


def _object(b: memoryview, p: int) -> tuple[dict[str, Any], int]:
    kind, count, p = _container(b, p)
    out: dict[str, Any] = {}

    def key(p: int) -> tuple[str, int]:
        length, p = _value(b, p, None)
        return bytes(b[p : p + length]).decode("utf-8"), p + length

    if count is not None:
        for _ in range(count):
            name, p = key(p)
            out[name], p = _value(b, p, kind)
        return out, p
    while chr(b[p]) != "}":
        name, p = key(p)
        out[name], p = _value(b, p, None)
    return out, p + 1
