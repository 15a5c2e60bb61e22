"""Open Inference Protocol (KServe V2) over REST, including Triton's binary tensor extension.

So that clients written for NVIDIA Triton or KServe (e.g. `tritonclient.http`) work unchanged.
Each input tensor is one raw column, named as the raw column, shape `[N, 1]` (or `[N]`): FP64 for
numeric columns, BYTES for categorical ones. A tensor cannot hold null, so in FP64 NaN means
missing (±Infinity is an error) and in BYTES the empty string does. Over JSON, where NaN is not a
number, an FP64 element may also be `null`, the string "NaN" or the bare token NaN (all missing);
a BYTES element may be `null` (missing).

Binary extension: the JSON header is the first `Inference-Header-Content-Length` bytes of the
body; inputs with `parameters.binary_data_size` take their bytes, in order, from the rest. FP64
is raw little-endian; each BYTES element is a 4-byte little-endian length then its bytes.
Outputs are binary when asked for per output (`parameters.binary_data`) or for all
(`parameters.binary_data_output`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from flask import Flask, Response, request

from pipeport.contract import NonFiniteToken, RawInputError, RowError, columns_to_feeds, json_type
from pipeport.serving.errors import ApiError, decode_json, reject_unknown_keys, require_object

if TYPE_CHECKING:
    from pipeport.serving.app import ServingState

HEADER_LENGTH = "Inference-Header-Content-Length"
_NAN = float("nan")
_LE_U32 = struct.Struct("<I")


def register(app: Flask, state: ServingState) -> None:
    """Add the /v2 routes to `app`; documents are built here, once."""
    from pipeport import __version__

    schema = state.model.schema
    model_name, model_version = schema.name, schema.version
    datatypes = {spec.name: "FP64" if spec.kind == "numeric" else "BYTES" for spec in schema.inputs}
    output_types = _output_types(state)
    server_doc = _dumps(
        {"name": "pipeport", "version": __version__, "extensions": ["binary_tensor_data"]}
    )
    model_doc = _dumps(
        {
            "name": model_name,
            "versions": [model_version],
            "platform": "onnxruntime_onnx",
            "inputs": [
                {"name": name, "datatype": dt, "shape": [-1, 1]} for name, dt in datatypes.items()
            ],
            "outputs": [
                {"name": name, "datatype": dt, "shape": shape}
                for name, (dt, shape) in output_types.items()
            ],
        }
    )
    ready_doc = _dumps({"name": model_name, "ready": True})

    def check_model(name: str, version: str | None) -> None:
        if name != model_name:
            raise ApiError(
                404, "model_not_found", f"unknown model {name!r}; this server serves {model_name!r}"
            )
        if version is not None and version != model_version:
            raise ApiError(
                404,
                "model_version_not_found",
                f"model {name!r} has no version {version!r}; it serves version {model_version!r}",
            )

    def json_response(body: str | bytes) -> Response:
        return Response(body, mimetype="application/json")

    def server() -> Response:
        return json_response(server_doc)

    def live() -> Response:
        return json_response('{"live":true}')

    def ready() -> Response:
        return json_response('{"ready":true}')

    def model(name: str, version: str | None = None) -> Response:
        check_model(name, version)
        return json_response(model_doc)

    def model_ready(name: str, version: str | None = None) -> Response:
        check_model(name, version)
        return json_response(ready_doc)

    def infer(name: str, version: str | None = None) -> Response:
        check_model(name, version)
        body, binary = _split_body()
        reject_unknown_keys(body, ("id", "parameters", "inputs", "outputs"), "inference request")
        columns, n = _read_inputs(body.get("inputs"), binary, datatypes, state.settings.max_rows)
        try:
            feeds = columns_to_feeds(columns, schema)
        except RawInputError as exc:
            raise ApiError.from_row_errors(exc) from None
        wanted = _requested_outputs(body, output_types)
        results = dict(zip(state.formatter.output_keys, state.predict(feeds), strict=True))
        request.environ["pipeport.rows"] = n
        response: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
        if "id" in body:
            response["id"] = body["id"]
        tensors, blobs = [], []
        for out_name, as_binary in wanted:
            datatype, _shape = output_types[out_name]
            tensor, blob = _encode_output(out_name, datatype, results[out_name], as_binary)
            tensors.append(tensor)
            if blob is not None:
                blobs.append(blob)
        response["outputs"] = tensors
        header = _dumps(response).encode()
        if not blobs:
            return json_response(header)
        out = Response(b"".join([header, *blobs]), mimetype="application/octet-stream")
        out.headers[HEADER_LENGTH] = str(len(header))
        return out

    routes: list[tuple[str, str, Callable[..., Response], str]] = [
        ("/v2", "v2_server", server, "GET"),
        ("/v2/health/live", "v2_live", live, "GET"),
        ("/v2/health/ready", "v2_ready", ready, "GET"),
        ("/v2/models/<name>", "v2_model", model, "GET"),
        ("/v2/models/<name>/versions/<version>", "v2_model", model, "GET"),
        ("/v2/models/<name>/ready", "v2_model_ready", model_ready, "GET"),
        ("/v2/models/<name>/versions/<version>/ready", "v2_model_ready", model_ready, "GET"),
        ("/v2/models/<name>/infer", "v2_infer", infer, "POST"),
        ("/v2/models/<name>/versions/<version>/infer", "v2_infer", infer, "POST"),
    ]
    for rule, endpoint, view, method in routes:
        app.add_url_rule(rule, endpoint, view, methods=[method])


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _output_types(state: ServingState) -> dict[str, tuple[str, list[int]]]:
    schema = state.model.schema
    if schema.task == "classification":
        return {
            "label": ("INT64" if schema.label_is_int else "BYTES", [-1]),
            "probabilities": ("FP64", [-1, len(schema.classes)]),
        }
    return {"prediction": ("FP64", [-1, 1])}


def _split_body() -> tuple[dict[str, Any], bytes]:
    """The JSON header (as a dict) and the binary tail of the request body."""
    encoding = request.headers.get("Content-Encoding", "identity").lower()
    if encoding != "identity":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Encoding {encoding!r} is not supported; send it uncompressed",
        )
    if request.mimetype not in ("", "application/json", "application/octet-stream"):
        raise ApiError(
            415,
            "unsupported_media_type",
            "Content-Type must be application/json (or application/octet-stream "
            f"with {HEADER_LENGTH}), got {request.content_type}",
        )
    data = request.get_data(cache=False)
    raw_length = request.headers.get(HEADER_LENGTH)
    if raw_length is None:
        return require_object(decode_json(data), "inference request"), b""
    try:
        length = int(raw_length)
    except ValueError:
        length = -1
    if not 0 < length <= len(data):
        raise ApiError(
            400,
            "invalid_body",
            f"{HEADER_LENGTH} must be an integer between 1 and the body size "
            f"({len(data)}), got {raw_length!r}",
        )
    return require_object(decode_json(data[:length]), "inference request"), data[length:]


def _read_inputs(
    inputs: Any, binary: bytes, datatypes: dict[str, str], max_rows: int
) -> tuple[dict[str, Any], int]:
    """Input tensors → {raw column: values in ONNX encoding}; every problem is collected."""
    from pipeport.serving.app import check_batch_size

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
            if kind is float or kind is int:
                try:
                    values[i] = float(value)
                except OverflowError:
                    errors.append(RowError(i, name, "number is out of range for FP64"))
            elif (
                value is None
                or value == "NaN"
                or (isinstance(value, NonFiniteToken) and value.token == "NaN")
            ):
                values[i] = _NAN
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


def _requested_outputs(
    body: dict[str, Any], output_types: dict[str, Any]
) -> list[tuple[str, bool]]:
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


def _encode_output(
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
