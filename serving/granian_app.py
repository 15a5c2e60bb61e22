"""Run the app under granian (the default server of `pipeport serve`), programmatically.

Choices, and why (the measurements are in docs/serving.md):
- granian's HTTP/1.1 stack is Rust (hyper): it reads request lines and headers for every
  connection concurrently, within a header timeout and a header size limit, before any Python
  runs, so slow clients cost nothing but a socket. Keep-alive is on.
- The RSGI interface with serving.bridge in front of the Flask app: the body is read on the
  event loop (within a size limit and a timeout) before the app runs, which granian's WSGI
  interface cannot do (its app blocks a thread while a slow body trickles in).
- The app (model, session, metrics map) is built once in this process, which becomes granian's
  main process; the workers are forked from it (Python's default start method on Linux) and use
  the app already built: one load, memory shared copy-on-write, a fast cold start, one metrics
  map. The heap is frozen (`gc.freeze()`) before the fork, as under gunicorn, and the code
  pages that only loading the model used are given back (serving.pages).
- One worker per core, one Python thread each (RSGI runs the app on the event loop); uvloop
  when it is installed (the serve extra installs it: measured faster than asyncio's loop).
- A worker that dies is replaced (`respawn_failed_workers`); on SIGTERM or SIGINT the workers
  stop accepting, finish what is in flight (up to `graceful_timeout`), and the process exits 0.
  It then leaves with `os._exit`: granian's own teardown at interpreter exit takes ~1.6 s for
  nothing (measured), and there is nothing left to clean up.
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeport.serving.bridge import RsgiBridge
from pipeport.serving.pages import release_clean_file_pages

if TYPE_CHECKING:
    from flask import Flask


class PortInUse(Exception):
    """The address is taken; the message is one line that says what to do."""


@dataclass(frozen=True)
class GranianSettings:
    """Process and connection settings (the HTTP-level limits on requests are ServingSettings)."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 0  # 0: one per core
    backlog: int = 2048
    header_timeout_s: float = 10.0  # request line + headers must arrive within this
    body_timeout_s: float = 30.0  # the body must arrive within this after the headers
    max_header_bytes: int = 64 * 1024  # request line + headers
    graceful_timeout_s: int = 10  # in-flight requests get this long on shutdown
    access_log: bool = False


def check_port_free(host: str, port: int) -> None:
    """Raise PortInUse when `host:port` is taken.

    granian binds with SO_REUSEPORT, so a second server on a port in use would start and
    silently share it. A plain bind (no SO_REUSEPORT) fails if any socket listens there.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} is in use; try --port") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise PortInUse(f"cannot listen on {host}: no such address here") from None
            raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def run_granian(app: Flask, settings: GranianSettings, *, exit_process: bool = True) -> int:
    """Serve `app` until SIGTERM/SIGINT; returns (or, with `exit_process`, exits with) granian's
    exit status: 0 after a clean stop."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.server.mp import MPServer

    from pipeport.serving.gunicorn_app import default_workers

    check_port_free(settings.host, settings.port)
    bridge = RsgiBridge(app, settings.body_timeout_s)
    try:
        import uvloop  # noqa: F401

        loop = Loops.uvloop
    except ImportError:
        loop = Loops.asyncio
    server = MPServer(
        "pipeport",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.RSGI,
        workers=settings.workers or default_workers(),
        runtime_threads=1,
        loop=loop,
        http=HTTPModes.http1,
        websockets=False,
        backlog=settings.backlog,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.header_timeout_s * 1000),
            keep_alive=True,
            max_buffer_size=settings.max_header_bytes,
        ),
        log_access=settings.access_log,
        respawn_failed_workers=True,
        workers_kill_timeout=settings.graceful_timeout_s,
    )
    gc.freeze()  # see the module docstring: pages loaded once stay shared after fork
    release_clean_file_pages()  # serving.pages: code the loader ran once, not kept resident
    code = 0
    try:
        server.serve(target_loader=lambda _target: bridge)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except RuntimeError as exc:  # the bind itself (a race with check_port_free)
        if "Address already in use" not in str(exc):
            raise
        print(f"pipeport serve: error: port {settings.port} is in use; try --port", file=sys.stderr)
        code = 2
    if not exit_process:
        return code
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
