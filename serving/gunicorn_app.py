"""Run the Flask app under gunicorn, programmatically (no gunicorn config file, no argv parsing).

Choices, and why:
- The app (model, session, metrics map) is built once in the master and workers fork from it
  (`preload_app`): one load for the whole server, a short cold start per worker, memory shared
  copy-on-write, and a shared metrics map (serving.metrics). The session has one intra-op thread
  and no thread pool, so forking after creating it is safe.
- One worker process per core: `session.run` is CPU-bound and holds one core; more processes
  only add context switches, fewer leave cores idle.
- `sync` workers by default (`gthread` when --threads > 1). gthread with one thread keeps HTTP
  connections alive, but a worker that accepted several kept-alive connections serves them all
  while the other worker idles: measured with bench/serve.py at 8 connections on 2 cores, one
  worker took every connection in some runs and throughput fell by up to 43 %. `sync` closes the
  connection after each response, so every request is balanced by the kernel's accept queue; it
  was never slower in the same runs (p99 6.5 ms vs 10.6 ms).
- The master's heap is frozen (`gc.freeze()`) before the workers fork, so the collector in a
  worker never touches, and copy-on-write never duplicates, the objects loaded once in the master.
- A worker leaves with `os._exit` once gunicorn is done with it (the `worker_exit` hook, in the
  worker only): a normal interpreter exit runs onnxruntime's exit handler, which hangs in a
  forked worker until the master SIGKILLs it (~12 s on SIGTERM, and "Worker was sent SIGKILL!"
  on Ctrl-C).
- No control socket unless asked for: gunicorn ≥ 25.1 otherwise creates one under
  $XDG_RUNTIME_DIR or $HOME/.gunicorn, which a server image should not have to allow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication


@dataclass(frozen=True)
class GunicornSettings:
    """Process-level server settings (the HTTP-level limits are in ServingSettings)."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 0  # 0: one per core
    worker_class: str | None = None  # None: "sync" for one thread, "gthread" for more
    threads: int = 1
    keepalive: int = 5
    timeout: int = 30
    graceful_timeout: int = 10
    access_log: bool = False
    control_socket: str | None = None
    backlog: int = 2048

    def options(self) -> dict[str, Any]:
        """The gunicorn settings dict (names as in gunicorn's documentation)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        options: dict[str, Any] = {
            "bind": [f"{host}:{self.port}"],
            "workers": self.workers or default_workers(),
            "worker_class": self.worker_class or ("gthread" if self.threads > 1 else "sync"),
            "threads": self.threads,
            "keepalive": self.keepalive,
            "timeout": self.timeout,
            "graceful_timeout": self.graceful_timeout,
            "preload_app": True,
            "backlog": self.backlog,
            "accesslog": "-" if self.access_log else None,
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "pipeport-serve",
        }
        options["worker_exit"] = _leave_worker
        if self.control_socket:
            options["control_socket"] = self.control_socket
        else:
            options["control_socket_disable"] = True
        return options


def _leave_worker(_arbiter: Any, worker: Any, before_exit: Any = None) -> None:
    """gunicorn's worker_exit hook: in the worker itself, run `before_exit` (the prediction
    log's last write) and exit now with the status it was exiting with (see the module
    docstring); in the master (which calls it when it reaps a worker) do nothing."""
    import sys

    if os.getpid() != worker.pid:
        return
    if before_exit is not None:
        try:
            before_exit()
        except Exception:  # noqa: BLE001 (the worker leaves whatever happens)
            import traceback

            traceback.print_exc()
    exc = sys.exc_info()[1]
    code = 0
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else 1
    elif exc is not None:
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def default_workers() -> int:
    """One worker per core this process may run on (respects CPU affinity / cgroup cpusets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class PipeportGunicorn(BaseApplication):  # type: ignore[misc]
    """A gunicorn application around an already built WSGI app."""

    def __init__(self, wsgi_app: Any, options: dict[str, Any]) -> None:
        self._wsgi_app = wsgi_app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        return self._wsgi_app


def run_gunicorn(wsgi_app: Any, settings: GunicornSettings) -> None:
    """Serve until gunicorn's master is told to stop (SIGTERM/SIGINT)."""
    import gc

    options = settings.options()
    extensions = getattr(wsgi_app, "extensions", None)
    if extensions is not None and "pipeport" in extensions:  # our Flask app: close its log
        state = extensions["pipeport"]

        def leave_worker(arbiter: Any, worker: Any) -> None:
            _leave_worker(arbiter, worker, before_exit=state.close)

        options["worker_exit"] = leave_worker
    application = PipeportGunicorn(wsgi_app, options)
    # No gc.collect() first: measured, it finds nothing to free here (the collector has run
    # during the imports) and costs ~20 ms of cold start.
    gc.freeze()  # see the module docstring: shared pages stay shared after fork
    application.run()
