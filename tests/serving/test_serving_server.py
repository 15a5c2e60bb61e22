"""A real `pipeport serve` (gunicorn, 2 workers, loopback): what only a real process shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from model_builders import CATEGORICAL, NUMERIC
from serving_testkit import http, run_cli, stop_server

ROW = {NUMERIC: 40.0, CATEGORICAL: "Dream"}
FORBIDDEN_LIBRARIES = ("sklearn", "scikit_learn", "pandas", "scipy", "skl2onnx")


def test_serves_predictions(classifier_server):
    status, body = classifier_server.post_json("/v1/predict", {"rows": [ROW]})
    assert status == 200
    assert b'"label":"Adelie"' in body


def test_workers_have_no_sklearn_pandas_or_scipy_loaded(classifier_server):
    # Make sure each worker has served a prediction, so everything lazy has been imported.
    for _ in range(6):
        classifier_server.post_json("/v1/predict", {"rows": [ROW]})
        classifier_server.post_json(
            "/v2/models/penguins-test/infer",
            {
                "inputs": [
                    {"name": NUMERIC, "datatype": "FP64", "shape": [1, 1], "data": [1.0]},
                    {"name": CATEGORICAL, "datatype": "BYTES", "shape": [1, 1], "data": ["a"]},
                ]
            },
        )
    pids = classifier_server.worker_pids()
    assert len(pids) == 2
    for pid in [classifier_server.process.pid, *pids]:
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert "onnxruntime" in maps  # the check can see shared objects at all
        for library in FORBIDDEN_LIBRARIES:
            assert f"/{library}/" not in maps, f"{library} is mapped into process {pid}"


def test_bad_requests_never_500_and_the_server_keeps_serving(classifier_server):
    url = classifier_server.url
    bad = [
        ("POST", "/v1/predict", b'{"rows": [', {"Content-Type": "application/json"}),
        ("POST", "/v1/predict", b"\xff\xfe", {"Content-Type": "application/json"}),
        ("POST", "/v1/predict", b"[" * 200_000, {"Content-Type": "application/json"}),
        ("POST", "/v1/predict", b'{"rows": [{"x": NaN}]}', {"Content-Type": "application/json"}),
        ("POST", "/v1/predict", b'{"rows": []}', {"Content-Type": "text/csv"}),
        ("POST", "/invocations", b'{"dataframe_records": 3}', {"Content-Type": "application/json"}),
        ("POST", "/v2/models/penguins-test/infer", b"{}", {}),
        (
            "POST",
            "/v2/models/penguins-test/infer",
            b"{}",
            {"Inference-Header-Content-Length": "999"},
        ),
        ("GET", "/v2/models/nope", None, {}),
        ("PUT", "/v1/predict", b"{}", {}),
        ("GET", "/etc/passwd", None, {}),
    ]
    for method, path, body, headers in bad:
        status, data = http(method, url + path, body, headers)
        assert 400 <= status < 500, (path, status, data[:200])
        assert b"Traceback" not in data
        assert b'"error"' in data
    status, _ = classifier_server.post_json("/v1/predict", {"rows": [ROW] * 101})
    assert status == 413
    status, _ = classifier_server.post_json("/v1/predict", {"rows": [ROW]})
    assert status == 200
    assert "Traceback" not in classifier_server.log()


def test_metrics_are_summed_over_workers(start_server, classifier_path):
    server = start_server(classifier_path)
    for _ in range(40):  # new connection each time, so both workers take requests
        assert server.post_json("/v1/predict", {"rows": [ROW, ROW]})[0] == 200
    # Ask several times: whichever worker answers, the totals are the same.
    for _ in range(4):
        status, body = server.get("/metrics")
        text = body.decode()
        assert status == 200
        assert 'pipeport_http_requests_total{endpoint="predict",status="200"} 40' in text
        assert "pipeport_rows_predicted_total 80" in text
    assert re.search(r"pipeport_workers_reporting [12]\b", text)


def test_auth_token_file(start_server, classifier_path, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("t0ken-123\n")
    server = start_server(classifier_path, "--auth-token-file", str(token_file), workers=1)
    assert server.post_json("/v1/predict", {"rows": [ROW]})[0] == 401
    status, _ = http(
        "POST",
        server.url + "/v1/predict",
        b'{"rows": [' + b"{}" + b"]}",
        {"Content-Type": "application/json", "Authorization": "Bearer t0ken-123"},
    )
    assert status == 422  # past the auth check
    assert server.get("/healthz")[0] == 200
    assert server.get("/metrics")[0] == 200


def test_shutdown_exits_0(start_server, regressor_path):
    server = start_server(regressor_path, workers=1)
    assert server.post_json("/v1/predict", {"rows": [ROW]})[0] == 200
    assert stop_server(server) == 0


@pytest.mark.parametrize(
    "make_file, reason",
    [
        (lambda d: d / "missing.onnx", "not found"),
        (
            lambda d: (d / "corrupt.onnx").write_bytes(b"not a model") and d / "corrupt.onnx",
            "not a valid ONNX model",
        ),
        (lambda d: d, "is a directory"),
    ],
)
def test_serve_refuses_a_bad_file_with_one_line(tmp_path, make_file, reason):
    result = run_cli("serve", str(make_file(tmp_path)), "--port", "0")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert reason in lines[0]
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_model_without_pipeport_metadata(foreign_model_path):
    result = run_cli("serve", str(foreign_model_path), "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no 'pipeport' metadata" in result.stderr


def test_serve_help_lists_the_options():
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for option in (
        "--host",
        "--port",
        "--workers",
        "--auth-token-file",
        "--max-rows",
        "--max-body-bytes",
    ):
        assert option in result.stdout
