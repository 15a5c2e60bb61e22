"""Open Inference Protocol tensors: request inputs → columns, outputs → JSON or binary tensors.

Pure functions (no Flask), used by serving.v2. Each input tensor is one raw column, named as the
raw column, shape `[N, 1]` (or `[N]`): FP64 for numeric columns, BYTES for categorical ones. A
tensor cannot hold null, so in FP64 NaN means missing and in BYTES the empty string does. Over
JSON, where NaN is not a number, an FP64 element may also be `null`, the string "NaN" or the bare
token NaN (all missing); a BYTES element may be `null` (missing). Infinity, however it is spelt
(the bare token, the string, or a literal that overflows float64 such as 1e999), is passed on as
±inf, so that the raw-row contract (pipeport.contract.columns_to_feeds) rejects it by one rule:
422 `invalid_rows`, as it does an infinite value in a binary tensor.

Binary extension: inputs with `parameters.binary_data_size` take their bytes, in order, from the
part of the body after the JSON header. FP64 is raw little-endian; each BYTES element is a 4-byte
little-endian length then its bytes.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from pipeport.contract import NonFiniteToken, RowError, json_type
from pipeport.serving.errors import ApiError
from pipeport.serving.payloads import check_batch_size

_NAN = float("nan")
_LE_U32 = struct.Struct("<I")
#: How JSON can spell a non-finite FP64 element, and what it means.
_NON_FINITE = {"NaN": _NAN, "Infinity": float("inf"), "-Infinity": float("-inf")}


def read_inputs(
    inputs: Any, binary: bytes, datatypes: dict[str, str], max_rows: int
) -> tuple[dict[str, Any], int]:
    """Input tensors → {raw column: values in ONNX encoding}; every problem is collected."""
    if not isinstance(inputs, list) or not inputs:
        raise ApiError(
            400,
            "invalid_body",
            '"inputs" must be a non-empty array of tensors',
            [RowError(None, "inputs", "expected a non-empty array")],
        )
    errors: list[RowError] = []
    columns: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    offset = 0
    for tensor in inputs:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            errors.append(RowError(None, None, "each input must be an object with a name"))
            continue
        name = tensor["name"]
        expected = datatypes.get(name)
        if expected is None:
            errors.append(
                RowError(
                    None, name, "unknown input; expected one of: " + ", ".join(map(repr, datatypes))
                )
            )
            continue
        if name in columns:
            errors.append(RowError(None, name, "input given twice"))
            continue
        if tensor.get("datatype") != expected:
            errors.append(
                RowError(None, name, f"datatype must be {expected}, got {tensor.get('datatype')!r}")
            )
            continue
        n = _rows_from_shape(tensor.get("shape"))
        if n is None:
            errors.append(
                RowError(None, name, f"shape must be [N, 1] or [N], got {tensor.get('shape')!r}")
            )
            continue
        check_batch_size(n, max_rows)
        sizes[name] = n
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                errors.append(RowError(None, name, "binary_data_size does not fit the body"))
                continue
            chunk = binary[offset : offset + size]
            offset += size
            values = _decode_binary(name, expected, chunk, n, errors)
        elif "data" in tensor:
            values = _decode_json_data(name, expected, tensor["data"], n, errors)
        else:
            errors.append(RowError(None, name, "tensor has neither data nor binary_data_size"))
            continue
        if values is not None:
            columns[name] = values
    if offset != len(binary) and not errors:
        errors.append(
            RowError(
                None,
                None,
                f"{len(binary) - offset} bytes of binary data are not claimed by any input",
            )
        )
    if len(set(sizes.values())) > 1:
        errors.append(
            RowError(
                None,
                None,
                "inputs have different numbers of rows: "
                + ", ".join(f"{k!r}: {v}" for k, v in sizes.items()),
            )
        )
    for name in datatypes:
        if name not in sizes and not any(e.field == name for e in errors):
            errors.append(RowError(None, name, "missing input (every raw column is required)"))
    if errors:
        raise ApiError(
            400,
            "invalid_tensors",
            f"{len(errors)} problem(s) in the input tensors; see details",
            errors,
        )
    return columns, next(iter(sizes.values()))


def _rows_from_shape(shape: Any) -> int | None:
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        return None
    if len(shape) == 2 and shape[1] == 1 or len(shape) == 1:
        return shape[0]
    return None


def _decode_binary(name: str, datatype: str, chunk: bytes, n: int, errors: list[RowError]) -> Any:
    if datatype == "FP64":
        if len(chunk) != 8 * n:
            errors.append(
                RowError(
                    None, name, f"FP64 data for {n} rows must be {8 * n} bytes, got {len(chunk)}"
                )
            )
            return None
        return np.frombuffer(chunk, dtype="<f8").astype(np.float64)
    values: list[str] = []
    pos = 0
    while pos < len(chunk):
        if pos + 4 > len(chunk):
            break
        (length,) = _LE_U32.unpack_from(chunk, pos)
        pos += 4
        if pos + length > len(chunk):
            pos = len(chunk) + 1
            break
        raw = chunk[pos : pos + length]
        pos += length
        try:
            values.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            errors.append(RowError(len(values), name, "BYTES element is not valid UTF-8"))
            values.append("")
    if pos != len(chunk) or len(values) != n:
        errors.append(RowError(None, name, f"BYTES data is not {n} length-prefixed elements"))
        return None
    return values


def _decode_json_data(
    name: str, datatype: str, data: Any, n: int, errors: list[RowError]
) -> list[Any] | None:
    if not isinstance(data, list):
        errors.append(RowError(None, name, f"data must be an array, got {json_type(data)}"))
        return None
    # Row-major nested form [[v], [v], …] is allowed as well as the flat one.
    flat = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in data]
    if len(flat) != n:
        errors.append(
            RowError(None, name, f"shape says {n} rows but data has {len(flat)} elements")
        )
        return None
    before = len(errors)
    values: list[Any] = [None] * n
    for i, value in enumerate(flat):
        if datatype == "FP64":
            kind = type(value)
            if kind is float:
                values[i] = value  # 1e999 parses as inf: the contract rejects it below
            elif kind is int:
                try:
                    values[i] = float(value)
                except OverflowError:  # an integer literal too large for float64
                    values[i] = float("inf") if value > 0 else float("-inf")
            elif value is None:
                values[i] = _NAN
            elif isinstance(value, NonFiniteToken) and value.token in _NON_FINITE:
                values[i] = _NON_FINITE[value.token]
            elif isinstance(value, str) and value in _NON_FINITE:
                values[i] = _NON_FINITE[value]
            else:
                shown = value.token if isinstance(value, NonFiniteToken) else json_type(value)
                errors.append(
                    RowError(i, name, f'expected a number, null or "NaN" (missing), got {shown}')
                )
        elif type(value) is str or value is None:
            values[i] = value
        else:
            errors.append(
                RowError(i, name, f'expected a string ("" for missing), got {json_type(value)}')
            )
    return values if len(errors) == before else None


def requested_outputs(body: dict[str, Any], output_types: dict[str, Any]) -> list[tuple[str, bool]]:
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise ApiError(400, "invalid_body", '"parameters" must be an object')
    binary_all = params.get("binary_data_output") is True
    requested = body.get("outputs")
    if requested is None:
        return [(name, binary_all) for name in output_types]
    if not isinstance(requested, list):
        raise ApiError(400, "invalid_body", '"outputs" must be an array')
    wanted, errors = [], []
    for item in requested:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in output_types:
            errors.append(
                RowError(
                    None,
                    str(name),
                    "unknown output; available: " + ", ".join(map(repr, output_types)),
                )
            )
            continue
        item_params = item.get("parameters") or {}
        as_binary = item_params.get("binary_data", binary_all) is True
        wanted.append((name, as_binary))
    if errors:
        raise ApiError(400, "invalid_body", "unknown requested output(s)", errors)
    return wanted


def encode_output(
    name: str, datatype: str, array: np.ndarray, as_binary: bool
) -> tuple[dict[str, Any], bytes | None]:
    shape = list(array.shape)
    tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
    if as_binary:
        if datatype == "BYTES":
            encoded = [str(v).encode() for v in array.reshape(-1).tolist()]
            blob = b"".join(_LE_U32.pack(len(e)) + e for e in encoded)
        elif datatype == "INT64":
            blob = array.astype("<i8").tobytes()
        else:
            blob = array.astype("<f8").tobytes()
        tensor["parameters"] = {"binary_data_size": len(blob)}
        return tensor, blob
    flat = array.reshape(-1)
    if datatype == "FP64" and not np.isfinite(flat).all():
        tensor["data"] = [v if np.isfinite(v) else None for v in flat.tolist()]
    else:
        tensor["data"] = flat.tolist()
    return tensor, None
