"""The WSGI fast path answers exactly as the Flask views do, and only when it should.

serving.fastpath answers well-formed POST /v1/predict, /invocations and V2 infer requests without
Flask's request machinery and hands every other request (all errors included) to Flask. These
tests send the same requests to an app with the fast path and one without (ServingSettings
fast_path=False, every request through the Flask views) and require the same status, headers
and body bytes; they also check which path answered (tests/serving/test_serving_api.py checks
that /metrics counts each request once, on either path).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from model_builders import CATEGORICAL, NUMERIC
from werkzeug.test import EnvironBuilder, run_wsgi_app

from pipeport.serving.app import ServingSettings, create_app
from pipeport.serving.model import ModelSchema
from pipeport.serving.outputs import OutputFormatter
from pipeport.serving.predlog import LogSettings

ROW = {NUMERIC: 40.0, CATEGORICAL: "Dream"}
TOKEN = "s3cret-token"
JSON = "application/json"


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


# (description, path, body bytes, headers); bodies given as bytes so malformed ones can be sent.
REQUESTS: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("one row", "/v1/predict", _body({"rows": [ROW]}), {}),
    (
        "rows with nulls, unseen and unicode categories",
        "/v1/predict",
        _body(
            {"rows": [ROW, {NUMERIC: None, CATEGORICAL: None}, {NUMERIC: 1e300, CATEGORICAL: "島"}]}
        ),
        {},
    ),
    ("integer value", "/v1/predict", _body({"rows": [{NUMERIC: 41, CATEGORICAL: "Biscoe"}]}), {}),
    (
        "charset parameter",
        "/v1/predict",
        _body({"rows": [ROW]}),
        {"Content-Type": f"{JSON}; charset=utf-8"},
    ),
    (
        "upper-case media type",
        "/v1/predict",
        _body({"rows": [ROW]}),
        {"Content-Type": "Application/JSON"},
    ),
    ("MLflow records", "/invocations", _body({"dataframe_records": [ROW, ROW]}), {}),
    (
        "MLflow split",
        "/invocations",
        _body({"dataframe_split": {"columns": [NUMERIC, CATEGORICAL], "data": [[40.0, "Dream"]]}}),
        {},
    ),
    ("malformed JSON", "/v1/predict", b'{"rows": [', {}),
    ("empty body", "/v1/predict", b"", {}),
    ("whitespace body", "/v1/predict", b"  \n ", {}),
    ("invalid UTF-8", "/v1/predict", b'{"rows": "\xff"}', {}),
    ("NaN token", "/v1/predict", b'{"rows": [{"bill length (mm)": NaN, "island": "Dream"}]}', {}),
    ("array body", "/v1/predict", _body([ROW]), {}),
    ("unknown top-level field", "/v1/predict", _body({"rows": [ROW], "extra": 1}), {}),
    ("missing rows", "/v1/predict", _body({}), {}),
    ("empty batch", "/v1/predict", _body({"rows": []}), {}),
    ("too many rows", "/v1/predict", _body({"rows": [ROW] * 6}), {}),
    (
        "bad rows",
        "/v1/predict",
        _body({"rows": [{NUMERIC: "x", CATEGORICAL: 3}, {"other": 1}, ROW]}),
        {},
    ),
    ("wrong content type", "/v1/predict", _body({"rows": [ROW]}), {"Content-Type": "text/plain"}),
    ("no content type", "/v1/predict", _body({"rows": [ROW]}), {"Content-Type": ""}),
    ("MLflow tensor input", "/invocations", _body({"instances": [[1.0]]}), {}),
    ("too large", "/v1/predict", _body({"rows": [ROW], "pad": "x" * 5000}), {}),
]

V2 = "/v2/models/penguins-test/infer"


def _tensors(numbers: list[Any], strings: list[Any], **extra: Any) -> bytes:
    return _body(
        {
            "inputs": [
                {"name": NUMERIC, "datatype": "FP64", "shape": [len(numbers), 1], "data": numbers},
                {
                    "name": CATEGORICAL,
                    "datatype": "BYTES",
                    "shape": [len(strings)],
                    "data": strings,
                },
            ],
            **extra,
        }
    )


def _binary_request() -> tuple[bytes, dict[str, str]]:
    numeric = np.array([40.0, np.nan], dtype="<f8").tobytes()
    strings = b"".join(len(s).to_bytes(4, "little") + s for s in (b"Dream", b""))
    header = _body(
        {
            "inputs": [
                {
                    "name": NUMERIC,
                    "datatype": "FP64",
                    "shape": [2, 1],
                    "parameters": {"binary_data_size": len(numeric)},
                },
                {
                    "name": CATEGORICAL,
                    "datatype": "BYTES",
                    "shape": [2, 1],
                    "parameters": {"binary_data_size": len(strings)},
                },
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    return header + numeric + strings, {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }


REQUESTS += [
    ("V2 JSON", V2, _tensors([40.0, None, "NaN"], ["Dream", "", None], id="r1"), {}),
    ("V2 versioned", "/v2/models/penguins-test/versions/3/infer", _tensors([1.0], ["x"]), {}),
    ("V2 binary in and out", V2, *_binary_request()),
    ("V2 no content type", V2, _tensors([1.0], ["x"]), {"Content-Type": ""}),
    ("V2 wrong model", "/v2/models/other/infer", _tensors([1.0], ["x"]), {}),
    ("V2 wrong version", "/v2/models/penguins-test/versions/9/infer", _tensors([1.0], ["x"]), {}),
    ("V2 infinity", V2, _tensors([1e999], ["x"]), {}),
    ("V2 gzip", V2, _tensors([1.0], ["x"]), {"Content-Encoding": "gzip"}),
    ("V2 missing input", V2, _body({"inputs": []}), {}),
    ("V2 too many rows", V2, _tensors([1.0] * 6, ["x"] * 6), {}),
]


#: The requests of REQUESTS that are answered (200), and so logged.
ANSWERED = {
    "one row",
    "rows with nulls, unseen and unicode categories",
    "integer value",
    "charset parameter",
    "upper-case media type",
    "MLflow records",
    "MLflow split",
    "V2 JSON",
    "V2 versioned",
    "V2 binary in and out",
    "V2 no content type",
}


def _apps(path: Path, **settings: Any) -> tuple[Any, Any]:
    limits = {"max_rows": 5, "max_body_bytes": 4096, **settings}
    fast = create_app(path, ServingSettings(**limits))
    slow = create_app(path, ServingSettings(fast_path=False, **limits))
    return fast, slow


def _flask_calls(app: Any) -> list[str]:
    """Record every request that reaches Flask's request handling."""
    calls: list[str] = []

    @app.before_request
    def seen() -> None:
        from flask import request

        calls.append(request.path)

    return calls


def _send(app: Any, path: str, data: bytes, headers: dict[str, str]) -> Any:
    # the same X-Request-ID to both apps (they would each make up their own otherwise)
    headers = {"Content-Type": JSON, "X-Request-ID": "test-request-7", **headers}
    if headers["X-Request-ID"] == "":
        del headers["X-Request-ID"]
    if headers["Content-Type"] == "":
        del headers["Content-Type"]
    return app.test_client().post(path, data=data, headers=headers)


def _answer(response: Any) -> tuple[int, dict[str, str], bytes]:
    return response.status_code, dict(response.headers), response.get_data()


@pytest.mark.parametrize(
    ("what", "path", "data", "headers"), REQUESTS, ids=[r[0] for r in REQUESTS]
)
def test_fast_path_answers_byte_for_byte_as_flask(classifier_path, what, path, data, headers):
    fast, slow = _apps(classifier_path)
    assert _answer(_send(fast, path, data, headers)) == _answer(_send(slow, path, data, headers))


def test_both_paths_make_up_an_id_of_the_same_form_when_the_client_sends_none(
    classifier_path,
):
    fast, slow = _apps(classifier_path)
    for path, data in [
        ("/v1/predict", _body({"rows": [ROW]})),  # the fast path answers
        ("/v1/predict", _body({"rows": []})),  # Flask answers (an error)
    ]:
        got = [_answer(_send(app, path, data, {"X-Request-ID": ""})) for app in (fast, slow)]
        ids = [answer[1].pop("X-Request-ID") for answer in got]
        assert got[0] == got[1]
        assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids), ids
        assert ids[0] != ids[1]


def test_fast_path_logs_and_counts_drift_exactly_as_flask(classifier_path, tmp_path):
    """Every request of REQUESTS to both apps, each logging to its own folder: the same lines
    (but for the time), in the same order, and the same drift counters in /metrics."""
    limits = {"max_rows": 5, "max_body_bytes": 4096}
    fast = create_app(
        classifier_path, ServingSettings(log=LogSettings(tmp_path / "fast"), **limits)
    )
    slow = create_app(
        classifier_path,
        ServingSettings(fast_path=False, log=LogSettings(tmp_path / "slow"), **limits),
    )
    for n, (_what, path, data, headers) in enumerate(REQUESTS):
        for app in (fast, slow):
            _send(app, path, data, {"X-Request-ID": f"request-{n}", **headers})
    lines = {}
    for name, app in (("fast", fast), ("slow", slow)):
        state = app.extensions["pipeport"]
        state.close()
        (log_file,) = (tmp_path / name).glob("*.jsonl")
        entries = [json.loads(line) for line in log_file.read_text().splitlines()]
        for entry in entries:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entry.pop("time"))
        lines[name] = entries
    answered = [what for what, *_ in REQUESTS if what in ANSWERED]
    assert [e["id"] for e in lines["fast"]] == [
        f"request-{n}" for n, (what, *_) in enumerate(REQUESTS) if what in answered
    ]
    assert lines["fast"] == lines["slow"]

    def drift(app: Any) -> list[str]:
        text = app.test_client().get("/metrics").get_data(as_text=True)
        return [line for line in text.splitlines() if line.startswith("pipeport_drift_")]

    assert drift(fast) == drift(slow)
    # unseen islands: "島" (v1) and "x" (two V2 requests); the control that drift was counted
    assert 'pipeport_drift_unseen_category_total{column="island"} 3' in drift(fast)


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer wrong", f"Bearer {TOKEN}", f"bearer {TOKEN}", f"Bearer {TOKEN} "],
    ids=["none", "wrong", "right", "lower-case scheme", "trailing space"],
)
def test_fast_path_and_flask_agree_on_bearer_tokens(classifier_path, auth):
    fast, slow = _apps(classifier_path, auth_token=TOKEN)
    headers = {} if auth is None else {"Authorization": auth}
    data = _body({"rows": [ROW]})
    got = _answer(_send(fast, "/v1/predict", data, headers))
    assert got == _answer(_send(slow, "/v1/predict", data, headers))
    assert got[0] == (200 if auth == f"Bearer {TOKEN}" else 401)


def test_regression_and_integer_labels_agree(regressor_path, int_classifier_path):
    for path in (regressor_path, int_classifier_path):
        fast, slow = _apps(path)
        for route, data in [
            ("/v1/predict", _body({"rows": [ROW, {NUMERIC: None, CATEGORICAL: None}]})),
            ("/invocations", _body({"dataframe_records": [ROW]})),
        ]:
            assert _answer(_send(fast, route, data, {})) == _answer(_send(slow, route, data, {}))


def test_a_valid_prediction_does_not_reach_flask_and_an_error_does(classifier_path):
    fast, slow = _apps(classifier_path)
    fast_calls, slow_calls = _flask_calls(fast), _flask_calls(slow)
    _send(fast, "/v1/predict", _body({"rows": [ROW]}), {})
    _send(fast, "/invocations", _body({"dataframe_records": [ROW]}), {})
    _send(fast, V2, _tensors([1.0], ["x"]), {})
    assert fast_calls == []
    _send(fast, "/v1/predict", _body({"rows": []}), {})
    _send(fast, "/v1/predict", _body({"rows": [ROW]}), {"Content-Type": "text/plain"})
    assert fast_calls == ["/v1/predict", "/v1/predict"]
    _send(slow, "/v1/predict", _body({"rows": [ROW]}), {})
    assert slow_calls == ["/v1/predict"]


def test_a_body_without_content_length_goes_through_flask(classifier_path):
    """A chunked request reaches the app with no CONTENT_LENGTH (gunicorn sets
    wsgi.input_terminated): the fast path leaves it to Flask, which reads it to the end."""
    fast, slow = _apps(classifier_path)
    calls = _flask_calls(fast)
    data = _body({"rows": [ROW]})
    answers = []
    for app in (fast, slow):
        environ = EnvironBuilder(
            path="/v1/predict",
            method="POST",
            data=data,
            content_type=JSON,
            headers={"X-Request-ID": "chunked-1"},
        ).get_environ()
        del environ["CONTENT_LENGTH"]
        environ["wsgi.input_terminated"] = True
        body, status, headers = run_wsgi_app(app, environ, buffered=True)
        answers.append((status, dict(headers), b"".join(body)))
    assert answers[0] == answers[1]
    assert answers[0][0] == "200 OK"
    assert calls == ["/v1/predict"]


# -- OutputFormatter.predictions_json: the same text as json.dumps(predictions(...)) -------------


def _schema(task: str, classes: tuple[Any, ...] = ()) -> ModelSchema:
    outputs = (
        {"label": "label", "probabilities": "probabilities"}
        if task == "classification"
        else {"prediction": "prediction"}
    )
    return ModelSchema(
        name="m", version="1", task=task, inputs=(), outputs=outputs, classes=classes
    )


def _reference(formatter: OutputFormatter, outputs: list[np.ndarray]) -> str:
    return json.dumps(
        formatter.predictions(outputs), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


@pytest.mark.parametrize(
    "classes",
    [
        ("Adelie", "Chinstrap", "Gentoo"),
        ('say "hi"', "100%", "%s%r", "back\\slash", "島", "tab\there"),
        (1, 5, 7),
        (-3, 0),
    ],
    ids=["names", "awkward names", "ints", "negative ints"],
)
def test_classification_text_is_json_dumps_text(classes):
    formatter = OutputFormatter(_schema("classification", classes))
    rng = np.random.default_rng(0)
    label_dtype = object if isinstance(classes[0], str) else np.int64
    for n in (1, 7):
        probabilities = rng.dirichlet(np.ones(len(classes)), size=n)
        probabilities[0, 0] = 1e-300
        labels = np.array([classes[i % len(classes)] for i in range(n)], dtype=label_dtype)
        outputs = [labels, probabilities]
        text = formatter.predictions_json(outputs)
        assert text == _reference(formatter, outputs)
        assert json.loads(text) == formatter.predictions(outputs)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_outputs_become_null_as_in_the_general_path(bad):
    formatter = OutputFormatter(_schema("classification", ("a", "b")))
    outputs = [np.array(["a", "b"], dtype=object), np.array([[0.5, 0.5], [bad, 0.5]])]
    text = formatter.predictions_json(outputs)
    assert text == _reference(formatter, outputs)
    assert json.loads(text)[1]["probabilities"]["a"] is None
    regression = OutputFormatter(_schema("regression"))
    values = [np.array([[1.5], [bad], [-0.0]])]
    assert regression.predictions_json(values) == _reference(regression, values)
    assert json.loads(regression.predictions_json(values))[1]["prediction"] is None


def test_a_label_outside_the_classes_takes_the_general_path():
    formatter = OutputFormatter(_schema("classification", ("a", "b")))
    outputs = [np.array(["zzz"], dtype=object), np.array([[0.25, 0.75]])]
    assert formatter.predictions_json(outputs) == _reference(formatter, outputs)


def test_regression_text_is_json_dumps_text():
    formatter = OutputFormatter(_schema("regression"))
    values = np.random.default_rng(1).normal(scale=1e6, size=(9, 1))
    values[0, 0] = 5e-324
    assert formatter.predictions_json([values]) == _reference(formatter, [values])
