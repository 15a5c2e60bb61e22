"""Prometheus metrics, summed over every worker process, with no extra dependency.

Why not per-process counters: a scrape reaches one worker at random, so per-process numbers jump
around and undercount. Why not prometheus_client's multiprocess mode: it needs a directory of
files and a package the serve image does not have. Instead the counters live in an anonymous
shared memory map (`mmap(-1, …)`) that `pipeport serve` creates in the gunicorn master before
the workers fork; each worker owns one slot (a row of float64s) and is its only writer, so the
request path takes no cross-process lock. A scrape sums the slots. A slot outlives its worker and
is taken over by the next one, so totals never go down when gunicorn restarts a worker.

Limitation: the map is shared only by processes forked from the one that created it. Run the
app some other way (e.g. `gunicorn 'serving.app:...'` without our launcher, or several masters)
and each process reports its own numbers.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import tempfile
import threading
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Latency bucket upper bounds, in seconds; the last bucket is +Inf.
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
STATUSES = (200, 400, 401, 404, 405, 408, 413, 415, 422, 431, 500, 503)
MAX_SLOTS = 64
_PID_BYTES = 8 * MAX_SLOTS


@dataclass(frozen=True)
class Counter:
    """One more counter, declared before the map is created: a Prometheus counter `name` with
    fixed `labels` (drift per column, the prediction log, the shadow model)."""

    name: str
    help: str
    labels: tuple[tuple[str, str], ...] = ()


class SharedMetrics:
    """Request counts by endpoint and status, a latency histogram, rows predicted, and the
    `counters` declared at creation (each counted with `add`)."""

    def __init__(self, endpoints: Sequence[str], counters: Sequence[Counter] = ()) -> None:
        self.endpoints = (*endpoints, "other")
        self._endpoint_index = {name: i for i, name in enumerate(self.endpoints)}
        self._status_index = {code: i for i, code in enumerate(STATUSES)}
        n_end, n_status, n_bucket = len(self.endpoints), len(STATUSES) + 1, len(BUCKETS) + 1
        self._requests_at = 0
        self._hist_at = n_end * n_status
        self._sum_at = self._hist_at + n_end * n_bucket
        self._rows_at = self._sum_at + n_end
        self._counters_at = self._rows_at + 1
        self.counters = tuple(counters)
        self._counter_index = {(c.name, c.labels): i for i, c in enumerate(self.counters)}
        self._stride = self._counters_at + len(self.counters)
        self._n_status, self._n_bucket = n_status, n_bucket
        self._map = mmap.mmap(-1, _PID_BYTES + 8 * MAX_SLOTS * self._stride)
        self._pids = np.frombuffer(self._map, dtype=np.int64, count=MAX_SLOTS)
        self._all = np.frombuffer(self._map, dtype=np.float64, offset=_PID_BYTES).reshape(
            MAX_SLOTS, self._stride
        )
        self._claim_lock = _ProcessLock()
        self._thread_lock = threading.Lock()
        self._owner = -1
        self._slot: np.ndarray = np.zeros(self._stride)

    def observe(self, endpoint: str, status: int, seconds: float, rows: int = 0) -> None:
        """Count one finished request (called once per request, after the response is built)."""
        if self._owner != os.getpid():
            self._claim_slot()
        e = self._endpoint_index.get(endpoint, len(self.endpoints) - 1)
        s = self._status_index.get(status, self._n_status - 1)
        b = bisect_left(BUCKETS, seconds)
        slot = self._slot
        with self._thread_lock:
            slot[self._requests_at + e * self._n_status + s] += 1.0
            slot[self._hist_at + e * self._n_bucket + b] += 1.0
            slot[self._sum_at + e] += seconds
            if rows:
                slot[self._rows_at] += rows

    def counter_index(self, name: str, labels: tuple[tuple[str, str], ...] = ()) -> int:
        """The index `add` takes for a declared counter; -1 when it was not declared."""
        return self._counter_index.get((name, labels), -1)

    def add(self, index: int, amount: float = 1.0) -> None:
        """Add to a declared counter (any thread of this worker; a no-op for index -1)."""
        if index < 0:
            return
        if self._owner != os.getpid():
            self._claim_slot()
        with self._thread_lock:
            self._slot[self._counters_at + index] += amount

    def value(self, index: int) -> float:
        """A declared counter summed over every worker (for tests and the log's own checks)."""
        return float(self._total()[self._counters_at + index]) if index >= 0 else 0.0

    def _total(self) -> np.ndarray:
        total = self._all.sum(axis=0)
        if self._owner == os.getpid() and not _is_shared_row(self._slot, self._all):
            total = total + self._slot
        return total

    def _claim_slot(self) -> None:
        """Take a free slot, or the slot of a worker that has died (its counts carry on)."""
        pid = os.getpid()
        with self._thread_lock, self._claim_lock:
            if self._owner == pid:  # another thread of this worker got here first
                return
            for i in range(MAX_SLOTS):
                owner = int(self._pids[i])
                if owner == 0 or owner == pid or not _alive(owner):
                    self._pids[i] = pid
                    self._slot = self._all[i]
                    break
            else:  # more live workers than slots: count privately rather than fail
                self._slot = np.zeros(self._stride)
        self._owner = pid

    def render(self, model_labels: dict[str, str]) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        total = self._total()
        lines = [
            "# HELP pipeport_http_requests_total HTTP requests by endpoint and status code.",
            "# TYPE pipeport_http_requests_total counter",
        ]
        status_names = [str(code) for code in STATUSES] + ["other"]
        for e, endpoint in enumerate(self.endpoints):
            for s, status in enumerate(status_names):
                value = total[self._requests_at + e * self._n_status + s]
                if value:
                    lines.append(
                        f'pipeport_http_requests_total{{endpoint="{endpoint}",'
                        f'status="{status}"}} {value:.0f}'
                    )
        lines += [
            "# HELP pipeport_http_request_duration_seconds Time spent answering a request.",
            "# TYPE pipeport_http_request_duration_seconds histogram",
        ]
        bounds = [repr(b) for b in BUCKETS] + ["+Inf"]
        for e, endpoint in enumerate(self.endpoints):
            counts = total[
                self._hist_at + e * self._n_bucket : self._hist_at + (e + 1) * self._n_bucket
            ]
            count = counts.sum()
            if not count:
                continue
            cumulative = np.cumsum(counts)
            for bound, value in zip(bounds, cumulative, strict=True):
                lines.append(
                    f'pipeport_http_request_duration_seconds_bucket{{endpoint="{endpoint}",'
                    f'le="{bound}"}} {value:.0f}'
                )
            lines.append(
                f'pipeport_http_request_duration_seconds_sum{{endpoint="{endpoint}"}} '
                f"{float(total[self._sum_at + e])!r}"
            )
            lines.append(
                f'pipeport_http_request_duration_seconds_count{{endpoint="{endpoint}"}} {count:.0f}'
            )
        labels = ",".join(f'{key}="{_escape(value)}"' for key, value in model_labels.items())
        lines += [
            "# HELP pipeport_rows_predicted_total Rows scored (all endpoints).",
            "# TYPE pipeport_rows_predicted_total counter",
            f"pipeport_rows_predicted_total {total[self._rows_at]:.0f}",
            "# HELP pipeport_model_info The model being served (always 1).",
            "# TYPE pipeport_model_info gauge",
            f"pipeport_model_info{{{labels}}} 1",
            "# HELP pipeport_workers_reporting Worker slots that have served a request.",
            "# TYPE pipeport_workers_reporting gauge",
            f"pipeport_workers_reporting {int((self._pids != 0).sum())}",
        ]
        groups: dict[str, list[int]] = {}  # a metric's samples together, as the format wants
        for i, counter in enumerate(self.counters):
            groups.setdefault(counter.name, []).append(i)
        for name, indices in groups.items():
            lines += [
                f"# HELP {name} {self.counters[indices[0]].help}",
                f"# TYPE {name} counter",
            ]
            for i in indices:
                labels_text = ",".join(
                    f'{key}="{_escape(value)}"' for key, value in self.counters[i].labels
                )
                series = f"{name}{{{labels_text}}}" if labels_text else name
                lines.append(f"{series} {total[self._counters_at + i]:.0f}")
        return "\n".join(lines) + "\n"


def _is_shared_row(row: np.ndarray, table: np.ndarray) -> bool:
    return np.shares_memory(row, table)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _ProcessLock:
    """Mutual exclusion between forked workers: a POSIX record lock (lockf) on an unlinked
    temporary file. Record locks belong to a process, so siblings sharing the inherited file
    descriptor still exclude each other (flock would not: it belongs to the shared open file).
    Used only when a worker claims its slot, never per request.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)

    def __enter__(self) -> None:
        fcntl.lockf(self._file.fileno(), fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.lockf(self._file.fileno(), fcntl.LOCK_UN)
