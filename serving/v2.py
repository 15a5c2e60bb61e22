"""Open Inference Protocol (KServe V2) over REST, including Triton's binary tensor extension.

So that clients written for NVIDIA Triton or KServe (e.g. `tritonclient.http`) work unchanged.
The tensors themselves (decoding inputs, encoding outputs) are serving.tensors'. The infer route
has a fast-path handler like /v1/predict (serving.fastpath).

Binary extension: the JSON header is the first `Inference-Header-Content-Length` bytes of the
body; outputs are binary when asked for per output (`parameters.binary_data`) or for all
(`parameters.binary_data_output`), and the response then carries its own
`Inference-Header-Content-Length`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Response

from pipeport.contract import RawInputError, columns_to_feeds
from pipeport.serving import tensors
from pipeport.serving.errors import ApiError, decode_json, reject_unknown_keys, require_object
from pipeport.serving.fastpath import Answer, fast_routes
from pipeport.serving.payloads import JSON, HeaderLookup, media_type
from pipeport.serving.predlog import Record
from pipeport.serving.state import ServingState, current_state
from pipeport.serving.views import json_response, view

if TYPE_CHECKING:
    from flask import Flask

HEADER_LENGTH = "Inference-Header-Content-Length"
OCTET_STREAM = "application/octet-stream"
MODELS = "/v2/models/"


def documents(state: ServingState) -> dict[str, bytes]:
    from pipeport import __version__

    schema = state.model.schema
    return {
        "v2_server": _dumps(
            {"name": "pipeport", "version": __version__, "extensions": ["binary_tensor_data"]}
        ),
        "v2_model": _dumps(
            {
                "name": schema.name,
                "versions": [schema.version],
                "platform": "onnxruntime_onnx",
                "inputs": [
                    {"name": name, "datatype": dt, "shape": [-1, 1]}
                    for name, dt in input_types(state).items()
                ],
                "outputs": [
                    {"name": name, "datatype": dt, "shape": shape}
                    for name, (dt, shape) in output_types(state).items()
                ],
            }
        ),
        "v2_model_ready": _dumps({"name": schema.name, "ready": True}),
    }


def register(app: Flask) -> None:
    """Add the /v2 routes to `app`, and the infer route's fast handler."""

    def document(name: str) -> Callable[..., Response]:
        def answer(**url: str) -> Response:
            state = current_state()
            if "name" in url:
                check_model(state, url["name"], url.get("version"))
            return json_response(state.documents[name])

        return answer

    def live() -> Response:
        return json_response('{"live":true}')

    def ready() -> Response:
        return json_response('{"ready":true}')

    infer = view(infer_answer)
    model, model_ready = document("v2_model"), document("v2_model_ready")
    routes: list[tuple[str, str, Callable[..., Response], str]] = [
        ("/v2", "v2_server", document("v2_server"), "GET"),
        ("/v2/health/live", "v2_live", live, "GET"),
        ("/v2/health/ready", "v2_ready", ready, "GET"),
        ("/v2/models/<name>", "v2_model", model, "GET"),
        ("/v2/models/<name>/versions/<version>", "v2_model", model, "GET"),
        ("/v2/models/<name>/ready", "v2_model_ready", model_ready, "GET"),
        ("/v2/models/<name>/versions/<version>/ready", "v2_model_ready", model_ready, "GET"),
        ("/v2/models/<name>/infer", "v2_infer", infer, "POST"),
        ("/v2/models/<name>/versions/<version>/infer", "v2_infer", infer, "POST"),
    ]
    for rule, endpoint, function, method in routes:
        app.add_url_rule(rule, endpoint, function, methods=[method])
    fast_routes(app).add_pattern("POST", MODELS, "/infer", "v2_infer", infer_answer)


def check_model(state: ServingState, name: str, version: str | None) -> None:
    schema = state.model.schema
    if name != schema.name:
        raise ApiError(
            404, "model_not_found", f"unknown model {name!r}; this server serves {schema.name!r}"
        )
    if version is not None and version != schema.version:
        raise ApiError(
            404,
            "model_version_not_found",
            f"model {name!r} has no version {version!r}; it serves version {schema.version!r}",
        )


def _model_in_path(path: str) -> tuple[str, str | None]:
    """`/v2/models/<name>[/versions/<v>]/infer` → (name, version)."""
    parts = path[len(MODELS) : -len("/infer")].split("/")
    if len(parts) == 1:
        return parts[0], None
    if len(parts) == 3 and parts[1] == "versions":
        return parts[0], parts[2]
    raise ApiError(404, "not_found", f"no such route: POST {path} (see /openapi.json)")


def infer_answer(
    state: ServingState, path: str, header: HeaderLookup, read_body: Callable[[], bytes]
) -> Answer:
    """POST /v2/models/<name>[/versions/<v>]/infer."""
    name, version = _model_in_path(path)
    check_model(state, name, version)
    body, binary = _split_body(header, read_body)
    reject_unknown_keys(body, ("id", "parameters", "inputs", "outputs"), "inference request")
    columns, n = tensors.read_inputs(
        body.get("inputs"), binary, input_types(state), state.settings.max_rows
    )
    try:
        feeds = columns_to_feeds(columns, state.model.schema)
    except RawInputError as exc:
        raise ApiError.from_row_errors(exc) from None
    types = output_types(state)
    wanted = tensors.requested_outputs(body, types)
    model_outputs = state.predict(feeds)
    record = Record("v2_infer", columns, feeds, model_outputs)
    results = dict(zip(state.formatter.output_keys, model_outputs, strict=True))
    schema = state.model.schema
    response: dict[str, Any] = {"model_name": schema.name, "model_version": schema.version}
    if "id" in body:
        response["id"] = body["id"]
    outputs, blobs = [], []
    for out_name, as_binary in wanted:
        datatype, _shape = types[out_name]
        tensor, blob = tensors.encode_output(out_name, datatype, results[out_name], as_binary)
        outputs.append(tensor)
        if blob is not None:
            blobs.append(blob)
    response["outputs"] = outputs
    head = _dumps(response)
    if not blobs:
        return Answer(JSON, head, n, (), record)
    payload = b"".join([head, *blobs])
    return Answer(OCTET_STREAM, payload, n, ((HEADER_LENGTH, str(len(head))),), record)


def input_types(state: ServingState) -> dict[str, str]:
    return {
        spec.name: "FP64" if spec.kind == "numeric" else "BYTES"
        for spec in state.model.schema.inputs
    }


def output_types(state: ServingState) -> dict[str, tuple[str, list[int]]]:
    schema = state.model.schema
    types = {
        "label": ("INT64" if schema.label_is_int else "BYTES", [-1]),
        "probabilities": ("FP64", [-1, len(schema.classes)]),
        "prediction": ("FP64", [-1, 1]),
        "score": ("FP64", [-1, 1]),
    }
    return {key: types[key] for key in schema.output_keys()}


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def _split_body(
    header: HeaderLookup, read_body: Callable[[], bytes]
) -> tuple[dict[str, Any], bytes]:
    """The JSON header (as a dict) and the binary tail of the request body."""
    encoding = (header("content-encoding") or "identity").lower()
    if encoding != "identity":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Encoding {encoding!r} is not supported; send it uncompressed",
        )
    content_type = header("content-type")
    if media_type(content_type) not in ("", JSON, OCTET_STREAM):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be {JSON} (or {OCTET_STREAM} "
            f"with {HEADER_LENGTH}), got {content_type}",
        )
    data = read_body()
    raw_length = header(HEADER_LENGTH.lower())
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
