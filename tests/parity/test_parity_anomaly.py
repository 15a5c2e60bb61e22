"""The parity harness on an anomaly model (a pipeline ending with IsolationForest): every runtime
(onnxruntime, onnx.reference, the HTTP server's /v1/predict and V2 infer, Node.js, headless
Chromium) answers scikit-learn's `predict` labels (-1 outlier, 1 inlier) and `score_samples`,
on rows with missing values, an unseen category and far-out numbers; and the run fails, naming
the rows, when one learned value of the file is changed. Expected values are computed here from
scikit-learn, never taken from the harness.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import numpy_helper
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import pipeport
from pipeport.cli import main as pipeport_cli
from pipeport.errors import ParityError
from pipeport.parity_tests.harness import (
    ALL_RUNTIMES,
    ParityRun,
    max_ulps,
    predictions_to_arrays,
    run_parity,
)

SIX = ("onnxruntime", "reference", "http", "http-v2", "node", "browser")


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 1.0, n)
    amount[rng.random(n) < 0.1] = np.nan
    hour = rng.integers(0, 24, n).astype(float)
    hour[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {"amount": amount, "hour": hour, "channel": rng.choice(["web", "pos", "atm"], n)}
    )


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One IsolationForest pipeline, its exported file (and joblib), and the rows compared:
    new rows with missing values, far-out numbers and a category never seen in training."""
    train = _frame(300, 0)
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", SimpleImputer(), ["amount", "hour"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
            ]
        ),
        IsolationForest(n_estimators=25, contamination=0.05, random_state=0),
    ).fit(train)
    rows = _frame(60, 1)
    rows.loc[0, "amount"] = 1e12  # far out
    rows.loc[1, "hour"] = -1e9
    rows.loc[2, "amount"] = 5e-324
    rows.loc[3, "channel"] = "crypto"  # never seen in training
    rows.loc[4, ["amount", "hour"]] = np.nan  # every number missing
    rows.loc[5, ["amount", "channel"]] = [1e15, "fax"]
    directory = tmp_path_factory.mktemp("anomaly_parity")
    model = pipeport.to_onnx(pipeline, train, "fraud", generated_rows=0)
    onnx.save(model, str(directory / "fraud.onnx"))
    joblib.dump(pipeline, directory / "fraud.joblib")
    rows.to_csv(directory / "rows.csv", index=False)
    labels = pipeline.predict(rows)
    assert set(labels.tolist()) == {-1, 1}  # both answers occur in the rows compared
    return {
        "pipeline": pipeline,
        "rows": rows,
        "dir": directory,
        "model": directory / "fraud.onnx",
        "labels": labels,
        "scores": pipeline.score_samples(rows),
    }


@pytest.fixture(scope="module")
def six_runtimes(fitted: dict[str, Any]) -> ParityRun:
    return run_parity(
        fitted["pipeline"], fitted["model"], fitted["rows"], ALL_RUNTIMES, edge_cases=False
    )


def test_every_runtime_passes_on_an_isolation_forest(six_runtimes: ParityRun) -> None:
    run = six_runtimes
    statuses = {o.runtime: (o.status, o.reason) for o in run.outcomes}
    assert {name: s for name, (s, _) in statuses.items()} == {
        "sklearn": "passed",
        **dict.fromkeys(SIX, "passed"),
    }, statuses
    assert run.passed and run.task == "anomaly" and run.left_out == []
    for o in run.outcomes:
        if o.report is not None:
            assert o.report.rows == run.rows and o.report.label_mismatches == 0, o.runtime
            assert o.report.tolerances == {"score_abs": 1e-6, "labels": 0}


def test_each_runtime_answers_scikit_learns_predict_and_score_samples(
    fitted: dict[str, Any], six_runtimes: ParityRun
) -> None:
    n = len(fitted["rows"])
    assert six_runtimes.rows == n  # no row refused or dropped: row i is rows.iloc[i] everywhere
    for o in six_runtimes.outcomes:
        if o.runtime == "sklearn":
            continue
        assert o.outputs is not None and set(o.outputs) == {"label", "score"}, o.runtime
        label, score = o.outputs["label"], o.outputs["score"]
        assert label.dtype == np.int64 and label.shape == (n,), (o.runtime, label.dtype)
        assert score.dtype == np.float64 and score.shape == (n,), (o.runtime, score.dtype)
        np.testing.assert_array_equal(label, fitted["labels"], err_msg=o.runtime)
        np.testing.assert_allclose(score, fitted["scores"], rtol=0, atol=1e-12, err_msg=o.runtime)
        assert o.max_ulps is not None and o.max_ulps < 64, (o.runtime, o.max_ulps)


def test_summary_speaks_of_labels_and_scores(six_runtimes: ParityRun) -> None:
    text = six_runtimes.summary()
    assert "onnxruntime: PASSED (60 rows, label mismatches 0, max abs score error 0)" in text
    assert "max rel" not in text and "near-tie" not in text and "probab" not in text


# -- corruptions: one learned value changed, the run must fail and name the rows ----------------


def _corrupted(
    fitted: dict[str, Any], tmp_path: Path, change: Callable[[onnx.ModelProto], None]
) -> Path:
    model = onnx.load(str(fitted["model"]))
    change(model)
    path = tmp_path / "corrupted.onnx"
    onnx.save(model, str(path))
    return path


def _tree0_leaf_of_most_rows(fitted: dict[str, Any]) -> tuple[int, np.ndarray, float]:
    """scikit-learn's own routing: the node of tree 0 most compared rows reach, the rows that
    reach it, and the path term scikit-learn adds for it."""
    pipeline = fitted["pipeline"]
    forest = pipeline[-1]
    X = np.asarray(pipeline[:-1].transform(fitted["rows"]), np.float32)
    assert forest._max_features == X.shape[1]  # every tree reads every column, in order
    nodes = forest.estimators_[0].apply(X)
    node = int(np.bincount(nodes).argmax())
    term = forest._decision_path_lengths[0][node] + forest._average_path_length_per_tree[0][node]
    return node, np.flatnonzero(nodes == node), float(term - 1.0)


def test_one_changed_leaf_weight_fails_naming_exactly_the_rows_in_that_leaf(
    fitted: dict[str, Any], tmp_path: Path
) -> None:
    node, rows_there, term = _tree0_leaf_of_most_rows(fitted)
    tree = fitted["pipeline"][-1].estimators_[0].tree_
    is_leaf = tree.children_left == -1
    index = int(is_leaf[:node].sum())  # the file lists tree 0's leaves first, in node order

    def add_to_one_leaf(model: onnx.ModelProto) -> None:
        ensemble = next(n for n in model.graph.node if n.op_type == "TreeEnsemble")
        attrs = {a.name: a for a in ensemble.attribute}
        weights = numpy_helper.to_array(attrs["leaf_weights"].t).copy()
        assert list(attrs["leaf_targetids"].ints)[index] == 0 and weights[index] == term
        weights[index] += 0.5  # half a level deeper in one leaf of one tree of 25
        attrs["leaf_weights"].t.CopyFrom(
            numpy_helper.from_array(weights, attrs["leaf_weights"].t.name)
        )

    path = _corrupted(fitted, tmp_path, add_to_one_leaf)
    run = run_parity(
        fitted["pipeline"],
        path,
        fitted["rows"],
        ("sklearn", "onnxruntime", "reference", "node"),
        edge_cases=False,
    )
    assert not run.passed
    for o in run.outcomes[1:]:
        assert o.status == "failed" and o.report is not None, (o.runtime, o.status, o.reason)
        assert o.report.outside == rows_there.tolist(), o.runtime
        assert o.report.rows_outside_tolerance == len(rows_there)
        assert o.report.max_abs_error > 1e-6
        named = {w["row"] for w in o.report.worst}
        assert named and named <= set(rows_there.tolist()), o.runtime
        worst = o.report.worst[0]
        assert worst["raw"] == _raw(fitted["rows"], worst["row"])
        if worst["output"] == "score":  # scikit-learn's own number on that row
            assert worst["expected"] == fitted["scores"][worst["row"]]
    text = run.summary()
    assert "onnxruntime: FAILED" in text and "worst rows in onnxruntime:" in text
    assert f"{len(rows_there)} outside tolerance" in text
    assert f"row {rows_there[0]:>6}" in text  # the worst-rows table names the row
    assert "near-ties" not in text and "rel error" not in text


def test_a_moved_offset_fails_on_the_labels_it_flips(
    fitted: dict[str, Any], tmp_path: Path
) -> None:
    scores, labels = fitted["scores"], fitted["labels"]
    new_offset = float(np.median(scores))  # half the rows now fall below it
    flipped = np.flatnonzero(np.where(scores - new_offset < 0, -1, 1) != labels)
    assert len(flipped) > 5

    def move_offset(model: onnx.ModelProto) -> None:
        init = next(i for i in model.graph.initializer if i.name == "offset")
        assert numpy_helper.to_array(init).item() == fitted["pipeline"][-1].offset_
        init.CopyFrom(numpy_helper.from_array(np.array([[new_offset]]), "offset"))

    path = _corrupted(fitted, tmp_path, move_offset)
    with pytest.raises(ParityError) as info:
        pipeport.check_parity(
            fitted["pipeline"], path, fitted["rows"], runtimes=["onnxruntime"], edge_cases=False
        )
    run = info.value.report
    (ort,) = [o for o in run.outcomes if o.runtime == "onnxruntime"]
    assert ort.status == "failed" and ort.report is not None
    assert ort.report.label_mismatches == len(flipped)
    assert ort.report.outside == flipped.tolist()
    assert ort.report.max_abs_error == 0  # the scores are right; only the labels are wrong
    for w in ort.report.worst:
        assert w["output"] == "label" and w["expected"] == labels[w["row"]] == -w["actual"]
    message = str(info.value)
    assert f"label mismatches {len(flipped)}" in message and "label" in message
    assert f"row {flipped[0]:>6}" in message


def _raw(frame: pd.DataFrame, row: int) -> dict[str, Any]:
    return {
        k: None if isinstance(v, float) and math.isnan(v) else v
        for k, v in frame.iloc[row].to_dict().items()
    }


# -- the command and its reports -----------------------------------------------------------------


def test_cli_on_a_joblib_and_its_reports_read_as_an_anomaly_run(
    fitted: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = fitted["dir"]
    args = ["parity", "--pipeline", str(d / "fraud.joblib"), "--model", str(d / "fraud.onnx")]
    args += ["--data", str(d / "rows.csv"), "--runtimes", "sklearn,onnxruntime,reference"]
    code = pipeport_cli([*args, "--property-rows", "30", "--report-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "label mismatches 0, max abs score error 0, max ULPs 0" in lines["onnxruntime"]
    assert "near-ties" not in out and "max rel" not in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["task"] == "anomaly" and report["passed"] is True
    assert report["sources"]["edge cases"] > 0 and report["sources"]["property-based (hypothesis)"]
    ran = {r["runtime"]: r for r in report["runtimes"]}
    assert ran["onnxruntime"]["label_mismatches"] == 0
    assert ran["onnxruntime"]["tolerances"] == {"score_abs": 1e-6, "labels": 0}
    for absent in ("near_ties", "near_tie_mismatches", "max_rel_error"):
        assert absent not in ran["onnxruntime"], absent
    page = (tmp_path / "report.html").read_text()
    assert ">scikit-learn score</text>" in page and ">onnxruntime score</text>" in page
    assert "max abs error (score)" in page and "score_samples" in page
    assert "probabilities ≤" not in page and "regression ≤" not in page


def test_cli_on_a_corrupted_file_exits_1_and_the_report_names_the_rows(
    fitted: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def move_offset(model: onnx.ModelProto) -> None:
        init = next(i for i in model.graph.initializer if i.name == "offset")
        init.CopyFrom(numpy_helper.from_array(np.array([[np.median(fitted["scores"])]]), "offset"))

    path = _corrupted(fitted, tmp_path, move_offset)
    args = ["parity", "--pipeline", str(fitted["dir"] / "fraud.joblib"), "--model", str(path)]
    args += ["--data", str(fitted["dir"] / "rows.csv"), "--runtimes", "sklearn,onnxruntime"]
    code = pipeport_cli([*args, "--no-edge-cases", "--property-rows", "0"])
    out = capsys.readouterr().out
    assert code == 1
    assert "onnxruntime  FAILED" in out and "parity FAILED" in out
    report = json.loads((tmp_path / "corrupted-parity" / "report.json").read_text())
    (ort,) = [r for r in report["runtimes"] if r["runtime"] == "onnxruntime"]
    assert ort["label_mismatches"] > 0 and ort["worst"]
    assert {w["output"] for w in ort["worst"]} == {"label"}
    page = (tmp_path / "corrupted-parity" / "report.html").read_text()
    assert "Worst rows" in page and "1 (inlier)" in page and "-1 (outlier)" in page


# -- JSON predictions to arrays ------------------------------------------------------------------


def test_json_predictions_become_int_labels_and_float_scores_null_as_nan() -> None:
    got = predictions_to_arrays(
        [{"label": -1, "score": -0.75}, {"label": 1, "score": None}, {"label": 1, "score": -0}],
        "anomaly",
        [-1, 1],
    )
    assert set(got) == {"label", "score"}
    assert got["label"].dtype == np.int64 and got["label"].tolist() == [-1, 1, 1]
    assert got["score"].dtype == np.float64 and got["score"].shape == (3,)
    assert got["score"][0] == -0.75 and math.isnan(got["score"][1]) and got["score"][2] == 0.0
    empty = predictions_to_arrays([], "anomaly", [-1, 1])
    assert empty["label"].shape == empty["score"].shape == (0,)
    # a label JSON cannot tell from an integer is one; anything else is a broken runtime
    assert predictions_to_arrays([{"label": -1.0, "score": -0.5}], "anomaly", [-1, 1])[
        "label"
    ].tolist() == [-1]
    for bad in ("-1", None, 0.5, True):
        with pytest.raises(ValueError, match="row 1: label"):
            predictions_to_arrays(
                [{"label": 1, "score": -0.5}, {"label": bad, "score": -0.5}], "anomaly", [-1, 1]
            )


def test_ulps_are_measured_on_scores() -> None:
    a = np.array([-0.5, -0.25])
    assert max_ulps({"label": np.array([1, 1]), "score": a}, {"score": np.nextafter(a, 0)}) == 1.0
