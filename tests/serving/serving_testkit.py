"""Helpers and fixtures of the serving tests (imported by conftest.py; tests import helpers from
here, not from conftest, which is ambiguous when several test folders have one).

Fixtures for the serving tests: small ONNX models on disk, Flask test clients, and a real
`pipeport serve` process (gunicorn on a free loopback port).

The models are built with onnx.helper (tests/serving/model_builders.py) by the contract in
docs/onnx-contract.md, so these tests do not depend on the exporter.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))

import model_builders  # noqa: E402

from pipeport.serving.app import ServingSettings, create_app  # noqa: E402


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def classifier_path(model_dir: Path) -> Path:
    return model_builders.build_classifier(model_dir / "classifier.onnx")


@pytest.fixture(scope="session")
def int_classifier_path(model_dir: Path) -> Path:
    return model_builders.build_classifier(model_dir / "int_classifier.onnx", int_labels=True)


@pytest.fixture(scope="session")
def regressor_path(model_dir: Path) -> Path:
    return model_builders.build_regressor(model_dir / "regressor.onnx")


@pytest.fixture(scope="session")
def foreign_model_path(model_dir: Path) -> Path:
    return model_builders.build_without_metadata(model_dir / "foreign.onnx")


@pytest.fixture(scope="session")
def client(classifier_path: Path) -> Any:
    """A test client of the string-label classifier with small limits (shared by many tests)."""
    app = create_app(classifier_path, ServingSettings(max_body_bytes=64 * 1024, max_rows=50))
    return app.test_client()


@pytest.fixture
def make_client() -> Callable[..., Any]:
    def make(path: Path, **settings: Any) -> Any:
        return create_app(path, ServingSettings(**settings)).test_client()

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # `pipeport` as documented examples call it: the console script beside this interpreter
    env["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH")]))
    return env


# What the `pipeport` console script runs. Not `python -m pipeport.cli`: that runs cli.py as
# __main__, whose CLIError is then a different class from the pipeport.cli.CLIError we raise.
PIPEPORT = [sys.executable, "-c", "import sys; from pipeport.cli import main; sys.exit(main())"]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`pipeport ARGS` in a fresh interpreter, as a user would run it."""
    return subprocess.run(
        [*PIPEPORT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(),
        cwd=REPO,
    )


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        return http("GET", self.url + path, headers=headers)

    def post_json(self, path: str, body: Any) -> tuple[int, bytes]:
        return http(
            "POST", self.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Start `pipeport serve` (real granian or gunicorn, short graceful timeout), each in its own
    process group (so a test can send it a terminal's Ctrl-C); all stopped at the end."""
    started: list[Server] = []

    def start(model: Path, *extra: str, workers: int = 2) -> Server:
        port = free_port()
        log_path = tmp_path_factory.mktemp("server") / "server.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [
                *PIPEPORT,
                "serve",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--graceful-timeout",
                "5",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=subprocess_env(),
            cwd=REPO,
            start_new_session=True,
        )
        server = Server(f"http://127.0.0.1:{port}", process, log_path)
        server.port = port
        started.append(server)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"server exited early:\n{server.log()}")
            try:
                if server.get("/healthz")[0] == 200 and len(server.worker_pids()) == workers:
                    return server
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not become healthy:\n{server.log()}")

    yield start
    for server in started:
        stop_server(server)
        if server.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)


def stop_server(server: Server) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode


@pytest.fixture(scope="session")
def classifier_server(start_server: Callable[..., Server], classifier_path: Path) -> Server:
    """One real server (2 workers) shared by the tests that only read from it."""
    return start_server(classifier_path, "--max-rows", "100")


@pytest.fixture(scope="session")
def penguins_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled penguins-species config, trained and exported by the real CLI, once."""
    from pipeport.cli import main as pipeport

    directory = tmp_path_factory.mktemp("penguins-species")
    config = str(REPO / "configs" / "penguins-species.toml")
    assert pipeport(["train", config, "--out", str(directory), "--quiet"]) == 0
    assert pipeport(["export", str(directory), "--rows", "500"]) == 0
    return directory / "pipeline.onnx"


def raw_request(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send `data` on a new connection and read until the server closes it or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


def read_response(sock: socket.socket) -> bytes:
    """One HTTP/1.1 response (headers and a Content-Length body) from `sock`; b"" if closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def post_request(body: bytes, path: str = "/v1/predict", extra: str = "") -> bytes:
    """A complete HTTP/1.1 POST of a JSON body, as bytes."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body
