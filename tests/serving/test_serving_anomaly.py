"""Serving an anomaly model (a pipeline ending with IsolationForest): every route answers with
scikit-learn's `predict` labels (-1 outlier, 1 inlier) and its `score_samples`, and
GET /openapi.json and the metadata routes say so. Expected values come from scikit-learn.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from openapi_spec_validator import validate
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from pipeport import to_onnx
from pipeport.serving.batch import predict_file
from pipeport.serving.model import load_model


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 1.0, n)
    amount[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "amount": amount,
            "hour": rng.integers(0, 24, n),
            "channel": rng.choice(["web", "shop", "phone"], n),
        }
    )


@pytest.fixture(scope="module")
def fitted():
    frame = _frame(400, 0)
    pre = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), ["amount", "hour"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
        ]
    )
    forest = IsolationForest(n_estimators=60, contamination=0.05, random_state=0)
    return make_pipeline(pre, forest).fit(frame), frame


@pytest.fixture(scope="module")
def model_path(fitted, tmp_path_factory):
    pipeline, frame = fitted
    path = tmp_path_factory.mktemp("anomaly") / "fraud.onnx"
    path.write_bytes(to_onnx(pipeline, frame, "fraud").SerializeToString())
    return path


@pytest.fixture(scope="module")
def client(model_path):
    from pipeport.serving.app import create_app
    from pipeport.serving.state import ServingSettings

    return create_app(model_path, ServingSettings()).test_client()


@pytest.fixture(scope="module")
def new_rows(fitted):
    frame = _frame(60, 1)
    frame.loc[3, "amount"] = 1e6  # far out: an outlier
    frame.loc[4, "channel"] = "fax"  # a category never seen
    pipeline = fitted[0]
    labels = pipeline.predict(frame).tolist()
    assert -1 in labels and 1 in labels
    return frame, labels, pipeline.score_samples(frame).tolist()


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _close(actual: list[float], expected: list[float]) -> None:
    assert np.max(np.abs(np.asarray(actual) - np.asarray(expected))) <= 1e-12


def test_v1_answers_labels_and_scores(client, new_rows):
    frame, labels, scores = new_rows
    response = client.post("/v1/predict", json={"rows": _records(frame)})
    assert response.status_code == 200, response.data
    predictions = response.get_json()["predictions"]
    assert [set(p) for p in predictions] == [{"label", "score"}] * len(frame)
    assert [p["label"] for p in predictions] == labels
    _close([p["score"] for p in predictions], scores)


def test_mlflow_invocations_answer_labels(client, new_rows):
    frame, labels, _ = new_rows
    response = client.post("/invocations", json={"dataframe_records": _records(frame)})
    assert response.status_code == 200, response.data
    assert response.get_json()["predictions"] == labels


def test_v2_returns_label_and_score(client, new_rows):
    frame, labels, scores = new_rows
    model = client.get("/v2/models/fraud").get_json()
    assert [(o["name"], o["datatype"]) for o in model["outputs"]] == [
        ("label", "INT64"),
        ("score", "FP64"),
    ]
    inputs = [
        {
            "name": "amount",
            "datatype": "FP64",
            "shape": [len(frame), 1],
            "data": [None if np.isnan(v) else v for v in frame.amount],
        },
        {"name": "hour", "datatype": "FP64", "shape": [len(frame), 1], "data": list(frame.hour)},
        {
            "name": "channel",
            "datatype": "BYTES",
            "shape": [len(frame), 1],
            "data": list(frame.channel),
        },
    ]
    response = client.post("/v2/models/fraud/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.data
    outputs = {o["name"]: o for o in response.get_json()["outputs"]}
    assert outputs["label"]["data"] == labels
    assert outputs["score"]["shape"] == [len(frame), 1]
    _close(outputs["score"]["data"], scores)


def test_batch_scoring_writes_label_and_score_columns(model_path, new_rows, tmp_path):
    frame, labels, scores = new_rows
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(source, index=False)
    assert predict_file(load_model(model_path), source, target, progress="off") == len(frame)
    with target.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["row", "label", "score"]
    assert [int(r["label"]) for r in rows] == labels
    _close([float(r["score"]) for r in rows], scores)


def test_metadata_routes_and_openapi_state_the_anomaly_contract(client, fitted):
    info = client.get("/metadata").get_json()
    assert info["task"] == "anomaly" and info["classes"] == [-1, 1]
    assert info["offset"] == fitted[0][-1].offset_
    document = client.get("/openapi.json").get_json()
    validate(document)
    prediction = document["components"]["schemas"]["Prediction"]
    assert prediction["required"] == ["label", "score"]
    assert prediction["properties"]["label"]["enum"] == [-1, 1]
