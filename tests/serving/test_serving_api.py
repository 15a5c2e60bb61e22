"""The HTTP API through Flask's test client: predictions, MLflow bodies, documents, errors."""

from __future__ import annotations

import hashlib
import json

import pytest
from model_builders import CATEGORICAL, CLASSES, INT_CLASSES, NUMERIC, expected_classifier
from openapi_spec_validator import validate

ROW = {NUMERIC: 40.0, CATEGORICAL: "Dream"}


def test_predict_returns_model_info_and_one_prediction_per_row_in_order(client, classifier_path):
    rows = [ROW, {NUMERIC: None, CATEGORICAL: None}, {NUMERIC: 55.0, CATEGORICAL: "Nowhere"}]
    response = client.post("/v1/predict", json={"rows": rows})
    assert response.status_code == 200
    body = response.get_json()
    assert body["model"] == {
        "name": "penguins-test",
        "version": "3",
        "sha256": hashlib.sha256(classifier_path.read_bytes()).hexdigest(),
    }
    assert len(body["predictions"]) == 3
    for row, prediction in zip(rows, body["predictions"], strict=True):
        expected = expected_classifier(row[NUMERIC], row[CATEGORICAL], CLASSES)
        assert prediction["label"] == expected["label"]
        assert list(prediction["probabilities"]) == CLASSES
        for key, p in expected["probabilities"].items():
            assert prediction["probabilities"][key] == pytest.approx(p, abs=1e-12)


def test_integer_class_labels_stay_integers_and_keys_are_strings(make_client, int_classifier_path):
    body = make_client(int_classifier_path).post("/v1/predict", json={"rows": [ROW]}).get_json()
    prediction = body["predictions"][0]
    assert prediction["label"] == 1
    assert list(prediction["probabilities"]) == [str(c) for c in INT_CLASSES]


def test_regression_predicts_a_value(make_client, regressor_path):
    response = make_client(regressor_path).post("/v1/predict", json={"rows": [ROW]})
    assert response.get_json()["predictions"] == [{"prediction": 81.0}]


def test_invocations_accepts_mlflow_dataframe_records_and_split(client):
    records = client.post("/invocations", json={"dataframe_records": [ROW, ROW]})
    split = client.post(
        "/invocations",
        json={
            "dataframe_split": {
                "columns": [NUMERIC, CATEGORICAL],
                "index": [0, 1],
                "data": [[40.0, "Dream"], [40.0, "Dream"]],
            }
        },
    )
    assert records.status_code == split.status_code == 200
    assert records.get_json() == split.get_json() == {"predictions": ["Adelie", "Adelie"]}


def test_invocations_rejects_tensor_formats_and_ragged_split(client):
    response = client.post("/invocations", json={"instances": [[1, 2]]})
    assert response.status_code == 400
    assert "dataframe_records" in response.get_json()["error"]["message"]
    response = client.post(
        "/invocations",
        json={"dataframe_split": {"columns": [NUMERIC, CATEGORICAL], "data": [[1.0]]}},
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["row"] == 0


def test_metadata_describes_schema_classes_hashes_and_parity(client, classifier_path):
    body = client.get("/metadata").get_json()
    assert body["model"]["sha256"] == hashlib.sha256(classifier_path.read_bytes()).hexdigest()
    assert [i["name"] for i in body["inputs"]] == [NUMERIC, CATEGORICAL]
    assert body["classes"] == CLASSES
    assert body["parity"]["passed"] is True
    assert body["training"]["data_sha256"] == "d" * 64
    assert {"pipeport", "onnxruntime", "numpy"} <= set(body["serving"])


def test_openapi_document_is_a_valid_openapi_3_spec(client):
    document = client.get("/openapi.json").get_json()
    validate(document)
    assert document["openapi"].startswith("3.")
    row = document["components"]["schemas"]["Row"]
    assert row["required"] == [NUMERIC, CATEGORICAL]
    assert {"/v1/predict", "/invocations", "/v2/models/{name}/infer", "/metrics"} <= set(
        document["paths"]
    )


def test_openapi_with_auth_declares_bearer_security(make_client, classifier_path):
    document = (
        make_client(classifier_path, auth_token="s3cret")
        .get("/openapi.json", headers={"Authorization": "Bearer s3cret"})
        .get_json()
    )
    validate(document)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json()["status"] == "ready"


def _error(response, status):
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) >= {"code", "message", "details"}
    assert "Traceback" not in response.get_data(as_text=True)
    return error


def _post(client, data, content_type="application/json", path="/v1/predict"):
    return client.post(path, data=data, content_type=content_type)


BAD_BODIES = [
    ("malformed JSON", b'{"rows": [', "application/json", 400, "malformed_json"),
    ("empty body", b"", "application/json", 400, "malformed_json"),
    ("wrong content type", b'{"rows": []}', "text/plain", 415, "unsupported_media_type"),
    (
        "form content type",
        b"rows=1",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_media_type",
    ),
    (
        "invalid UTF-8",
        b'{"rows": [{"island": "\xff\xfe"}]}',
        "application/json",
        400,
        "invalid_utf8",
    ),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "malformed_json"),
    ("not an object", b"[1, 2]", "application/json", 400, "invalid_body"),
    ("no rows key", b'{"data": []}', "application/json", 400, "invalid_body"),
    ("rows not a list", b'{"rows": {}}', "application/json", 400, "invalid_body"),
    ("empty batch", b'{"rows": []}', "application/json", 400, "empty_batch"),
    (
        "huge integer literal",
        b'{"rows": [{"x": ' + b"9" * 5000 + b"}]}",
        "application/json",
        400,
        "malformed_json",
    ),
]


@pytest.mark.parametrize(
    "case, data, content_type, status, code", BAD_BODIES, ids=[case[0] for case in BAD_BODIES]
)
def test_bad_bodies_get_a_4xx_json_error(client, case, data, content_type, status, code):
    # The body is under the client's 64 KiB limit except "deeply nested" (200 KB): allow 413.
    response = _post(client, data, content_type)
    if case == "deeply nested":
        assert response.status_code in (400, 413)
        return
    assert _error(response, status)["code"] == code


def test_deeply_nested_body_under_the_size_limit_is_rejected(make_client, classifier_path):
    nested = b'{"rows": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = _post(make_client(classifier_path), nested)
    assert _error(response, 400)["code"] == "malformed_json"


def test_oversized_body_gets_413(client):
    rows = [ROW] * 2000  # ~80 KB, over the 64 KiB limit of this client
    assert _error(client.post("/v1/predict", json={"rows": rows}), 413)["code"] == (
        "body_too_large"
    )


def test_too_many_rows_gets_413(client):
    response = client.post("/v1/predict", json={"rows": [ROW] * 51})
    error = _error(response, 413)
    assert error["code"] == "too_many_rows"
    assert "50" in error["message"]


@pytest.mark.parametrize(
    "raw, field, needle",
    [
        (f'{{"{NUMERIC}": NaN, "{CATEGORICAL}": "Dream"}}', NUMERIC, "NaN"),
        (f'{{"{NUMERIC}": Infinity, "{CATEGORICAL}": "Dream"}}', NUMERIC, "Infinity"),
        (f'{{"{NUMERIC}": -Infinity, "{CATEGORICAL}": "Dream"}}', NUMERIC, "Infinity"),
        (f'{{"{NUMERIC}": 1e999, "{CATEGORICAL}": "Dream"}}', NUMERIC, "finite"),
        (f'{{"{NUMERIC}": "40", "{CATEGORICAL}": "Dream"}}', NUMERIC, "string"),
        (f'{{"{NUMERIC}": 40, "{CATEGORICAL}": [3]}}', CATEGORICAL, "array"),
        (f'{{"{NUMERIC}": 40, "{CATEGORICAL}": {{"a": 1}}}}', CATEGORICAL, "object"),
        (f'{{"{NUMERIC}": true, "{CATEGORICAL}": "Dream"}}', NUMERIC, "boolean"),
        (f'{{"{CATEGORICAL}": "Dream"}}', NUMERIC, "missing"),
        (f'{{"{NUMERIC}": 40, "{CATEGORICAL}": "Dream", "sex": "MALE"}}', "sex", "unknown"),
    ],
)
def test_row_problems_name_the_row_and_field(client, raw, field, needle):
    data = f'{{"rows": [{json.dumps(ROW)}, {raw}]}}'.encode()
    error = _error(_post(client, data), 422)
    assert error["code"] == "invalid_rows"
    assert [(d["row"], d["field"]) for d in error["details"]] == [(1, field)]
    assert needle in error["details"][0]["problem"]


def test_error_details_are_capped_with_a_count_of_the_rest(make_client, classifier_path):
    rows = [{NUMERIC: "bad", CATEGORICAL: [1]}] * 150  # 300 problems
    response = make_client(classifier_path).post("/v1/predict", json={"rows": rows})
    error = _error(response, 422)
    assert len(error["details"]) == 100
    assert error["details_omitted"] == 200
    assert "150 rows" in error["message"]


def test_unknown_route_and_method_get_json_errors(client):
    assert _error(client.get("/nope"), 404)["code"] == "not_found"
    response = client.get("/v1/predict")
    assert _error(response, 405)["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]
    assert _error(client.delete("/metadata"), 405)["code"] == "method_not_allowed"


def test_unexpected_exceptions_become_a_500_without_a_trace(make_client, classifier_path):
    test_client = make_client(classifier_path)
    state = test_client.application.extensions["pipeport"]
    state.predict = lambda feeds: (_ for _ in ()).throw(RuntimeError("secret internals"))
    response = test_client.post("/v1/predict", json={"rows": [ROW]})
    error = _error(response, 500)
    assert "secret" not in response.get_data(as_text=True)
    assert error["code"] == "internal_error"


class TestAuth:
    @pytest.fixture
    def secured(self, make_client, classifier_path):
        return make_client(classifier_path, auth_token="s3cret")

    def test_protected_routes_need_the_token(self, secured):
        for method, path in [
            ("post", "/v1/predict"),
            ("get", "/metadata"),
            ("get", "/openapi.json"),
            ("get", "/v2/models/penguins-test"),
            ("post", "/invocations"),
            ("get", "/v2"),
        ]:
            response = getattr(secured, method)(path, json={"rows": [ROW]})
            assert response.status_code == 401, path
            assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_wrong_token_is_refused_and_right_token_accepted(self, secured):
        wrong = secured.post(
            "/v1/predict", json={"rows": [ROW]}, headers={"Authorization": "Bearer s3cre"}
        )
        assert _error(wrong, 401)["code"] == "unauthorized"
        right = secured.post(
            "/v1/predict", json={"rows": [ROW]}, headers={"Authorization": "Bearer s3cret"}
        )
        assert right.status_code == 200

    def test_health_and_metrics_stay_open(self, secured):
        for path in ("/healthz", "/readyz", "/metrics", "/v2/health/live", "/v2/health/ready"):
            assert secured.get(path).status_code == 200, path


def test_metrics_count_requests_by_endpoint_and_status(make_client, classifier_path):
    test_client = make_client(classifier_path)
    test_client.post("/v1/predict", json={"rows": [ROW, ROW]})
    test_client.post("/v1/predict", json={"rows": []})  # an error: answered by Flask
    test_client.post("/invocations", json={"dataframe_records": [ROW]})
    test_client.get("/nope")
    text = test_client.get("/metrics").get_data(as_text=True)
    # Each request counted once, whether the fast path or Flask answered it.
    assert 'pipeport_http_requests_total{endpoint="predict",status="200"} 1' in text
    assert 'pipeport_http_requests_total{endpoint="predict",status="400"} 1' in text
    assert 'pipeport_http_requests_total{endpoint="invocations",status="200"} 1' in text
    assert 'pipeport_http_requests_total{endpoint="other",status="404"} 1' in text
    assert 'pipeport_http_request_duration_seconds_count{endpoint="predict"} 2' in text
    assert "pipeport_rows_predicted_total 3" in text
    assert 'pipeport_model_info{name="penguins-test",version="3"' in text
