"""The prediction log: answered prediction requests appended to JSON Lines files, off the
request path (`pipeport serve --log-predictions DIR`; format and guarantees in
docs/operations.md).

Per worker process: a bounded queue and one writer thread, started in the worker after the fork
(granian's `__rsgi_init__`, or the first logged request under gunicorn), writing its own file
(`predictions-<UTC time>-<pid>-<n>.jsonl`), rotated when it would pass `max_bytes`. The request
path makes the request's line (a few µs of JSON encoding of what the handler already holds: the
id, the time, the rows as received, the predictions) and appends it to the queue; when the queue
is full the request is counted as dropped in /metrics rather than waited for. The writer wakes
every `flush_interval_s`, runs the shadow model (if any) on the queued requests' rows and writes
the lines with one system call. `close()` (SIGTERM: granian's `__rsgi_del__`, gunicorn's
`worker_exit`) writes everything queued and syncs the file, so nothing accepted is lost; a
request logged after that is written at once. A worker that dies without `close()` loses what
it had queued: at most `flush_interval_s` of requests (and never more than `queue_size`).

Beside the files, `models/<sha256>.json` holds each logged model's metadata, so a log can be
replayed with the log alone (`pipeport replay`).
"""

from __future__ import annotations

import collections
import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from pipeport.serving.metrics import Counter, SharedMetrics

if TYPE_CHECKING:
    from pipeport.serving.model import LoadedModel
    from pipeport.serving.outputs import OutputFormatter
    from pipeport.serving.shadow import Shadow

log = logging.getLogger("pipeport.serving")

MODELS_FOLDER = "models"
WRITTEN = "pipeport_prediction_log_written_total"
DROPPED = "pipeport_prediction_log_dropped_total"
FAILED = "pipeport_prediction_log_errors_total"


class PredictionLogError(Exception):
    """The log directory cannot be used; the message is one line naming it and the fix."""


@dataclass(frozen=True)
class LogSettings:
    directory: Path
    #: The fraction of answered requests logged (each drawn at random).
    sample: float = 1.0
    #: A worker's file is closed and a new one started before it would pass this size.
    max_bytes: int = 64 * 1024 * 1024
    #: Requests a worker holds for its writer; more are dropped (and counted).
    queue_size: int = 10_000
    #: How often the writer wakes: what a crash can lose, at most.
    flush_interval_s: float = 0.1


class Record(NamedTuple):
    """What a prediction handler hands over for drift counting and the log: what it holds
    already, nothing computed for it."""

    endpoint: str
    #: The raw rows as received (a list of JSON objects), or, for tensor requests (Open
    #: Inference Protocol), {raw column: values in the graph's encoding}.
    inputs: Any
    feeds: dict[str, Any]
    outputs: list[Any]
    #: The predictions as JSON text, when the handler made it for its answer.
    predictions: str | None = None


#: A queued request: its line (without the closing brace and newline), and with a shadow model
#: the inputs the shadow is to run on (None without one).
_Entry = tuple[str, Any]


def counters() -> list[Counter]:
    return [
        Counter(WRITTEN, "Requests written to the prediction log."),
        Counter(DROPPED, "Requests not logged because the log's queue was full."),
        Counter(FAILED, "Requests that could not be written to the prediction log."),
    ]


def model_document(model: LoadedModel) -> dict[str, Any]:
    """What `models/<sha256>.json` holds: the model's identity and its pipeport metadata."""
    schema = model.schema
    return {
        "name": schema.name,
        "version": schema.version,
        "sha256": model.sha256,
        "file": model.path.name,
        "metadata": schema.metadata,
    }


def prepare_directory(directory: Path, models: Iterable[LoadedModel]) -> None:
    """Create the log directory (in the main process, before the workers fork) and write each
    model's metadata beside the logs; PredictionLogError when it cannot be written."""
    try:
        folder = directory / MODELS_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        for model in models:
            path = folder / f"{model.sha256}.json"
            tmp = path.with_suffix(f".json.tmp{os.getpid()}")
            tmp.write_text(json.dumps(model_document(model), indent=1, sort_keys=True) + "\n")
            tmp.replace(path)
        probe = directory / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise PredictionLogError(
            f"cannot write prediction logs to {directory}: {exc.strerror or exc}; "
            "pass a writable directory to --log-predictions"
        ) from None


#: The last whole second formatted, and its text: one tuple, read and replaced whole, so that
#: threads formatting times at once never pair one second with another's text.
_SECOND: tuple[int, str] = (-1, "")


def utc_text(seconds: float) -> str:
    """RFC 3339 UTC time with microseconds: 2026-12-02T10:15:00.123456Z."""
    whole = math.floor(seconds)
    global _SECOND
    second = _SECOND
    if second[0] != whole:  # formatted once per second: a log line's time costs ~0.3 µs
        second = _SECOND = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    micros = min(int((seconds - whole) * 1e6), 999_999)
    return f"{second[1]}.{micros:06d}Z"


def _encoder() -> Callable[[Any], str]:
    """Compact JSON, non-ASCII kept, no NaN: the C encoder called directly, which costs half of
    `json.dumps` with arguments (a new JSONEncoder per call) for a request's rows."""
    options = {"separators": (",", ":"), "ensure_ascii": False, "allow_nan": False}
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return json.JSONEncoder(**options).encode  # type: ignore[arg-type]
    fallback = json.JSONEncoder(**options)  # type: ignore[arg-type]
    chunks = make(
        None, fallback.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


_encode = _encoder()


def _json(value: Any) -> str:
    try:
        return _encode(value)
    except ValueError:  # an infinite number in a column the model does not read
        return json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def rows_of_columns(columns: dict[str, Any]) -> list[dict[str, Any]]:
    """Tensor inputs as rows: one object per row, NaN (missing) as null."""
    lists = {}
    for name, values in columns.items():
        flat = values.reshape(-1).tolist() if isinstance(values, np.ndarray) else list(values)
        lists[name] = [None if isinstance(v, float) and v != v else v for v in flat]
    n = len(next(iter(lists.values()))) if lists else 0
    return [{name: values[i] for name, values in lists.items()} for i in range(n)]


class PredictionLog:
    """One per server; each worker process writes its own files (see the module docstring)."""

    def __init__(
        self,
        settings: LogSettings,
        model_json: str,
        formatter: OutputFormatter,
        metrics: SharedMetrics,
        shadow: Shadow | None = None,
    ) -> None:
        self.settings = settings
        self._model_json = model_json
        self._formatter = formatter
        self._metrics = metrics
        self._shadow = shadow
        self._written = metrics.counter_index(WRITTEN)
        self._dropped = metrics.counter_index(DROPPED)
        self._failed = metrics.counter_index(FAILED)
        self._queue: collections.deque[_Entry] = collections.deque()
        self._pid = -1  # the process whose writer is running (none yet: the main process)
        self._closed = False
        self._start_lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: Any = None
        self._path: Path | None = None
        self._size = 0
        self._files = 0

    # -- the request path -----------------------------------------------------------------------

    def submit(self, request_id: str, record: Record) -> None:
        """Queue one answered request (or not, by the sample rate); never blocks on I/O."""
        sample = self.settings.sample
        if sample < 1.0 and random.random() >= sample:
            return
        if self._pid != os.getpid():
            self.start()
        queue = self._queue
        if len(queue) >= self.settings.queue_size:
            self._metrics.add(self._dropped)
            return
        # The line is made here and written by the writer thread: JSON encoding in the writer
        # costs more than here (measured: the worker's event loop and the writer then take
        # turns with the GIL), and the queue holds text, not the request's arrays. A shadow
        # model runs in the writer: the answer never waits for it.
        try:
            line = self._line(request_id, time.time(), record)
        except Exception:  # noqa: BLE001 (a request that cannot be encoded: counted, never the answer's problem)
            log.exception("prediction log: cannot encode request %s", request_id)
            self._metrics.add(self._failed)
            return
        queue.append((line, record.inputs if self._shadow is not None else None))
        if self._closed:  # after close(): written at once, so it is not lost
            self._drain()

    # -- the worker's writer --------------------------------------------------------------------

    def start(self) -> None:
        """Start this process's writer (idempotent; called in each worker after the fork)."""
        with self._start_lock:
            pid = os.getpid()
            if self._pid == pid:
                return
            # a forked child inherits the parent's objects, not its thread: start afresh
            self._queue = collections.deque()
            self._io_lock = threading.Lock()
            self._stop = threading.Event()
            self._handle, self._path, self._size, self._files = None, None, 0, 0
            self._closed = False
            self._thread = threading.Thread(
                target=self._run, name="pipeport-prediction-log", daemon=True
            )
            self._pid = pid
            self._thread.start()

    def close(self) -> None:
        """Write everything queued, sync and close this worker's file (on shutdown)."""
        if self._pid != os.getpid():
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._drain()
        with self._io_lock:
            self._close_file()

    @property
    def path(self) -> Path | None:
        """The file this worker writes now (None before its first entry)."""
        return self._path

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.settings.flush_interval_s)
            try:
                self._drain()
            except Exception:  # noqa: BLE001 (the writer must outlive a bad entry or a full disk)
                log.exception("prediction log: writing failed")

    def _drain(self) -> None:
        with self._io_lock:
            while self._queue:
                batch: list[_Entry] = []
                while self._queue and len(batch) < 1000:
                    batch.append(self._queue.popleft())
                self._write(batch)

    def _write(self, batch: list[_Entry]) -> None:
        shadow = self._shadow
        if shadow is None:
            lines = [(line + "}\n").encode() for line, _inputs in batch]
        else:
            lines = [
                f'{line},"shadow":{shadow.answer(inputs, self._metrics)}}}\n'.encode()
                for line, inputs in batch
            ]
        chunk: list[bytes] = []
        pending = 0
        for line in lines:
            if self._handle is None or (
                self._size + pending > 0
                and self._size + pending + len(line) > self.settings.max_bytes
            ):
                self._flush(chunk)
                chunk, pending = [], 0
                self._rotate()
            chunk.append(line)
            pending += len(line)
        self._flush(chunk)

    def _flush(self, chunk: list[bytes]) -> None:
        if not chunk:
            return
        data = b"".join(chunk)
        try:
            self._handle.write(data)
            self._handle.flush()
        except OSError as exc:
            log.error("prediction log: cannot write %s: %s", self._path, exc)
            self._metrics.add(self._failed, len(chunk))
            return
        self._size += len(data)
        self._metrics.add(self._written, len(chunk))

    def _rotate(self) -> None:
        self._close_file()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self._files += 1
        self._path = (
            self.settings.directory / f"predictions-{stamp}-{os.getpid()}-{self._files:04d}.jsonl"
        )
        self._handle = open(self._path, "ab")  # noqa: SIM115 (lives until rotated or closed)
        self._size = self._handle.tell()

    def _close_file(self) -> None:
        if self._handle is None:
            return
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            log.error("prediction log: cannot sync %s: %s", self._path, exc)
        self._handle.close()
        self._handle = None

    def _line(self, request_id: str, seconds: float, record: Record) -> str:
        """A request's log line but for its closing brace (a shadow's part goes before it)."""
        inputs = record.inputs
        rows = rows_of_columns(inputs) if isinstance(inputs, dict) else inputs
        predictions = record.predictions
        if predictions is None:
            predictions = self._formatter.predictions_json(record.outputs)
        return (
            f'{{"id":{_json(request_id)},"time":"{utc_text(seconds)}",'
            f'"model":{self._model_json},"endpoint":"{record.endpoint}",'
            f'"rows":{_json(rows)},"predictions":{predictions}'
        )
