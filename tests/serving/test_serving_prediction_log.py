"""The prediction log (`pipeport serve --log-predictions DIR`), X-Request-ID, drift counters and
the shadow model: in-process (rotation, sampling, a full queue, a late request) and with real
servers on loopback (granian and gunicorn workers, SIGTERM under load, /metrics shared by the
workers). Bounded loops; no test asserts a duration.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import onnx
import pytest
from model_builders import CATEGORICAL, CLASSES, NUMERIC, expected_classifier
from serving_testkit import post_request, read_response, run_cli

from pipeport.serving import predlog
from pipeport.serving.app import ServingSettings, create_app
from pipeport.serving.predlog import LogSettings

ROW = {NUMERIC: 40.0, CATEGORICAL: "Dream"}


def entries(directory: Path) -> list[dict[str, Any]]:
    """Every logged request in `directory`, file by file (each line must be complete JSON)."""
    out = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            out.append(json.loads(line))
    return out


def _approx(prediction: dict[str, Any]) -> dict[str, Any]:
    return {**prediction, "probabilities": pytest.approx(prediction["probabilities"], abs=1e-12)}


def _post(app: Any, rows: list[dict[str, Any]], rid: str | None = None) -> Any:
    headers = {"X-Request-ID": rid} if rid else {}
    return app.test_client().post("/v1/predict", json={"rows": rows}, headers=headers)


# -- in process ---------------------------------------------------------------------------------


def test_a_logged_line_holds_id_time_model_rows_as_received_and_predictions(
    classifier_path, tmp_path
):
    app = create_app(classifier_path, ServingSettings(log=LogSettings(tmp_path)))
    rows = [ROW, {NUMERIC: None, CATEGORICAL: None}]
    response = _post(app, rows, "my-id-1")
    state = app.extensions["pipeport"]
    state.close()
    (entry,) = entries(tmp_path)
    assert entry["id"] == "my-id-1" == response.headers["X-Request-ID"]
    assert entry["model"] == {"name": "penguins-test", "version": "3", "sha256": state.model.sha256}
    assert entry["endpoint"] == "predict"
    assert entry["rows"] == rows
    assert entry["predictions"] == response.get_json()["predictions"]
    assert entry["predictions"][0] == _approx(expected_classifier(40.0, "Dream", CLASSES))
    assert list(entry) == ["id", "time", "model", "endpoint", "rows", "predictions"]
    # the model's metadata beside the logs: a log can be replayed with the log alone
    document = json.loads((tmp_path / "models" / f"{state.model.sha256}.json").read_text())
    assert document["metadata"]["inputs"][0]["name"] == NUMERIC


def test_files_rotate_by_size_and_keep_every_request(classifier_path, tmp_path):
    settings = ServingSettings(log=LogSettings(tmp_path, max_bytes=1500))
    app = create_app(classifier_path, settings)
    for n in range(40):
        assert _post(app, [ROW], f"r{n}").status_code == 200
    app.extensions["pipeport"].close()
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) > 3
    for path in files:
        size = path.stat().st_size
        assert size <= 1500, (path, size)
    assert [e["id"] for e in entries(tmp_path)] == [f"r{n}" for n in range(40)]


def test_the_sample_rate_draws_each_request(classifier_path, tmp_path, monkeypatch):
    draws = iter([0.1, 0.9, 0.29, 0.3, 0.0])
    monkeypatch.setattr(predlog.random, "random", lambda: next(draws))
    app = create_app(classifier_path, ServingSettings(log=LogSettings(tmp_path, sample=0.3)))
    for n in range(5):
        assert _post(app, [ROW], f"r{n}").status_code == 200
    app.extensions["pipeport"].close()
    assert [e["id"] for e in entries(tmp_path)] == ["r0", "r2", "r4"]


def test_a_full_queue_drops_and_counts_instead_of_waiting(classifier_path, tmp_path):
    # the writer would wake only after an hour: the queue fills, then requests are dropped
    log = LogSettings(tmp_path, queue_size=3, flush_interval_s=3600)
    app = create_app(classifier_path, ServingSettings(log=log))
    for n in range(5):
        assert _post(app, [ROW], f"r{n}").status_code == 200
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert "pipeport_prediction_log_dropped_total 2" in metrics
    assert "pipeport_prediction_log_written_total 0" in metrics
    app.extensions["pipeport"].close()  # SIGTERM's last write
    assert [e["id"] for e in entries(tmp_path)] == ["r0", "r1", "r2"]
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert "pipeport_prediction_log_written_total 3" in metrics


def test_a_request_answered_after_close_is_still_written(classifier_path, tmp_path):
    app = create_app(classifier_path, ServingSettings(log=LogSettings(tmp_path)))
    assert _post(app, [ROW], "before").status_code == 200
    app.extensions["pipeport"].close()
    assert _post(app, [ROW], "after").status_code == 200
    assert [e["id"] for e in entries(tmp_path)] == ["before", "after"]


def test_errors_are_not_logged_and_every_endpoint_logs_rows(classifier_path, tmp_path):
    app = create_app(classifier_path, ServingSettings(log=LogSettings(tmp_path)))
    client = app.test_client()
    assert _post(app, []).status_code == 400
    assert _post(app, [{NUMERIC: "x", CATEGORICAL: "Dream"}]).status_code == 422
    assert client.post("/invocations", json={"dataframe_records": [ROW]}).status_code == 200
    v2 = {
        "inputs": [
            {"name": NUMERIC, "datatype": "FP64", "shape": [2, 1], "data": [40.0, None]},
            {"name": CATEGORICAL, "datatype": "BYTES", "shape": [2, 1], "data": ["Dream", ""]},
        ]
    }
    assert client.post("/v2/models/penguins-test/infer", json=v2).status_code == 200
    app.extensions["pipeport"].close()
    logged = entries(tmp_path)
    assert [e["endpoint"] for e in logged] == ["invocations", "v2_infer"]
    assert logged[0]["rows"] == [ROW]
    # tensors as rows: NaN (missing) is null, "" as sent
    assert logged[1]["rows"] == [ROW, {NUMERIC: None, CATEGORICAL: ""}]
    assert logged[1]["predictions"][1] == _approx(expected_classifier(None, None, CLASSES))


def test_a_client_request_id_is_kept_only_when_it_is_a_plain_token(classifier_path):
    app = create_app(classifier_path)
    for sent, kept in [("abc-123_X.y:z", True), ("a b", False), ("x" * 201, False), ("é", False)]:
        got = _post(app, [ROW], sent).headers["X-Request-ID"]
        assert (got == sent) is kept, (sent, got)
        assert kept or re.fullmatch(r"[0-9a-f]{32}", got)


def test_a_log_folder_that_cannot_be_written_is_one_line_at_start(classifier_path, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli("serve", str(classifier_path), "--log-predictions", str(blocker / "logs"))
    assert result.returncode == 2
    assert result.stderr.startswith("pipeport serve: error: cannot write prediction logs to ")
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("serve", str(classifier_path), "--shadow", str(classifier_path))
    assert result.returncode == 2
    assert "--shadow needs --log-predictions" in result.stderr


# -- real servers -------------------------------------------------------------------------------


def _request(port: int, rid: str, sock: socket.socket | None) -> tuple[int, str, socket.socket]:
    """POST one row with X-Request-ID on `sock` (a new connection when None)."""
    if sock is None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = json.dumps({"rows": [ROW]}).encode()
    sock.sendall(post_request(body, extra=f"X-Request-ID: {rid}\r\n"))
    response = read_response(sock)
    if not response:
        raise ConnectionResetError("closed without an answer")
    head = response.split(b"\r\n\r\n", 1)[0].decode()
    status = int(head.split(" ", 2)[1])
    echoed = re.search(r"(?im)^x-request-id: *(\S+)", head)
    return status, echoed.group(1) if echoed else "", sock


def _wait_for(condition: Any, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


@pytest.mark.parametrize("server_name", ["granian", "gunicorn"])
def test_sigterm_under_load_loses_no_logged_request(
    start_server, classifier_path, tmp_path, server_name
):
    logs = tmp_path / "logs"
    server = start_server(
        classifier_path,
        "--server",
        server_name,
        "--log-predictions",
        str(logs),
        "--log-max-bytes",
        "20000",
    )
    workers = set(server.worker_pids())
    clients = 6
    answered: list[list[str]] = [[] for _ in range(clients)]
    echoed_wrong: list[str] = []
    refused = threading.Event()

    def client(i: int) -> None:
        sock, n = None, 0
        while True:
            rid = f"client{i}-{n}"
            n += 1
            try:
                status, echoed, sock = _request(server.port, rid, sock)
            except ConnectionRefusedError:
                refused.set()
                return  # the server has stopped accepting
            except OSError:
                if sock is not None:
                    sock.close()
                sock = None
                continue
            if status == 200:
                answered[i].append(rid)
            if echoed != rid:
                echoed_wrong.append(f"{rid} -> {echoed}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    _wait_for(lambda: all(len(a) >= 30 for a in answered))
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
    for thread in threads:
        thread.join(timeout=60)
    assert refused.is_set()
    assert not echoed_wrong, echoed_wrong[:5]
    logged = [e["id"] for e in entries(logs)]
    assert len(logged) == len(set(logged))  # each request once
    every = {rid for a in answered for rid in a}
    assert every <= set(logged), sorted(every - set(logged))[:10]
    files = list(logs.glob("*.jsonl"))
    assert len(files) > len(workers)  # rotated under load
    assert {int(f.name.split("-")[2]) for f in files} <= workers  # one writer per worker


def test_drift_counters_are_summed_over_workers(start_server, classifier_path):
    server = start_server(classifier_path)  # 2 workers
    requests = 40
    for n in range(requests):  # a new connection each: spread over both workers
        body = json.dumps({"rows": [{NUMERIC: 1e6 if n % 2 else None, CATEGORICAL: "Mars"}]})
        request = urllib.request.Request(
            f"{server.url}/v1/predict",
            data=body.encode(),
            headers={"Content-Type": "application/json", "Connection": "close"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    for _ in range(5):  # any worker answers a scrape, with the same totals
        metrics = server.get("/metrics")[1].decode()
        assert f'pipeport_drift_missing_total{{column="{NUMERIC}"}} 20' in metrics
        assert f'pipeport_drift_out_of_range_total{{column="{NUMERIC}",side="above"}} 20' in (
            metrics
        )
        assert f'pipeport_drift_unseen_category_total{{column="{CATEGORICAL}"}} 40' in metrics
        assert f'pipeport_drift_missing_total{{column="{CATEGORICAL}"}} 0' in metrics


def _refusing_missing_islands(source: Path, target: Path) -> Path:
    """The same graph, whose contract refuses a missing island: a shadow that fails on some rows."""
    model = onnx.load(str(source))
    (entry,) = [e for e in model.metadata_props if e.key == "pipeport"]
    meta = json.loads(entry.value)
    meta["format_version"] = 2
    meta["version"] = "4"
    for spec in meta["inputs"]:
        if spec["name"] == CATEGORICAL:
            spec["missing_allowed"] = False
    entry.value = json.dumps(meta)
    target.write_bytes(model.SerializeToString())
    return target


def test_a_shadow_model_is_logged_beside_the_answer_and_never_changes_it(
    start_server, int_classifier_path, classifier_path, tmp_path
):
    shadow = _refusing_missing_islands(int_classifier_path, tmp_path / "shadow.onnx")
    logs = tmp_path / "logs"
    server = start_server(
        classifier_path, "--log-predictions", str(logs), "--shadow", str(shadow), workers=1
    )
    missing_island = {NUMERIC: 30.0, CATEGORICAL: None}
    for rows in ([ROW], [missing_island], [ROW, ROW]):
        status, body = server.post_json("/v1/predict", {"rows": rows})
        assert status == 200, body
        predictions = json.loads(body)["predictions"]
        assert predictions[0]["label"] in CLASSES  # the served model's, whatever the shadow did

    def metrics() -> str:
        return server.get("/metrics")[1].decode()

    _wait_for(lambda: "pipeport_prediction_log_written_total 3" in metrics())
    assert 'pipeport_shadow_total{outcome="answered"} 2' in metrics()
    assert 'pipeport_shadow_total{outcome="failed"} 1' in metrics()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    first, refused, pair = entries(logs)
    assert first["shadow"]["model"]["version"] == "4"
    assert first["shadow"]["predictions"] == [
        _approx(expected_classifier(40.0, "Dream", [1, 5, 7]))
    ]
    assert first["predictions"] == [_approx(expected_classifier(40.0, "Dream", CLASSES))]
    assert "predictions" not in refused["shadow"]
    assert "a value is required" in refused["shadow"]["error"]
    assert refused["predictions"][0]["label"] in CLASSES
    assert len(pair["shadow"]["predictions"]) == 2
    sha = {p.stem for p in (logs / "models").glob("*.json")}
    assert sha == {first["shadow"]["model"]["sha256"], first["model"]["sha256"]}


@pytest.mark.parametrize("server_name", ["granian", "gunicorn"])
def test_every_answer_over_http_carries_the_request_id(start_server, classifier_path, server_name):
    server = start_server(
        classifier_path, "--server", server_name, "--max-body-bytes", "2000", workers=1
    )
    good = json.dumps({"rows": [ROW]}).encode()
    bad = json.dumps({"rows": [{NUMERIC: "x", CATEGORICAL: "Dream"}]}).encode()
    cases = [
        (post_request(good), 200),  # the fast path
        (post_request(bad), 422),  # Flask
        (post_request(good, path="/nowhere"), 404),
        (post_request(b"x" * 3000), 413),  # refused from Content-Length, before the app
        (b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", 200),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 200),
    ]
    for n, (request, status) in enumerate(cases):
        request_line, _, rest = request.partition(b"\r\n")
        for sent in (f"case-{n}", None):
            extra = f"X-Request-ID: {sent}\r\n".encode() if sent else b""
            data = request_line + b"\r\n" + extra + rest
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(data)
                response = read_response(sock).split(b"\r\n\r\n", 1)[0].decode()
            assert response.startswith(f"HTTP/1.1 {status}"), (n, response)
            echoed = re.search(r"(?im)^x-request-id: *(\S+)", response)
            assert echoed is not None, (n, response)
            if sent:
                assert echoed.group(1) == sent
            else:
                assert re.fullmatch(r"[0-9a-f]{32}", echoed.group(1))
