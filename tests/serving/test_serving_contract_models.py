"""Serving a model exported by `pipeport.to_onnx` from a user's pipeline, with what 0.2 added:
a classifier that returns labels only (a hard vote), unused columns, refused values (a log's
range, an encoder that raises on unseen values, no imputer) and a boolean column. Every route
answers with the labels scikit-learn predicts, and GET /openapi.json states the same contract.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from openapi_spec_validator import validate
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from pipeport import to_onnx
from pipeport.serving.batch import predict_file
from pipeport.serving.model import load_model


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.uniform(1.0, 100.0, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "member": rng.choice([True, False], n),
            "note": rng.choice(["x", "y"], n),  # dropped by the ColumnTransformer
        }
    )


@pytest.fixture(scope="module")
def fitted():
    frame = _frame(300, 0)
    y = np.where(frame["income"] + 20 * (frame["plan"] == "pro") > 55, "stay", "churn")
    pre = ColumnTransformer(
        [
            ("log", FunctionTransformer(np.log), ["income"]),
            ("plan", OneHotEncoder(handle_unknown="error"), ["plan"]),
            ("member", "passthrough", ["member"]),
        ]
    )
    vote = VotingClassifier(
        [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=3))],
        voting="hard",
    )
    pipeline = make_pipeline(pre, vote).fit(frame, y)
    return pipeline, frame


@pytest.fixture(scope="module")
def model_path(fitted, tmp_path_factory):
    pipeline, frame = fitted
    path = tmp_path_factory.mktemp("contract") / "vote.onnx"
    path.write_bytes(to_onnx(pipeline, frame, "vote").SerializeToString())
    return path


@pytest.fixture(scope="module")
def client(model_path):
    from pipeport.serving.app import create_app
    from pipeport.serving.state import ServingSettings

    return create_app(model_path, ServingSettings()).test_client()


@pytest.fixture(scope="module")
def new_rows(fitted):
    frame = _frame(40, 1)
    return frame, fitted[0].predict(frame).tolist()


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (bool(v) if isinstance(v, np.bool_) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def test_v1_answers_labels_only(client, new_rows):
    frame, labels = new_rows
    response = client.post("/v1/predict", json={"rows": _records(frame)})
    assert response.status_code == 200, response.data
    assert response.get_json()["predictions"] == [{"label": label} for label in labels]


def test_mlflow_invocations_answer_labels(client, new_rows):
    frame, labels = new_rows
    response = client.post("/invocations", json={"dataframe_records": _records(frame)})
    assert response.status_code == 200, response.data
    assert response.get_json()["predictions"] == labels


def test_v2_lists_and_returns_only_the_label(client, new_rows):
    frame, labels = new_rows
    model = client.get("/v2/models/vote").get_json()
    assert [o["name"] for o in model["outputs"]] == ["label"]
    inputs = [
        {
            "name": "income",
            "datatype": "FP64",
            "shape": [len(frame), 1],
            "data": list(frame.income),
        },
        {"name": "plan", "datatype": "BYTES", "shape": [len(frame), 1], "data": list(frame.plan)},
        {
            "name": "member",
            "datatype": "FP64",
            "shape": [len(frame), 1],
            "data": [float(v) for v in frame.member],
        },
    ]
    response = client.post("/v2/models/vote/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.data
    outputs = response.get_json()["outputs"]
    assert [o["name"] for o in outputs] == ["label"]
    assert outputs[0]["data"] == labels
    asked = client.post(
        "/v2/models/vote/infer", json={"inputs": inputs, "outputs": [{"name": "probabilities"}]}
    )
    assert asked.status_code == 400
    assert "probabilities" in asked.get_json()["error"]


def test_batch_scoring_writes_a_label_column(model_path, new_rows, tmp_path):
    frame, labels = new_rows
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(source, index=False)
    assert predict_file(load_model(model_path), source, target, progress="off") == len(frame)
    with target.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["row", "label"]
    assert [r["label"] for r in rows] == labels


def test_refused_values_are_422_naming_row_and_field(client, new_rows):
    frame, _ = new_rows
    rows = _records(frame.head(4))
    rows[1]["income"] = -3.0  # np.log raises on it in scikit-learn
    rows[2]["plan"] = "enterprise"  # handle_unknown="error"
    rows[3]["member"] = None  # no imputer
    response = client.post("/v1/predict", json={"rows": rows})
    assert response.status_code == 422
    details = {(d["row"], d["field"]) for d in response.get_json()["error"]["details"]}
    assert details == {(1, "income"), (2, "plan"), (3, "member")}


def test_openapi_states_the_contract(client):
    document = client.get("/openapi.json").get_json()
    validate(document)
    schemas = document["components"]["schemas"]
    assert schemas["Prediction"]["required"] == ["label"]
    assert "probabilities" not in schemas["Prediction"]["properties"]
    row = schemas["Row"]
    assert row["required"] == ["income", "plan", "member"]
    assert "note" in row["properties"]  # an unused column: accepted, ignored
    income, plan, member = (row["properties"][k] for k in ("income", "plan", "member"))
    assert "greater than 0" in income["description"]
    assert "accepted values: basic, plus, pro" in plan["description"]
    assert "refused" in plan["description"]
    assert member["nullable"] is False
    assert {"type": "boolean"} in member["oneOf"]
