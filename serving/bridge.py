"""The HTTP front door under granian: an RSGI application that reads the whole request body on
the event loop, within limits, and only then runs the Flask (WSGI) app.

Why: a WSGI server hands the app a stream, and the app's thread blocks on it for as long as a
client takes to send its body; four clients that send a body slowly stop a two-worker server
(measured while choosing the server). Here a slow body costs an idle coroutine, not a worker:

- granian (Rust) reads and limits the request line and headers (`--header-timeout`,
  `--max-header-bytes`) before this code sees the request;
- a `Content-Length` over `--max-body-bytes` is answered 413 at once, before any byte of the body
  is read; a chunked body is counted as it arrives and cut off at the limit;
- the body must arrive within `--body-timeout` seconds (checked a few times a second), or the
  answer is 408;
- then the request is answered on the loop's thread: by the fast path (serving.fastpath) when
  it can, otherwise by the Flask app through WSGI with the body in memory. The model is
  CPU-bound and the process has one core's worth of work to do, so running it inline (no
  thread hop) is the fast choice; one worker process per core gives the parallelism.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipeport.serving.errors import ApiError
from pipeport.serving.fastpath import TRIED_KEY, fast_routes, try_fast
from pipeport.serving.requestid import ENVIRON_KEY, HEADER, request_id
from pipeport.serving.state import JSON, STATE_KEY, ServingState

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("pipeport.serving")

_CLOSE = ("connection", "close")


class _TooLarge(Exception):
    pass


class _Deadlines:
    """Body-read deadlines for a worker's requests, enforced by one sweeper task.

    `asyncio.timeout()` per request costs ~7 µs (a timer handle and a context manager, measured)
    of a request that takes ~100 µs in all; a dict entry per request and one task that wakes a
    few times a second cost next to nothing. A request past its deadline is cancelled where it
    waits for its body; the bridge answers 408. Resolution: a quarter of the timeout, at most 1 s.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._period = min(1.0, timeout_s / 4)
        self._pending: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    def start(self, task: asyncio.Task[Any]) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        self._pending[task] = time.monotonic() + self.timeout_s

    def done(self, task: asyncio.Task[Any]) -> None:
        self._pending.pop(task, None)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            now = time.monotonic()
            for task, deadline in list(self._pending.items()):
                if deadline <= now:
                    del self._pending[task]
                    self.expired.add(task)
                    task.cancel()


class RsgiBridge:
    """`await bridge(scope, protocol)` for each HTTP request granian accepts."""

    def __init__(self, app: Flask, body_timeout_s: float) -> None:
        self._extensions = app.extensions
        self._routes = fast_routes(app)
        self._wsgi = app.wsgi_app
        self._body_timeout = body_timeout_s
        self._deadlines = _Deadlines(body_timeout_s)
        self._base: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "SCRIPT_NAME": "",
            TRIED_KEY: True,
        }

    def __rsgi_init__(self, _loop: Any) -> None:
        """granian calls this in each worker, after the fork, before the first request."""
        state: ServingState = self._extensions[STATE_KEY]
        state.start_worker()

    def __rsgi_del__(self, _loop: Any) -> None:
        """granian calls this in each worker once it has stopped serving (SIGTERM, Ctrl-C)."""
        state: ServingState = self._extensions[STATE_KEY]
        state.close()

    async def __call__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":  # websockets are off; nothing else reaches an RSGI app
            return
        start = time.perf_counter()
        state: ServingState = self._extensions[STATE_KEY]
        headers = scope.headers
        method, path = scope.method, scope.path
        rid = request_id(headers.get("x-request-id"))
        limit = state.settings.max_body_bytes
        length = headers.get("content-length")
        body = b""
        if length is not None and length.isdigit() and int(length) > limit:
            return self._refuse(state, protocol, path, start, _too_large(limit), rid)
        if length not in (None, "0") or headers.get("transfer-encoding") is not None:
            task = asyncio.current_task()
            assert task is not None
            self._deadlines.start(task)
            try:
                body = await _read_body(protocol, length, limit)
            except asyncio.CancelledError:
                if task not in self._deadlines.expired:
                    raise
                self._deadlines.expired.discard(task)
                task.uncancel()
                error = ApiError(
                    408,
                    "body_timeout",
                    f"the request body did not arrive within {self._body_timeout:g} s",
                )
                return self._refuse(state, protocol, path, start, error, rid)
            except _TooLarge:
                return self._refuse(state, protocol, path, start, _too_large(limit), rid)
            except Exception:  # noqa: BLE001 (the client went away: nobody to answer)
                return None
            finally:
                self._deadlines.done(task)
        route = self._routes.match(method, path)
        if route is not None and state.settings.fast_path:
            answer = try_fast(state, route, path, headers.get, body, rid)
            if answer is not None:
                protocol.response_bytes(200, answer.headers(rid), answer.payload)
                return None
        status, response_headers, payload = self._call_wsgi(scope, headers, body, rid)
        protocol.response_bytes(status, response_headers, payload)
        return None

    def _call_wsgi(
        self, scope: Any, headers: Any, body: bytes, rid: str
    ) -> tuple[int, list[Any], bytes]:
        environ = dict(self._base)
        environ[ENVIRON_KEY] = rid
        server, _, port = scope.server.rpartition(":")
        environ.update(
            {
                "REQUEST_METHOD": scope.method,
                "PATH_INFO": scope.path,
                "QUERY_STRING": scope.query_string,
                "SERVER_NAME": server,
                "SERVER_PORT": port,
                "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
                "REMOTE_ADDR": scope.client.rpartition(":")[0],
                "wsgi.url_scheme": scope.scheme,
                "wsgi.input": io.BytesIO(body),
                "CONTENT_LENGTH": str(len(body)),
            }
        )
        for name, value in headers.items():
            if name == "content-type":
                environ["CONTENT_TYPE"] = value
            elif "_" in name:
                # `X_Token` would become the same environ key as `X-Token`: dropped, as gunicorn
                # and nginx do, so a client cannot pass one header off as another.
                continue
            elif name != "content-length":
                key = "HTTP_" + name.upper().replace("-", "_")
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        started: list[tuple[str, list[Any]]] = []

        def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
            started.append((status, response_headers))

        try:
            result = self._wsgi(environ, start_response)
            try:
                payload = b"".join(result)
            finally:
                close: Callable[[], None] | None = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:  # the Flask app answers its own errors; this is a bug in ours
            log.exception("unexpected error in the WSGI app on %s %s", scope.method, scope.path)
            error = ApiError(500, "internal_error", "internal server error")
            return 500, [("Content-Type", JSON), (HEADER, rid)], error.body()
        status, response_headers = started[-1]
        return int(status[:3]), response_headers, payload

    @staticmethod
    def _refuse(
        state: ServingState, protocol: Any, path: str, start: float, error: ApiError, rid: str
    ) -> None:
        """Answer before the app runs (and close: the rest of the body is not read)."""
        oip = path == "/v2" or path.startswith("/v2/")
        body = error.body(state.settings.max_error_details, oip)
        headers = [
            ("Content-Type", JSON),
            ("Content-Length", str(len(body))),
            (HEADER, rid),
            _CLOSE,
        ]
        protocol.response_bytes(error.status, headers, body)
        state.metrics.observe("other", error.status, time.perf_counter() - start)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"request body exceeds the limit of {limit} bytes")


async def _read_body(protocol: Any, length: str | None, limit: int) -> bytes:
    """The whole body: at once when its length is declared (and within the limit), chunk by
    chunk, counted against the limit, when it is not."""
    if length is not None:
        data: bytes = await protocol()
        return data
    chunks, size = [], 0
    async for chunk in protocol:
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
