"""The front door of a real `pipeport serve` (granian, loopback): slow clients, limits enforced
before the app runs, keep-alive, and the same answers as the Flask app itself.

Every client here is bounded in count and time; nothing asserts a duration.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from model_builders import CATEGORICAL, NUMERIC
from serving_testkit import post_request, raw_request, read_response

ROW = {NUMERIC: 40.0, CATEGORICAL: "Dream"}
BODY = json.dumps({"rows": [ROW]}).encode()


def _status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response[9:12])


def _body(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


def _good_requests(port: int, n: int) -> list[int]:
    return [
        _status(raw_request(port, post_request(BODY, extra="Connection: close\r\n")))
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def server(start_server, classifier_path):
    return start_server(
        classifier_path,
        "--max-body-bytes",
        "4096",
        "--max-rows",
        "5",
        "--body-timeout",
        "1",
        "--header-timeout",
        "2",
        "--max-header-bytes",
        "16384",
    )


def test_good_requests_are_answered_while_200_clients_trickle_their_headers(server):
    """Slowloris: 200 connections each sending a header line at a time, slowly."""
    stop = threading.Event()
    sockets = []
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: test\r\n")
        sockets.append(sock)

    def trickle() -> None:
        line = 0
        while not stop.wait(0.25):
            line += 1
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(f"X-Slow-{line}: {line}\r\n".encode())

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        statuses = _good_requests(server.port, 30)
    finally:
        stop.set()
        thread.join()
        for sock in sockets:
            sock.close()
    assert statuses == [200] * 30


def test_good_requests_are_answered_while_clients_trickle_their_bodies(server):
    sockets = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(post_request(BODY)[:-10])  # all but the last 10 bytes of the body
        sockets.append(sock)
    try:
        assert _good_requests(server.port, 30) == [200] * 30
    finally:
        for sock in sockets:
            sock.close()


def test_a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(post_request(BODY)[:-10])
        response = read_response(sock)
        assert _status(response) == 408
        assert json.loads(_body(response))["error"]["code"] == "body_timeout"
        assert sock.recv(100) == b""  # closed by the server


def test_headers_that_do_not_arrive_in_time_close_the_connection(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: test\r\n")
        data = sock.recv(1000)
        # hyper answers 408 or just closes; either way nothing reached the app.
        assert data == b"" or data.startswith(b"HTTP/1.1 408")
    assert "Traceback" not in server.log()


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(server):
    head = (
        b"POST /v1/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000000\r\n\r\n"
    )
    response = raw_request(server.port, head)  # no body is ever sent
    assert _status(response) == 413
    assert json.loads(_body(response))["error"]["code"] == "body_too_large"


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(server):
    chunk = b"x" * 3000
    request = (
        b"POST /v1/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2
        + b"0\r\n\r\n"
    )
    response = raw_request(server.port, request)
    assert _status(response) == 413
    assert json.loads(_body(response))["error"]["code"] == "body_too_large"


def test_a_chunked_body_within_the_limit_is_answered(server):
    request = (
        b"POST /v1/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n"
    )
    assert _status(raw_request(server.port, request)) == 200


def test_headers_over_the_limit_never_reach_the_app(server):
    request = post_request(BODY, extra=f"X-Big: {'y' * 40000}\r\n")
    try:
        response = raw_request(server.port, request)
    except ConnectionResetError:
        response = b""
    assert response == b"" or _status(response) == 431
    assert _good_requests(server.port, 1) == [200]


def test_too_many_rows_is_413_before_any_row_is_validated(server):
    body = json.dumps({"rows": [{"not a column": 1}] * 6}).encode()
    response = raw_request(server.port, post_request(body))
    assert _status(response) == 413
    assert json.loads(_body(response))["error"]["code"] == "too_many_rows"


def test_a_kept_alive_connection_serves_many_requests(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(20):
            sock.sendall(post_request(BODY))
            response = read_response(sock)
            assert _status(response) == 200
            assert b"connection: close" not in response.lower()


def test_64_concurrent_connections_get_no_errors(server):
    def client(_: int) -> list[int]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            statuses = []
            for _ in range(25):
                sock.sendall(post_request(BODY))
                statuses.append(_status(read_response(sock)))
            return statuses

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(client, range(64)))
    assert [s for statuses in results for s in statuses] == [200] * 64 * 25


# The answers over HTTP are the Flask app's answers: same status, media type and bytes.
CASES = [
    ("POST", "/v1/predict", BODY, "application/json"),
    ("POST", "/v1/predict", b'{"rows": [', "application/json"),
    ("POST", "/v1/predict", json.dumps({"rows": [{"x": 1}]}).encode(), "application/json"),
    ("POST", "/v1/predict", BODY, "text/plain"),
    ("POST", "/invocations", json.dumps({"dataframe_records": [ROW]}).encode(), "application/json"),
    (
        "POST",
        "/v2/models/penguins-test/infer",
        json.dumps(
            {
                "inputs": [
                    {"name": NUMERIC, "datatype": "FP64", "shape": [1, 1], "data": [1e999]},
                    {"name": CATEGORICAL, "datatype": "BYTES", "shape": [1, 1], "data": ["a"]},
                ]
            }
        ).encode(),
        "application/json",
    ),
    ("GET", "/metadata", b"", ""),
    ("GET", "/v2/models/penguins-test", b"", ""),
    ("GET", "/nope?x=1", b"", ""),
    ("PUT", "/v1/predict", b"{}", "application/json"),
]


@pytest.mark.parametrize(("method", "path", "body", "content_type"), CASES)
def test_http_answers_equal_the_flask_apps(
    server, make_client, classifier_path, method, path, body, content_type
):
    flask = make_client(classifier_path, max_body_bytes=4096, max_rows=5).open(
        path,
        method=method,
        data=body,
        headers={"Content-Type": content_type} if content_type else {},
    )
    head = f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    response = raw_request(server.port, head.encode() + b"\r\n" + body)
    assert _status(response) == flask.status_code
    assert _body(response) == flask.get_data()
    content_types = [
        line.split(b":", 1)[1].strip().decode()
        for line in response.partition(b"\r\n\r\n")[0].split(b"\r\n")
        if line.lower().startswith(b"content-type:")
    ]
    assert content_types == [flask.headers["Content-Type"]]


def test_metrics_count_requests_refused_before_the_app(server):
    raw_request(
        server.port,
        b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n",
    )
    time.sleep(0)  # the count is written before the answer is sent
    text = server.get("/metrics")[1].decode()
    assert 'pipeport_http_requests_total{endpoint="other",status="413"}' in text


def test_a_header_spelt_with_underscores_cannot_pass_for_another(server):
    """`Inference_Header_Content_Length` must not be read as `Inference-Header-Content-Length`
    (both would be the same WSGI environ key)."""
    body = json.dumps({"inputs": []}).encode()  # refused: answered by Flask, through WSGI
    request = post_request(
        body, "/v2/models/penguins-test/infer", "Inference_Header_Content_Length: 5\r\n"
    )
    error = json.loads(_body(raw_request(server.port, request)))
    assert error["code"] == "invalid_body"  # not malformed_json from reading 5 bytes as JSON
    assert "inputs" in error["error"]
