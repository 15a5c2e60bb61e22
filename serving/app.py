"""The Flask application factory: `create_app(model_path, settings)`.

Everything that can be done once is done here, at load: the session, the schema, the compiled
validators, the output formatter, the documents (pre-serialised). A request then does
parse → validate → build feeds → one `session.run` → format, nothing more.

The app imports the protocol modules and each registers its routes on it, as Flask blueprints
do; none of them imports this module. What the server holds (model, settings, formatter,
metrics, documents) is one `ServingState` in `app.extensions["pipeport"]`, looked up per
request, so serving another model is one assignment of `build_state(...)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from pipeport.serving import drift, fastpath, mlflow, predlog, shadow, v1, v2
from pipeport.serving.errors import ApiError
from pipeport.serving.metrics import Counter, SharedMetrics
from pipeport.serving.model import LoadedModel, load_model
from pipeport.serving.outputs import OutputFormatter, to_json
from pipeport.serving.state import STATE_KEY, ServingSettings, ServingState, current_state
from pipeport.serving.views import json_response

__all__ = ["ServingSettings", "ServingState", "build_state", "create_app", "create_app_for_model"]

log = logging.getLogger("pipeport.serving")

#: The protocol modules, in registration order. Each has `register(app)`; those with documents
#: to pre-serialise have `documents(state)`.
PROTOCOLS = (v1, mlflow, v2)
# Routes that answer without a token: probes and scrapers rarely carry credentials.
PUBLIC_ENDPOINTS = frozenset({"healthz", "readyz", "metrics", "v2_live", "v2_ready"})
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


def create_app(model_path: str | Path, settings: ServingSettings | None = None) -> Flask:
    """Load the model and build the app. Raises `serving.model.ModelLoadError` on a bad file."""
    return create_app_for_model(load_model(model_path), settings or ServingSettings())


def build_state(
    model: LoadedModel, settings: ServingSettings, metrics: SharedMetrics | None = None
) -> ServingState:
    """Everything derived from `model` once: formatter, model info, every protocol's documents,
    drift rules, the prediction log (its directory created) and the shadow model (loaded).

    Raises `serving.model.ModelLoadError` (a bad shadow model) and
    `serving.predlog.PredictionLogError` (a log directory that cannot be written)."""
    schema = model.schema
    second = shadow.Shadow(load_model(settings.shadow_model)) if settings.shadow_model else None
    if second is not None and settings.log is None:
        raise ValueError("a shadow model needs the prediction log (its outputs are logged)")
    counters: list[Counter] = drift.counters(schema) if settings.drift else []
    if settings.log is not None:
        counters += predlog.counters()
        if second is not None:
            counters += shadow.counters()
    metrics = metrics or SharedMetrics(ENDPOINTS, counters)
    formatter = OutputFormatter(schema)
    model_json = to_json({"name": schema.name, "version": schema.version, "sha256": model.sha256})
    prediction_log = None
    if settings.log is not None:
        models = [model] if second is None else [model, second.model]
        predlog.prepare_directory(settings.log.directory, models)
        prediction_log = predlog.PredictionLog(settings.log, model_json, formatter, metrics, second)
    state = ServingState(
        model=model,
        settings=settings,
        formatter=formatter,
        metrics=metrics,
        model_json=model_json,
        drift=drift.DriftMonitor(schema, metrics) if settings.drift else None,
        prediction_log=prediction_log,
    )
    for protocol in PROTOCOLS:
        documents: Callable[[ServingState], dict[str, bytes]] | None = getattr(
            protocol, "documents", None
        )
        if documents is not None:
            state.documents.update(documents(state))
    return state


def create_app_for_model(model: LoadedModel, settings: ServingSettings) -> Flask:
    """Build the app around an already loaded model (lets a caller load once and fork)."""
    app = Flask("serving", static_folder=None)  # no static files: no /static/<path> route
    app.url_rule_class = _RuleWithoutBuilder
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[STATE_KEY] = build_state(model, settings)
    for protocol in PROTOCOLS:
        protocol.register(app)

    app.before_request(_auth_check)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

    @app.teardown_request
    def remember_endpoint(_exc: BaseException | None) -> None:
        # For the metrics middleware, which runs outside the request context.
        request.environ["pipeport.endpoint"] = request.endpoint or "other"

    app.wsgi_app = fastpath.front_door(  # type: ignore[method-assign]
        app, fastpath.timed(app, app.wsgi_app)
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


def _auth_check() -> None:
    token = current_state().settings.auth_token
    if token is None or request.endpoint in PUBLIC_ENDPOINTS:
        return
    if not fastpath.bearer_ok(token, request.headers.get("Authorization")):
        raise ApiError(
            401,
            "unauthorized",
            "missing or wrong bearer token (send Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": 'Bearer realm="pipeport"'},
        )


def _api_error(exc: ApiError) -> Response:
    oip = request.path == "/v2" or request.path.startswith("/v2/")
    response = json_response(exc.body(current_state().settings.max_error_details, oip), exc.status)
    response.headers.update(exc.headers)
    return response


def _http_error(exc: HTTPException) -> Response:
    return _api_error(_from_http_exception(exc))


def _unexpected(exc: Exception) -> Response:
    # Never a stack trace to the client; the log has it for the operator.
    log.exception("unexpected error on %s %s", request.method, request.path)
    return _api_error(ApiError(500, "internal_error", "internal server error"))


def _from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    if status == 404:
        return ApiError(
            404, "not_found", f"no such route: {request.method} {request.path} (see /openapi.json)"
        )
    if status == 405:
        allowed = exc.valid_methods if hasattr(exc, "valid_methods") else None
        methods = ", ".join(sorted(allowed or ()))  # a set: sorted, the same in every process
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
