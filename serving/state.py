"""What a running server holds, in one place: `app.extensions["pipeport"]`, looked up per request.

Flask's own convention for per-app state. Every view, the WSGI fast path and the HTTP front door
read the state through `state_of(app)` / `current_state()` on each request and never close over
the model, so serving another model is one assignment:
`app.extensions[STATE_KEY] = build_state(new_model, settings, metrics)` (build_state lives in
serving.app, which knows the protocol modules whose documents it pre-serialises).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from pipeport.serving.drift import DriftMonitor
from pipeport.serving.metrics import SharedMetrics
from pipeport.serving.model import LoadedModel
from pipeport.serving.outputs import OutputFormatter
from pipeport.serving.predlog import LogSettings, PredictionLog, Record

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("pipeport.serving")

STATE_KEY = "pipeport"
JSON = "application/json"


@dataclass(frozen=True)
class ServingSettings:
    """Limits and options of one server; passed in, never read from globals or the environment."""

    max_body_bytes: int = 16 * 1024 * 1024
    max_rows: int = 10_000
    auth_token: str | None = None
    max_error_details: int = 100
    # Answer well-formed prediction requests without Flask's request machinery (serving.fastpath).
    fast_path: bool = True
    # Count missing, out-of-range and unseen values per raw column in /metrics (serving.drift).
    drift: bool = True
    # Log answered prediction requests to JSON Lines files (serving.predlog); None: no log.
    log: LogSettings | None = None
    # A second model run on the logged rows, its outputs logged beside the answer's
    # (serving.shadow; needs `log`).
    shadow_model: str | None = None


@dataclass
class ServingState:
    """The model being served and everything derived from it once, at load."""

    model: LoadedModel
    settings: ServingSettings
    formatter: OutputFormatter
    metrics: SharedMetrics
    model_json: str  # {"name", "version", "sha256"} as compact JSON, for responses
    # Pre-serialised documents, by name (metadata, openapi, v2_server, ...): filled by the
    # protocol modules when the state is built.
    documents: dict[str, bytes] = field(default_factory=dict)
    drift: DriftMonitor | None = None
    prediction_log: PredictionLog | None = None

    def predict(self, feeds: dict[str, Any]) -> list[Any]:
        """The single `session.run` of a request."""
        return self.model.run(self.formatter.onnx_names, feeds)

    def after_answer(self, request_id: str, record: Record | None) -> None:
        """Count drift and log a prediction that is being answered (both front doors call it
        once per answered prediction request, so both paths count and log the same)."""
        if record is None:
            return
        try:
            if self.drift is not None:
                self.drift.observe(record.feeds)
            if self.prediction_log is not None:
                self.prediction_log.submit(request_id, record)
        except Exception:  # noqa: BLE001 (monitoring never changes an answer)
            log.exception("drift counting or prediction logging failed")

    def start_worker(self) -> None:
        """In a worker process, after the fork: start what runs beside the requests."""
        if self.prediction_log is not None:
            self.prediction_log.start()

    def close(self) -> None:
        """In a worker process that is stopping: write what is queued for the log."""
        if self.prediction_log is not None:
            self.prediction_log.close()


def state_of(app: Flask) -> ServingState:
    state: ServingState = app.extensions[STATE_KEY]
    return state


def current_state() -> ServingState:
    """The state of the app handling the current request (inside a Flask view)."""
    return state_of(current_app)  # type: ignore[arg-type]
