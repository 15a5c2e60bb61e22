"""The Flask application: `create_app(model_path, settings)`.

Everything that can be done once is done here, at load: the session, the schema, the compiled
validators, the output formatter, the metadata and OpenAPI documents (pre-serialised). A request
then does parse → validate → build feeds → one `session.run` → format, nothing more.
"""

from __future__ import annotations

import hmac
import io
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from pipeport.contract import RawInputError, RowError, raw_rows_to_feeds
from pipeport.serving.errors import ApiError, decode_json, reject_unknown_keys, require_object
from pipeport.serving.metrics import SharedMetrics
from pipeport.serving.model import LoadedModel, ModelSchema, load_model
from pipeport.serving.outputs import OutputFormatter, to_json

log = logging.getLogger("pipeport.serving")

JSON = "application/json"
# Routes that answer without a token: probes and scrapers rarely carry credentials.
PUBLIC_ENDPOINTS = frozenset({"healthz", "readyz", "metrics", "v2_live", "v2_ready"})


@dataclass(frozen=True)
class ServingSettings:
    """Limits and options of one server; passed in, never read from globals or the environment."""

    max_body_bytes: int = 16 * 1024 * 1024
    max_rows: int = 10_000
    auth_token: str | None = None
    max_error_details: int = 100
    # Answer well-formed prediction requests without Flask's request machinery (see _front_door).
    fast_path: bool = True


@dataclass
class ServingState:
    """What the views close over; also kept in `app.extensions["pipeport"]` for tests."""

    model: LoadedModel
    settings: ServingSettings
    formatter: OutputFormatter
    metrics: SharedMetrics
    model_json: str
    metadata_json: bytes
    openapi_json: bytes

    def predict(self, feeds: dict[str, Any]) -> list[Any]:
        """The single `session.run` of a request."""
        return self.model.run(self.formatter.onnx_names, feeds)


def create_app(model_path: str | Path, settings: ServingSettings | None = None) -> Flask:
    """Load the model and build the app. Raises `serving.model.ModelLoadError` on a bad file."""
    settings = settings or ServingSettings()
    model = load_model(model_path)
    return create_app_for_model(model, settings)


def create_app_for_model(model: LoadedModel, settings: ServingSettings) -> Flask:
    """Build the app around an already loaded model (lets a caller load once and fork)."""
    from pipeport.serving import openapi, v2

    schema = model.schema
    app = Flask("serving", static_folder=None)  # no static files: no /static/<path> route
    app.url_rule_class = _RuleWithoutBuilder
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    model_info = {"name": schema.name, "version": schema.version, "sha256": model.sha256}
    state = ServingState(
        model=model,
        settings=settings,
        formatter=OutputFormatter(schema),
        metrics=SharedMetrics(ENDPOINTS),
        model_json=to_json(model_info),
        metadata_json=to_json(_metadata_document(model)).encode(),
        openapi_json=to_json(openapi.build_openapi(schema, settings)).encode(),
    )
    app.extensions["pipeport"] = state
    model_labels = {**model_info, "task": schema.task}

    def json_response(body: bytes | str, status: int = 200) -> Response:
        return Response(body, status=status, mimetype=JSON)

    def predict_body(data: bytes) -> tuple[bytes, int]:
        """POST /v1/predict: request body → (response body, rows scored); raises ApiError."""
        body = require_object(decode_json(data))
        if len(body) != 1 or "rows" not in body:
            reject_unknown_keys(body, ("rows",), "request body")
        rows = _rows_field(body.get("rows"), settings.max_rows)
        feeds = _feeds(rows, schema)
        predictions = state.formatter.predictions_json(state.predict(feeds))
        text = f'{{"model":{state.model_json},"predictions":{predictions}}}'
        return text.encode(), len(rows)

    def invocations_body(data: bytes) -> tuple[bytes, int]:
        """POST /invocations (MLflow scoring-server bodies); raises ApiError."""
        body = require_object(decode_json(data))
        rows = _mlflow_rows(body, settings.max_rows)
        feeds = _feeds(rows, schema)
        values = state.formatter.simple(state.predict(feeds))
        return f'{{"predictions":{to_json(values)}}}'.encode(), len(rows)

    def view(handler: Callable[[bytes], tuple[bytes, int]]) -> Callable[[], Response]:
        def answer() -> Response:
            payload, rows = handler(_json_body())
            request.environ["pipeport.rows"] = rows
            return json_response(payload)

        return answer

    app.add_url_rule("/v1/predict", "predict", view(predict_body), methods=["POST"])
    app.add_url_rule("/invocations", "invocations", view(invocations_body), methods=["POST"])

    @app.get("/metadata", endpoint="metadata")
    def metadata() -> Response:
        return json_response(state.metadata_json)

    @app.get("/openapi.json", endpoint="openapi")
    def openapi_document() -> Response:
        return json_response(state.openapi_json)

    @app.get("/healthz", endpoint="healthz")
    def healthz() -> Response:
        return json_response(b'{"status":"ok"}')

    @app.get("/readyz", endpoint="readyz")
    def readyz() -> Response:
        # The model is loaded before the app exists, so an answering app is a ready one.
        return json_response(f'{{"status":"ready","model":{state.model_json}}}')

    @app.get("/metrics", endpoint="metrics")
    def metrics() -> Response:
        text = state.metrics.render(model_labels)
        return Response(text, mimetype="text/plain", content_type="text/plain; version=0.0.4")

    v2.register(app, state)

    if settings.auth_token is not None:
        app.before_request(_auth_check(settings.auth_token))

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        oip = request.path == "/v2" or request.path.startswith("/v2/")
        response = json_response(exc.body(settings.max_error_details, oip), exc.status)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return api_error(_from_http_exception(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        # Never a stack trace to the client; the log has it for the operator.
        log.exception("unexpected error on %s %s", request.method, request.path)
        return api_error(ApiError(500, "internal_error", "internal server error"))

    @app.teardown_request
    def remember_endpoint(_exc: BaseException | None) -> None:
        # For the metrics middleware, which runs outside the request context.
        request.environ["pipeport.endpoint"] = request.endpoint or "other"

    fast_routes: FastRoutes = {
        ("POST", "/v1/predict"): ("predict", predict_body),
        ("POST", "/invocations"): ("invocations", invocations_body),
    }
    app.wsgi_app = _front_door(  # type: ignore[method-assign]
        _timed(app.wsgi_app, state.metrics),
        fast_routes if settings.fast_path else {},
        settings,
        state.metrics,
    )
    return app


class _RuleWithoutBuilder(Rule):
    """A URL rule that cannot build URLs, and so costs nothing to add.

    werkzeug compiles two URL builders per rule, with `ast`, when the rule is added: about
    1.5 ms each, most of the app's creation time and so of the server's cold start. The server
    never builds a URL (no `url_for`, no redirects), so the builder is a function that refuses.
    """

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        def build(*_args: Any, **_kwargs: Any) -> tuple[str, str]:
            raise NotImplementedError("the pipeport server does not build URLs")

        return build


# Endpoint names (Flask endpoints) that metrics break requests down by.
ENDPOINTS = (
    "predict",
    "invocations",
    "metadata",
    "openapi",
    "healthz",
    "readyz",
    "metrics",
    "v2_server",
    "v2_live",
    "v2_ready",
    "v2_model",
    "v2_model_ready",
    "v2_infer",
)


def _json_body() -> bytes:
    """The raw body of a JSON request; 415 for any other content type, 413 past the limit."""
    if request.mimetype != JSON:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be {JSON}, got {request.content_type or 'none'}",
        )
    return request.get_data(cache=False)


def _rows_field(rows: Any, max_rows: int) -> list[Any]:
    if rows is None:
        raise ApiError(
            400,
            "invalid_body",
            'request body needs "rows": an array of row objects',
            [RowError(None, "rows", "missing field")],
        )
    if not isinstance(rows, list):
        raise ApiError(
            400,
            "invalid_body",
            '"rows" must be an array of row objects',
            [RowError(None, "rows", "expected an array")],
        )
    check_batch_size(len(rows), max_rows)
    return rows


def check_batch_size(n: int, max_rows: int) -> None:
    if n == 0:
        raise ApiError(400, "empty_batch", "the request holds no rows; send at least one")
    if n > max_rows:
        raise ApiError(
            413, "too_many_rows", f"the request holds {n} rows; the limit is {max_rows} per request"
        )


def _feeds(rows: list[Any], schema: ModelSchema) -> dict[str, Any]:
    try:
        return raw_rows_to_feeds(rows, schema)
    except RawInputError as exc:
        raise ApiError.from_row_errors(exc) from None


def _mlflow_rows(body: dict[str, Any], max_rows: int) -> list[Any]:
    """MLflow scoring-server bodies → raw rows (dataframe_records / dataframe_split)."""
    formats = [
        key
        for key in ("dataframe_records", "dataframe_split", "instances", "inputs")
        if key in body
    ]
    reject_unknown_keys(
        body,
        ("dataframe_records", "dataframe_split", "instances", "inputs", "params"),
        "request body",
    )
    if len(formats) != 1:
        raise ApiError(
            400, "invalid_body", "send exactly one of dataframe_records or dataframe_split"
        )
    kind = formats[0]
    if kind in ("instances", "inputs"):
        raise ApiError(
            400,
            "invalid_body",
            f"{kind!r} (tensor input) is not supported by this model; send "
            "dataframe_records or dataframe_split with the raw columns",
        )
    if kind == "dataframe_records":
        rows = body[kind]
        if not isinstance(rows, list):
            raise ApiError(400, "invalid_body", "dataframe_records must be an array of objects")
        check_batch_size(len(rows), max_rows)
        return rows
    split = require_object(body[kind], "dataframe_split")
    reject_unknown_keys(split, ("columns", "data", "index"), "dataframe_split")
    columns, data = split.get("columns"), split.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ApiError(400, "invalid_body", "dataframe_split.columns must be an array of strings")
    if not isinstance(data, list):
        raise ApiError(400, "invalid_body", "dataframe_split.data must be an array of arrays")
    check_batch_size(len(data), max_rows)
    errors, rows = [], []
    for i, values in enumerate(data):
        if not isinstance(values, list) or len(values) != len(columns):
            errors.append(
                RowError(i, None, f"expected an array of {len(columns)} values (one per column)")
            )
            continue
        rows.append(dict(zip(columns, values, strict=True)))
    if errors:
        raise ApiError.from_row_errors(RawInputError(errors))
    return rows


def _auth_check(token: str) -> Callable[[], None]:
    expected = f"Bearer {token}".encode()

    def check() -> None:
        if request.endpoint in PUBLIC_ENDPOINTS:
            return
        provided = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(provided, expected):
            raise ApiError(
                401,
                "unauthorized",
                "missing or wrong bearer token (send Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": 'Bearer realm="pipeport"'},
            )

    return check


def _from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    if status == 404:
        return ApiError(
            404, "not_found", f"no such route: {request.method} {request.path} (see /openapi.json)"
        )
    if status == 405:
        allowed = exc.valid_methods if hasattr(exc, "valid_methods") else None
        methods = ", ".join(allowed or ())
        return ApiError(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.path}; use {methods}",
            headers={"Allow": methods} if methods else None,
        )
    if status == 413:
        return ApiError(
            413,
            "body_too_large",
            f"request body exceeds the limit of {request.max_content_length} bytes",
        )
    return ApiError(status, exc.name.lower().replace(" ", "_"), exc.description or exc.name)


def _metadata_document(model: LoadedModel) -> dict[str, Any]:
    import numpy
    import onnxruntime

    from pipeport import __version__

    meta = model.schema.metadata
    return {
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


def _timed(
    wsgi_app: Callable[..., Iterable[bytes]], metrics: SharedMetrics
) -> Callable[..., Iterable[bytes]]:
    """Count and time every request (including 404s and errors) around the Flask app."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start = time.perf_counter()
        seen: list[str] = []

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            seen.append(status)
            return start_response(status, headers, exc_info)

        result = wsgi_app(environ, recording_start_response)
        endpoint = environ.get("pipeport.endpoint", "other")
        status = int(seen[-1][:3]) if seen else 500
        metrics.observe(
            endpoint,
            status,
            time.perf_counter() - start,
            environ.get("pipeport.rows", 0) if status == 200 else 0,
        )
        return result

    return app


FastRoutes = dict[tuple[str, str], tuple[str, Callable[[bytes], tuple[bytes, int]]]]
_JSON_HEADER = ("Content-Type", JSON)


def _front_door(
    flask_app: Callable[..., Iterable[bytes]],
    fast_routes: FastRoutes,
    settings: ServingSettings,
    metrics: SharedMetrics,
) -> Callable[..., Iterable[bytes]]:
    """The WSGI entry point: the prediction routes' common case first, Flask for the rest.

    A prediction request that is plainly well-formed at the HTTP level (POST to /v1/predict or
    /invocations, `Content-Type: application/json`, a `Content-Length` within the limit, the
    bearer token if one is set) is read and handed straight to the same body handler the Flask
    view calls. Flask's request context, URL matching, hooks and response object would cost
    more than the model itself on a single row. Anything else, and any request whose handler
    raises (every 4xx answer), goes through Flask with the body put back, so each error is
    produced by one piece of code only. tests/serving/test_serving_fast_path.py checks that the
    two paths answer byte for byte the same.
    """
    if not fast_routes:
        return flask_app
    max_body = settings.max_body_bytes
    token = settings.auth_token
    expected_auth = None if token is None else f"Bearer {token}".encode()
    observe = metrics.observe
    perf_counter = time.perf_counter

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = fast_routes.get((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
        if route is None:
            return flask_app(environ, start_response)
        start = perf_counter()
        content_type = environ.get("CONTENT_TYPE", "")
        length = environ.get("CONTENT_LENGTH", "")
        if (
            (content_type != JSON and content_type.partition(";")[0].strip().lower() != JSON)
            or not (length.isascii() and length.isdigit())
            or not 0 < int(length) <= max_body
            or (
                expected_auth is not None
                and not hmac.compare_digest(
                    environ.get("HTTP_AUTHORIZATION", "").encode("utf-8", "replace"),
                    expected_auth,
                )
            )
        ):
            return flask_app(environ, start_response)
        data = environ["wsgi.input"].read(int(length))
        endpoint, handler = route
        try:
            payload, rows = handler(data)
        except Exception:  # noqa: BLE001 (Flask answers it: the one place errors are made)
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            return flask_app(environ, start_response)
        start_response("200 OK", [_JSON_HEADER, ("Content-Length", str(len(payload)))])
        observe(endpoint, 200, perf_counter() - start, rows)
        return [payload]

    return app
