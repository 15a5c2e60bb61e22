"""A real `pipeport serve` process over its life: a worker killed under load, SIGTERM with
requests in flight, a quiet stop (SIGTERM, Ctrl-C), a port already taken; granian (the default)
and gunicorn (the option).

Bounded loops on loopback only; no test asserts a duration.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time

import pytest
from model_builders import CATEGORICAL, NUMERIC
from serving_testkit import post_request, read_response, run_cli, stop_server

ROW = {NUMERIC: 40.0, CATEGORICAL: "Dream"}
BODY = json.dumps({"rows": [ROW]}).encode()
# What a clean stop must not print: a worker killed, a traceback, an error.
ALARMING = re.compile(r"Traceback|SIGKILL|Killing worker|refused to gracefully|ERROR|CRITICAL")


def _wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _wait_exit(server, seconds: float = 30.0) -> int:
    return server.process.wait(timeout=seconds)


def test_a_worker_killed_under_load_costs_only_what_it_held_when_it_died(
    start_server, classifier_path
):
    server = start_server(classifier_path)
    stop = threading.Event()
    clients = 8
    results: list[list[str]] = [[] for _ in range(clients)]

    def client(i: int) -> None:
        # One request in flight at a time per client: a new connection whenever one fails.
        sock = None
        while not stop.is_set():
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                sock.sendall(post_request(BODY))
                response = read_response(sock)
                if not response:  # closed with no answer: counted once, below
                    raise ConnectionResetError
                results[i].append("ok" if response.startswith(b"HTTP/1.1 200") else "bad")
            except OSError:
                results[i].append("failed")
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    _wait_for(lambda: all(len(r) >= 20 for r in results))
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: victim not in server.worker_pids() and len(server.worker_pids()) == 2)
    done = [len(r) for r in results]
    _wait_for(lambda: all(len(r) >= d + 20 for r, d in zip(results, done, strict=True)))
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    outcomes = [outcome for r in results for outcome in r]
    assert "bad" not in outcomes, outcomes  # no client saw an error status
    for r in results:
        # What one client can lose to the death: the request it had in flight on the victim,
        # and the connection it opened next, if the kernel queued it on the victim's own
        # listening socket (each worker has one, SO_REUSEPORT) just before that socket closed.
        assert r.count("failed") <= 2, r
        # ... and nothing after: once answered again, a client is never cut off.
        if "failed" in r:
            after = r[r.index("failed") :]
            assert "ok" in after and "failed" not in after[after.index("ok") :], r
    assert outcomes.count("ok") >= clients * 40
    assert server.post_json("/v1/predict", {"rows": [ROW]})[0] == 200
    assert "Respawning worker" in server.log()


def test_sigterm_finishes_requests_in_flight_refuses_new_ones_and_exits_0(
    start_server, classifier_path
):
    server = start_server(classifier_path)
    in_flight = []
    for _ in range(3):  # requests whose body is still arriving when SIGTERM comes
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(post_request(BODY)[:-5])
        in_flight.append(sock)
    time.sleep(0.2)  # let the workers take the requests (not a measurement)
    server.process.send_signal(signal.SIGTERM)

    def refused() -> bool:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        return False

    _wait_for(refused)
    for sock in in_flight:
        sock.sendall(post_request(BODY)[-5:])
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        sock.close()
    assert _wait_exit(server) == 0
    assert not ALARMING.search(server.log()), server.log()


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_an_idle_server_stops_cleanly(start_server, regressor_path, how):
    server = start_server(regressor_path)
    assert server.post_json("/v1/predict", {"rows": [ROW]})[0] == 200
    if how == "SIGTERM":
        server.process.send_signal(signal.SIGTERM)
    else:  # a terminal sends SIGINT to the whole foreground process group
        os.killpg(server.process.pid, signal.SIGINT)
    assert _wait_exit(server) == 0
    assert not ALARMING.search(server.log()), server.log()
    assert "Granian shutdown completed" in server.log()


@pytest.mark.parametrize("server_name", ["granian", "gunicorn"])
def test_a_busy_port_is_one_clear_line(start_server, classifier_path, server_name):
    server = start_server(classifier_path, workers=1)
    result = run_cli(
        "serve", str(classifier_path), "--port", str(server.port), "--server", server_name
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"pipeport serve: error: port {server.port} is in use; try --port"
    )
    assert server.post_json("/v1/predict", {"rows": [ROW]})[0] == 200


def test_gunicorn_remains_an_option_and_stops_cleanly(start_server, classifier_path):
    server = start_server(classifier_path, "--server", "gunicorn")
    assert server.post_json("/v1/predict", {"rows": [ROW]})[0] == 200
    assert "gunicorn" in server.log().lower()
    assert stop_server(server) == 0
    assert not ALARMING.search(server.log()), server.log()
