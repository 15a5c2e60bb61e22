"""Flask views built from fast-path handlers, so both paths run the same code and send the same
bytes (serving.fastpath)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, request

from pipeport.serving.fastpath import Answer
from pipeport.serving.payloads import JSON
from pipeport.serving.requestid import ENVIRON_KEY, request_id
from pipeport.serving.state import current_state


def respond(answer: Answer) -> Response:
    """The Flask response for a handler's answer: what the fast path sends, byte for byte (and
    drift counted and the prediction logged as the fast path does)."""
    response = Response(answer.payload, mimetype=answer.content_type)
    for name, value in answer.extra_headers:
        response.headers[name] = value
    environ = request.environ
    environ["pipeport.rows"] = answer.rows
    rid = environ.get(ENVIRON_KEY)
    if rid is None:  # always set by serving.fastpath.timed; here for an app wired otherwise
        rid = environ[ENVIRON_KEY] = request_id(request.headers.get("X-Request-ID"))
    current_state().after_answer(rid, answer.record)
    return response


def view(handler: Callable[..., Answer]) -> Callable[..., Response]:
    """A Flask view that calls `handler` with this request (URL variables are the handler's to
    parse from the path, as the fast path gives it no others)."""

    def answer(**_url_values: Any) -> Response:
        return respond(
            handler(
                current_state(),
                request.path,
                request.headers.get,
                lambda: request.get_data(cache=False),
            )
        )

    return answer


def json_response(body: bytes | str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype=JSON)
