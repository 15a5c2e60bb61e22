"""Pipelines that end with IsolationForest export as anomaly models: outputs `label` (scikit-learn's
`predict`, -1 outlier / 1 inlier) and `score` (its `score_samples`), metadata task "anomaly",
classes [-1, 1] and the forest's offset_. Expected values are scikit-learn's, on rows with missing
values and numbers far outside the training range; the corruption tests of the support cases
(`isolation-forest-*` in tests/export/test_export_support_cases.py) show the comparison can fail.
"""

from __future__ import annotations

import json
import subprocess
import sys

import joblib
import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import SGDOneClassSVM
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

import pipeport
from pipeport import UnsupportedStepError, frame_to_feeds, read_metadata, to_onnx
from pipeport.schema import ModelSchema


def _frame(n: int, seed: int, missing: float = 0.05) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(0.0, 1.0, n),
            "b": rng.lognormal(1.0, 0.5, n),
            "c": rng.integers(0, 10, n),
            "d": rng.uniform(-5.0, 5.0, n),
        }
    )
    frame.loc[rng.random(n) < missing, "a"] = np.nan
    return frame


def _fresh_rows() -> pd.DataFrame:
    frame = _frame(500, 7, missing=0.1)
    frame.loc[:9, "b"] = [1e3, -1e3, 0.0, 1e9, -7.5, 3.3, 1e-9, 55.0, 2.0, 4.0]  # far out
    return frame


def _run(model, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    schema = ModelSchema.from_metadata(read_metadata(model))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    label, score = session.run(["label", "score"], frame_to_feeds(frame, schema))
    return label, score.reshape(-1)


FORESTS = {
    "auto": dict(),
    "contamination": dict(contamination=0.07),
    "max-features": dict(max_features=0.5, n_estimators=40),
    "max-features-int": dict(max_features=2, n_estimators=40, bootstrap=True),
    "max-samples-int": dict(max_samples=50),
    "max-samples-float": dict(max_samples=0.3, contamination=0.2),
    "one-tree": dict(n_estimators=1),
    "one-sample": dict(max_samples=1, n_estimators=5),
}


@pytest.mark.parametrize("params", FORESTS.values(), ids=FORESTS.keys())
def test_labels_and_scores_are_scikit_learns(params):
    train = _frame(600, 0)
    pipeline = make_pipeline(StandardScaler(), IsolationForest(random_state=0, **params))
    pipeline.fit(train)
    model = to_onnx(pipeline, train, "forest")
    rows = _fresh_rows()
    label, score = _run(model, rows)
    assert label.tolist() == pipeline.predict(rows).tolist()
    assert np.max(np.abs(score - pipeline.score_samples(rows))) <= 1e-12


def test_metadata_states_the_anomaly_contract():
    train = _frame(400, 1)
    forest = IsolationForest(contamination=0.1, random_state=0).fit(train)
    model = to_onnx(forest, train, "alarms")
    meta = read_metadata(model)
    assert meta["task"] == "anomaly"
    assert meta["classes"] == [-1, 1]
    assert meta["offset"] == forest.offset_
    assert meta["outputs"] == {
        "label": {"onnx_name": "label", "onnx_type": "tensor(int64)"},
        "score": {"onnx_name": "score", "onnx_type": "tensor(double)"},
    }
    assert meta["parity"]["passed"] and meta["parity"]["task"] == "anomaly"
    schema = ModelSchema.from_metadata(meta)
    assert schema.output_keys() == ("label", "score") and schema.offset == forest.offset_
    assert schema.to_metadata()["offset"] == forest.offset_


def test_a_forest_fitted_on_an_array_exports_with_the_samples_names():
    train = _frame(300, 2, missing=0.0)
    forest = IsolationForest(max_samples=0.5, random_state=0).fit(train.to_numpy())
    model = to_onnx(forest, train, "array")
    label, score = _run(model, train)
    assert label.tolist() == forest.predict(train.to_numpy()).tolist()
    assert np.max(np.abs(score - forest.score_samples(train.to_numpy()))) <= 1e-12


@pytest.mark.parametrize(
    "detector",
    [OneClassSVM(), SGDOneClassSVM(random_state=0), LocalOutlierFactor(novelty=True)]
    + [EllipticEnvelope(random_state=0)],
    ids=lambda d: type(d).__name__,
)
def test_other_outlier_detectors_are_refused_by_name(detector):
    train = _frame(200, 3, missing=0.0)
    pipeline = make_pipeline(StandardScaler(), detector).fit(train)
    with pytest.raises(UnsupportedStepError) as refused:
        to_onnx(pipeline, train, "other")
    assert f"is a {type(detector).__module__}" in str(refused.value)
    assert type(detector).__name__ in str(refused.value)


def test_the_cli_exports_a_joblib_anomaly_pipeline(tmp_path):
    train = _frame(400, 4)
    pipeline = make_pipeline(StandardScaler(), IsolationForest(random_state=0)).fit(train)
    joblib.dump(pipeline, tmp_path / "forest.joblib")
    train.to_csv(tmp_path / "raw.csv", index=False)
    out = tmp_path / "forest.onnx"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeport",
            "export",
            "--pipeline",
            str(tmp_path / "forest.joblib"),
            "--sample",
            str(tmp_path / "raw.csv"),
            "--name",
            "forest",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    meta = pipeport.read_metadata(out)
    assert meta["task"] == "anomaly" and meta["offset"] == -0.5
    report = json.dumps(meta["parity"])
    assert '"label_mismatches": 0' in report
    assert "label mismatches 0, max score error 0" in done.stdout, done.stdout


def test_the_anomaly_comparison_agrees_on_nan_and_names_the_rest():
    from pipeport.export.parity import compare

    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    expected = {"label": np.array([1, -1, 1, 1]), "score": np.array([-0.4, np.nan, -0.45, -0.3])}
    same = compare("anomaly", expected, {k: v.copy() for k, v in expected.items()}, frame)
    assert same.passed and same.max_abs_error == 0.0
    actual = {"label": np.array([1, -1, -1, 1]), "score": np.array([-0.4, np.nan, -0.45, 0.1])}
    actual["score"][0] = np.nan  # NaN where scikit-learn has a number
    report = compare("anomaly", expected, actual, frame)
    assert not report.passed
    assert report.outside == [0, 2, 3] and report.label_mismatches == 1
    assert report.max_abs_error == np.inf
    assert report.worst[0]["row"] == 2 and report.worst[0]["output"] == "label"
    head = report.table().splitlines()[0]
    assert "label mismatches 1 (-1 outlier, 1 inlier), max abs score error inf" in head
    assert "near-ties" not in head
