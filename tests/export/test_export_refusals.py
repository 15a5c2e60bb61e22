"""Where scikit-learn raises, every runtime refuses the row, naming row, field and value.

A pipeline without an imputer raises on a missing value; an encoder with handle_unknown="error"
raises on a value it never saw. Both export (they used to be refused, or to crash inside the
gate), the metadata records the rule, and the server, `pipeport predict` and the Node.js client
refuse such a row with a clear error instead of answering it. And the bug a forced export used
to show: a OneHotEncoder that learned NaN as a category of a text column gets missing values
right (the graph once fed them as "" to an encoder that knew "nan").
"""

from __future__ import annotations

import warnings
from pathlib import Path

import export_testkit as kit
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import pipeport
from pipeport.parity_tests.runtimes.node import RuntimeFailed, run_node

GOOD = {"bill_length_mm": 40.0, "flipper_length_mm": 190.0, "island": "Dream"}


@pytest.fixture(scope="module")
def strict_model(tmp_path_factory) -> Path:
    """No imputer on the numbers; island one-hot encoded with handle_unknown="error"."""
    frame = pd.read_csv(kit.PENGUINS).dropna()
    X = frame[["bill_length_mm", "flipper_length_mm", "island"]]
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["bill_length_mm", "flipper_length_mm"]),
                ("cat", OneHotEncoder(handle_unknown="error"), ["island"]),
            ]
        ),
        LogisticRegression(max_iter=1000),
    ).fit(X, frame["species"])
    model = pipeport.to_onnx(pipeline, X, "strict", generated_rows=1000)
    path = tmp_path_factory.mktemp("strict") / "strict.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_the_metadata_records_what_scikit_learn_refuses(strict_model):
    inputs = {i["name"]: i for i in pipeport.read_metadata(strict_model)["inputs"]}
    assert inputs["bill_length_mm"]["missing_allowed"] is False
    assert inputs["bill_length_mm"]["unknown_categories"] == "accepted"
    assert inputs["island"]["unknown_categories"] == "error"
    assert inputs["island"]["categories"] == ["Biscoe", "Dream", "Torgersen"]
    assert inputs["island"]["missing_allowed"] is False


@pytest.mark.parametrize(
    ("bad", "field", "needle"),
    [
        ({"bill_length_mm": None}, "bill_length_mm", "does not allow missing values"),
        ({"island": "Atlantis"}, "island", "'Atlantis' is not a category"),
        ({"island": None}, "island", "does not allow missing values"),
    ],
)
def test_the_server_refuses_with_422_naming_row_field_and_value(strict_model, bad, field, needle):
    from pipeport.serving.app import create_app

    client = create_app(str(strict_model)).test_client()
    response = client.post("/v1/predict", json={"rows": [GOOD, {**GOOD, **bad}]})
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    assert [(d["row"], d["field"]) for d in details] == [(1, field)]
    assert needle in details[0]["problem"]
    assert client.post("/v1/predict", json={"rows": [GOOD]}).status_code == 200


def test_predict_refuses_the_file_naming_row_and_column(strict_model, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "bill_length_mm,flipper_length_mm,island\n40,190,Dream\n41,191,Atlantis\n,192,Biscoe\n"
    )
    code = kit.run_cli(
        "predict", str(strict_model), "--input", str(rows), "--output", str(tmp_path / "out.csv")
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "row 1" in err and "'island'" in err and "Atlantis" in err
    assert "row 2" in err and "bill_length_mm" in err
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.node
def test_node_refuses_naming_row_and_field(strict_model):
    with pytest.raises(RuntimeFailed) as caught:
        run_node(strict_model, [GOOD, {**GOOD, "island": "Atlantis"}])
    assert 'row 1, field "island"' in str(caught.value) + str(caught.value.args)
    assert len(run_node(strict_model, [GOOD])) == 1


def test_nan_learned_as_a_text_category_is_what_a_missing_value_gets():
    frame = pd.read_csv(kit.PENGUINS)  # sex has missing values: NaN is one of its categories
    X = frame[["island", "sex"]]
    pipeline = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression()).fit(
        X, frame["species"]
    )
    assert any(isinstance(c, float) and np.isnan(c) for c in pipeline[0].categories_[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pipeport.to_onnx(pipeline, X, "nan-category", generated_rows=500)
    rows = X[X["sex"].isna()]
    assert len(rows) > 0
    from pipeport.export.onnx_export import session

    got = session(model).run(
        ["probabilities"], pipeport.frame_to_feeds(rows, pipeport.read_metadata(model))
    )[0]
    assert np.abs(got - pipeline.predict_proba(rows)).max() <= 1e-12
