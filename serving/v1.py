"""pipeport's own API: `POST /v1/predict` and the server's documents, probes and metrics.

`register(app)` adds the routes (and the prediction's fast handler); `documents(state)` gives
the pre-serialised documents this module serves, built once per model by serving.app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Response

from pipeport.serving import openapi
from pipeport.serving.errors import decode_json, reject_unknown_keys, require_object
from pipeport.serving.fastpath import Answer, fast_routes
from pipeport.serving.payloads import JSON, HeaderLookup, require_json, rows_field, rows_to_feeds
from pipeport.serving.predlog import Record
from pipeport.serving.state import ServingState, current_state
from pipeport.serving.views import json_response, view

if TYPE_CHECKING:
    from flask import Flask


def predict_answer(
    state: ServingState, _path: str, header: HeaderLookup, read_body: Callable[[], bytes]
) -> Answer:
    """POST /v1/predict: `{"rows": [...]}` → model info and one prediction per row."""
    require_json(header("content-type"))
    body = require_object(decode_json(read_body()))
    if len(body) != 1 or "rows" not in body:
        reject_unknown_keys(body, ("rows",), "request body")
    rows = rows_field(body.get("rows"), state.settings.max_rows)
    feeds = rows_to_feeds(rows, state.model.schema)
    outputs = state.predict(feeds)
    predictions = state.formatter.predictions_json(outputs)
    text = f'{{"model":{state.model_json},"predictions":{predictions}}}'
    record = Record("predict", rows, feeds, outputs, predictions)
    return Answer(JSON, text.encode(), len(rows), (), record)


def documents(state: ServingState) -> dict[str, bytes]:
    from pipeport.serving.outputs import to_json

    return {
        "metadata": to_json(metadata_document(state)).encode(),
        "openapi": to_json(openapi.build_openapi(state.model.schema, state.settings)).encode(),
        "readyz": f'{{"status":"ready","model":{state.model_json}}}'.encode(),
    }


def register(app: Flask) -> None:
    app.add_url_rule("/v1/predict", "predict", view(predict_answer), methods=["POST"])
    fast_routes(app).add("POST", "/v1/predict", "predict", predict_answer)

    @app.get("/metadata", endpoint="metadata")
    def metadata() -> Response:
        return json_response(current_state().documents["metadata"])

    @app.get("/openapi.json", endpoint="openapi")
    def openapi_document() -> Response:
        return json_response(current_state().documents["openapi"])

    @app.get("/healthz", endpoint="healthz")
    def healthz() -> Response:
        return json_response(b'{"status":"ok"}')

    @app.get("/readyz", endpoint="readyz")
    def readyz() -> Response:
        # The model is loaded before the app exists, so an answering app is a ready one.
        return json_response(current_state().documents["readyz"])

    @app.get("/metrics", endpoint="metrics")
    def metrics() -> Response:
        state = current_state()
        schema = state.model.schema
        labels = {
            "name": schema.name,
            "version": schema.version,
            "sha256": state.model.sha256,
            "task": schema.task,
        }
        return Response(
            state.metrics.render(labels),
            mimetype="text/plain",
            content_type="text/plain; version=0.0.4",
        )


def metadata_document(state: ServingState) -> dict[str, Any]:
    import numpy
    import onnxruntime

    from pipeport import __version__

    model = state.model
    meta = model.schema.metadata
    document = {
        "model": {
            "name": model.schema.name,
            "version": model.schema.version,
            "sha256": model.sha256,
            "file": model.path.name,
            "size_bytes": model.size_bytes,
        },
        "task": model.schema.task,
        "inputs": meta.get("inputs"),
        "outputs": meta.get("outputs"),
        "classes": meta.get("classes"),
        "estimator": meta.get("estimator"),
        "training": meta.get("training"),
        "packages": meta.get("packages"),
        "parity": meta.get("parity"),
        "format_version": meta.get("format_version"),
        "serving": {
            "pipeport": __version__,
            "onnxruntime": onnxruntime.__version__,
            "numpy": numpy.__version__,
        },
    }
    if model.schema.task == "anomaly":  # decision_function = score - offset
        document["offset"] = model.schema.offset
    return document
