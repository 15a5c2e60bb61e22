"""The fast path: well-formed inference requests answered without Flask's request machinery.

On a single row, Flask's per-request work (request context, URL matching, hooks, the Response
object) costs more than the model. So each protocol module registers, beside its Flask view, the
body handler that view calls (`FastRoutes.add`): a function of the state, the path, a header
lookup and the body bytes that returns an `Answer` or raises `ApiError`. A request whose route
has a handler, whose Content-Length is within the limit and whose bearer token (if one is set) is
right is answered by that handler directly; anything else, and every request whose handler
raises (every error answer), is handed to Flask with the body put back, so each error is made in
one place. tests/serving/test_serving_fast_path.py requires both paths to answer byte for byte the
same.

Two front doors use it: `front_door` (a WSGI middleware around the Flask app, what gunicorn runs)
and serving.bridge (the granian/RSGI front door, which has already read the body).
"""

from __future__ import annotations

import hmac
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from pipeport.serving.payloads import HeaderLookup
from pipeport.serving.predlog import Record
from pipeport.serving.requestid import ENVIRON_KEY, HEADER, request_id
from pipeport.serving.state import STATE_KEY, ServingState

if TYPE_CHECKING:
    from flask import Flask

FAST_ROUTES_KEY = "pipeport.fast_routes"
# Set in the WSGI environ by a front door that has already tried the fast path.
TRIED_KEY = "pipeport.fast_path_tried"
WSGIApp = Callable[..., Iterable[bytes]]


class Answer(NamedTuple):
    """A successful response: its media type, body, extra headers, the rows scored, and what
    drift counting and the prediction log take from it (serving.predlog.Record)."""

    content_type: str
    payload: bytes
    rows: int
    extra_headers: tuple[tuple[str, str], ...] = ()
    record: Record | None = None

    def headers(self, request_id: str) -> list[tuple[str, str]]:
        """The header list Flask sends for this answer (same names, same order): the request
        id comes last, as `timed` adds it to every response Flask makes."""
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.payload))),
            *self.extra_headers,
            (HEADER, request_id),
        ]


#: (state, path, header lookup, body reader) → Answer; raises ApiError. The body is read through
#: a callable so that a handler checks headers (media type, encoding) before the body is read, in
#: the same order on both paths.
Handler = Callable[[ServingState, str, HeaderLookup, Callable[[], bytes]], Answer]


@dataclass(frozen=True)
class FastRoute:
    endpoint: str  # the Flask endpoint name, for metrics
    handler: Handler


class FastRoutes:
    """Fast handlers by method and path: exact paths, and prefix + suffix patterns (for V2's
    `/v2/models/<name>[/versions/<v>]/infer`, whose handler checks the name itself)."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], FastRoute] = {}
        self._patterns: list[tuple[str, str, str, FastRoute]] = []

    def add(self, method: str, path: str, endpoint: str, handler: Handler) -> None:
        self._exact[(method, path)] = FastRoute(endpoint, handler)

    def add_pattern(
        self, method: str, prefix: str, suffix: str, endpoint: str, handler: Handler
    ) -> None:
        self._patterns.append((method, prefix, suffix, FastRoute(endpoint, handler)))

    def match(self, method: str, path: str) -> FastRoute | None:
        route = self._exact.get((method, path))
        if route is not None:
            return route
        for want, prefix, suffix, candidate in self._patterns:
            if method == want and path.startswith(prefix) and path.endswith(suffix):
                return candidate
        return None


def fast_routes(app: Flask) -> FastRoutes:
    """The app's fast-route registry (created on first use by a protocol module)."""
    routes = app.extensions.get(FAST_ROUTES_KEY)
    if routes is None:
        routes = app.extensions[FAST_ROUTES_KEY] = FastRoutes()
    assert isinstance(routes, FastRoutes)
    return routes


def bearer_ok(expected: str | None, authorization: str | None) -> bool:
    """The request carries `Authorization: Bearer <token>` when a token is required."""
    if expected is None:
        return True
    provided = (authorization or "").encode("utf-8", "replace")
    return hmac.compare_digest(provided, f"Bearer {expected}".encode())


def try_fast(
    state: ServingState,
    route: FastRoute,
    path: str,
    header: HeaderLookup,
    body: bytes,
    request_id: str,
) -> Answer | None:
    """The route's answer, or None when Flask must answer (bad token, any error)."""
    if not bearer_ok(state.settings.auth_token, header("authorization")):
        return None
    start = time.perf_counter()
    try:
        answer = route.handler(state, path, header, lambda: body)
    except Exception:  # noqa: BLE001 (Flask answers it: the one place errors are made)
        return None
    state.after_answer(request_id, answer.record)
    state.metrics.observe(route.endpoint, 200, time.perf_counter() - start, answer.rows)
    return answer


def _environ_header(environ: dict[str, Any]) -> HeaderLookup:
    def header(name: str) -> str | None:
        if name == "content-type":
            return environ.get("CONTENT_TYPE")
        if name == "content-length":
            return environ.get("CONTENT_LENGTH")
        value: str | None = environ.get("HTTP_" + name.upper().replace("-", "_"))
        return value

    return header


def front_door(app: Flask, flask_app: WSGIApp) -> WSGIApp:
    """WSGI entry point: the fast path for registered routes, `flask_app` for everything else."""
    extensions = app.extensions
    routes = fast_routes(app)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = routes.match(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        if route is None or environ.get(TRIED_KEY):
            return flask_app(environ, start_response)
        state: ServingState = extensions[STATE_KEY]
        length = environ.get("CONTENT_LENGTH", "")
        if (
            not state.settings.fast_path
            or not (length.isascii() and length.isdigit())
            or not 0 < int(length) <= state.settings.max_body_bytes
        ):
            return flask_app(environ, start_response)
        data = environ["wsgi.input"].read(int(length))
        rid = environ[ENVIRON_KEY] = request_id(environ.get("HTTP_X_REQUEST_ID"))
        answer = try_fast(
            state, route, environ.get("PATH_INFO", ""), _environ_header(environ), data, rid
        )
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            return flask_app(environ, start_response)
        start_response("200 OK", answer.headers(rid))
        return [answer.payload]

    return wsgi


def timed(app: Flask, wsgi_app: WSGIApp) -> WSGIApp:
    """Count and time every request Flask answers (404s and errors included), and give each
    answer its `X-Request-ID` (the one a front door chose, the client's, or a new one)."""
    extensions = app.extensions

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start = time.perf_counter()
        seen: list[str] = []
        rid = environ.get(ENVIRON_KEY)
        if rid is None:
            rid = environ[ENVIRON_KEY] = request_id(environ.get("HTTP_X_REQUEST_ID"))

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            seen.append(status)
            return start_response(status, [*headers, (HEADER, rid)], exc_info)

        result = wsgi_app(environ, recording_start_response)
        endpoint = environ.get("pipeport.endpoint", "other")
        status = int(seen[-1][:3]) if seen else 500
        state: ServingState = extensions[STATE_KEY]
        state.metrics.observe(
            endpoint,
            status,
            time.perf_counter() - start,
            environ.get("pipeport.rows", 0) if status == 200 else 0,
        )
        return result

    return wsgi
