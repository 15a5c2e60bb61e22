"""The production loop with an anomaly model (a pipeline ending with IsolationForest, answering
{label: -1 | 1, score}): a real server's log replayed against scikit-learn passes; a model whose
graph was tampered with (one leaf's weight, the offset) fails replay naming exactly the rows
scikit-learn says it must; diff of two differently trained forests reports the label flips and
score shifts a direct comparison of the two scikit-learn pipelines shows, and refuses to compare
an anomaly model with a regressor. Every expected value comes from scikit-learn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import model_builders
import numpy as np
import onnx
import pandas as pd
import pytest
from monitor_testkit import anomaly_rows, send_in_requests, stop
from onnx import numpy_helper

from pipeport.cli import main as pipeport

ROWS = 120
SIZE = 7  # rows per request


def _report(directory: Path) -> dict:
    return json.loads((directory / "report.json").read_text())


@pytest.fixture(scope="module")
def served_logs(start_server, anomaly_versions, tmp_path_factory) -> tuple[Path, list[str]]:
    """fraud v1 served with a prediction log; ROWS rows sent in requests of SIZE rows."""
    logs = tmp_path_factory.mktemp("anomaly-logs")
    server = start_server(anomaly_versions["v1"] / "pipeline.onnx", "--log-predictions", str(logs))
    ids = send_in_requests(server, anomaly_rows(ROWS, 1)[1], size=SIZE)
    stop(server)
    return logs, ids


def test_an_anomaly_models_log_replayed_against_scikit_learn_passes(
    served_logs, anomaly_versions, tmp_path, capsys
):
    logs, _ids = served_logs
    directory = anomaly_versions["v1"]
    pipeline = joblib.load(directory / "sklearn_pipeline.joblib")
    labels = pipeline.predict(anomaly_rows(ROWS, 1)[0])
    assert -1 in labels and 1 in labels  # the control: outliers and inliers were logged

    out = tmp_path / "report"
    code = pipeport(
        [
            "replay",
            str(logs),
            "--against",
            str(directory),
            "--against",
            str(directory / "pipeline.onnx"),
            "--report-dir",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = _report(out)
    assert report["passed"] is True and report["task"] == "anomaly"
    assert report["tolerances"] == {"labels": "equal", "score_abs": 1e-6}
    assert [t["status"] for t in report["targets"]] == ["passed", "passed"]
    assert [t["rows_compared"] for t in report["targets"]] == [ROWS, ROWS]
    assert [t["label_mismatches"] for t in report["targets"]] == [0, 0]
    assert "label mismatches 0), max score error 0" in printed
    html = (out / "report.html").read_text()
    assert "scikit-learn score" in html and "production score" in html
    assert "scores ≤ 1e-06 absolute" in html


def _sklearn_leaves(pipeline, frame: pd.DataFrame) -> np.ndarray:
    """The node of the first tree each row reaches, by scikit-learn (float32 X, the tree's own
    columns, as IsolationForest.score_samples)."""
    forest = pipeline[-1]
    X = pipeline[:-1].transform(frame)
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, np.float32)
    return forest.estimators_[0].apply(X[:, forest.estimators_features_[0]])


def test_a_leaf_weight_changed_in_production_fails_replay_naming_its_rows(
    start_server, anomaly_versions, tmp_path, capsys
):
    directory = shutil.copytree(anomaly_versions["v1"], tmp_path / "tampered")
    pipeline = joblib.load(directory / "sklearn_pipeline.joblib")
    frame, rows = anomaly_rows(ROWS, 1)
    # the first tree's leaf most rows reach (scikit-learn's apply), and the rows that reach it
    leaves = _sklearn_leaves(pipeline, frame)
    values, counts = np.unique(leaves, return_counts=True)
    leaf = int(values[np.argmax(counts)])
    expected_rows = np.flatnonzero(leaves == leaf)
    assert 0 < len(expected_rows) < ROWS  # the control: some rows moved, not all
    # the graph's leaves of tree 0 are its scikit-learn leaves in node order (target 0)
    tree = pipeline[-1].estimators_[0].tree_
    leaf_nodes = np.flatnonzero(tree.children_left == -1).tolist()
    model = onnx.load(str(directory / "pipeline.onnx"))
    ensemble = next(n for n in model.graph.node if n.op_type == "TreeEnsemble")
    attr = next(a for a in ensemble.attribute if a.name == "leaf_weights")
    weights = numpy_helper.to_array(attr.t).copy()
    weights[leaf_nodes.index(leaf)] += 3.0  # that leaf isolates three levels deeper
    attr.t.CopyFrom(numpy_helper.from_array(weights, attr.t.name))
    onnx.save(model, str(directory / "pipeline.onnx"))

    logs = tmp_path / "logs"
    server = start_server(directory / "pipeline.onnx", "--log-predictions", str(logs))
    ids = send_in_requests(server, rows, size=SIZE)
    stop(server)

    out = tmp_path / "report"
    code = pipeport(["replay", str(logs), "--against", str(directory), "--report-dir", str(out)])
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert "replay FAILED" in printed
    (target,) = _report(out)["targets"]
    assert target["status"] == "failed"
    assert target["rows_outside_tolerance"] == len(expected_rows)
    named = {(m["request_id"], m["row_in_request"]) for m in target["mismatches"]}
    assert named == {(ids[i], int(i) % SIZE) for i in expected_rows}
    scores = pipeline.score_samples(frame)
    for m in target["mismatches"]:
        i = SIZE * int(m["request_id"].removeprefix("req-")) + m["row_in_request"]
        assert m["target_score"] == pytest.approx(scores[i], abs=1e-12)  # scikit-learn's
        assert m["production_score"] != pytest.approx(scores[i], abs=1e-6)
        assert m["target_label"] == pipeline.predict(frame.iloc[[i]])[0]
    first = target["mismatches"][0]  # the CLI prints the first rows outside tolerance
    assert f"request {first['request_id']} row {first['row_in_request']} (" in printed
    assert "Rows outside tolerance" in (out / "report.html").read_text()


def _with_offset(source: Path, target: Path, old: float, new: float) -> Path:
    """A copy of the ONNX file whose graph compares the score with `new` instead of the
    offset `old` (the metadata left as it was)."""
    model = onnx.load(str(source))
    (offset,) = [
        t
        for t in model.graph.initializer
        if t.data_type == onnx.TensorProto.DOUBLE
        and numpy_helper.to_array(t).ravel().tolist() == [old]
    ]
    offset.CopyFrom(numpy_helper.from_array(np.array([[new]]), offset.name))
    onnx.save(model, str(target))
    return target


def test_replay_against_a_model_with_another_offset_names_the_flipped_labels(
    served_logs, anomaly_versions, tmp_path, capsys
):
    logs, ids = served_logs
    directory = anomaly_versions["v1"]
    pipeline = joblib.load(directory / "sklearn_pipeline.joblib")
    frame = anomaly_rows(ROWS, 1)[0]
    scores = np.sort(pipeline.score_samples(frame))
    # a new offset halfway between two scores above the 30th percentile: rows in between flip
    k = int(0.3 * ROWS)
    new_offset = float((scores[k] + scores[k + 1]) / 2)
    other = _with_offset(
        directory / "pipeline.onnx", tmp_path / "other.onnx", pipeline[-1].offset_, new_offset
    )
    decision = pipeline.score_samples(frame)
    expected = np.flatnonzero((decision < pipeline[-1].offset_) != (decision < new_offset))
    assert 0 < len(expected) < ROWS

    out = tmp_path / "report"
    assert pipeport(["replay", str(logs), "--against", str(other), "--report-dir", str(out)]) == 1
    printed = capsys.readouterr().out
    (target,) = _report(out)["targets"]
    assert target["label_mismatches"] == len(expected)
    assert target["max_abs_error"] == 0.0  # the scores are untouched
    named = {(m["request_id"], m["row_in_request"]) for m in target["mismatches"]}
    assert named == {(ids[i], int(i) % SIZE) for i in expected}
    assert {(m["production_label"], m["target_label"]) for m in target["mismatches"]} == {(1, -1)}
    assert "production 1 (score " in printed and "target -1 (score " in printed


def test_replay_against_a_model_of_another_task_is_an_error_not_a_crash(
    served_logs, tmp_path, capsys
):
    regressor = model_builders.build_regressor(tmp_path / "regressor.onnx")
    out = tmp_path / "report"
    assert (
        pipeport(
            ["replay", str(served_logs[0]), "--against", str(regressor), "--report-dir", str(out)]
        )
        == 1
    )
    (target,) = _report(out)["targets"]
    assert target["status"] == "error"
    assert "it is a regressor and the served model an anomaly model" in target["reason"]
    assert "replay FAILED" in capsys.readouterr().out


# -- diff -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def holdout(anomaly_versions, tmp_path_factory) -> tuple[Path, dict]:
    """ROWS new rows in a CSV file, and v1 vs v2 compared directly by scikit-learn on them."""
    path = tmp_path_factory.mktemp("anomaly-holdout") / "rows.csv"
    anomaly_rows(ROWS, 2)[0].to_csv(path, index=False)
    frame = pd.read_csv(path)
    old = joblib.load(anomaly_versions["v1"] / "sklearn_pipeline.joblib")
    new = joblib.load(anomaly_versions["v2"] / "sklearn_pipeline.joblib")
    labels_old, labels_new = old.predict(frame), new.predict(frame)
    classes = [-1, 1]
    confusion = [
        [int(((labels_old == a) & (labels_new == b)).sum()) for b in classes] for a in classes
    ]
    shift = np.abs(new.score_samples(frame) - old.score_samples(frame))
    changed = int((labels_old != labels_new).sum())
    assert 0 < changed < len(frame)  # the control: the forests disagree on some rows
    return path, {
        "confusion": confusion,
        "changed": changed,
        "max_shift": float(shift.max()),
        "lost": [int(((labels_old == c) & (labels_new != c)).sum()) for c in classes],
        "gained": [int(((labels_old != c) & (labels_new == c)).sum()) for c in classes],
    }


def _assert_flips(report: dict, direct: dict) -> None:
    assert report["task"] == "anomaly"
    assert report["rows_compared"] == ROWS
    assert report["label_changes"] == direct["changed"]
    assert report["confusion"]["old (rows) × new (columns)"] == ["-1", "1"]
    assert report["confusion"]["counts"] == direct["confusion"]
    assert [c["lost"] for c in report["per_class"]] == direct["lost"]
    assert [c["gained"] for c in report["per_class"]] == direct["gained"]
    assert report["shift"]["measure"] == "|Δ score|"
    assert report["shift"]["max"] == pytest.approx(direct["max_shift"], abs=1e-9)


def _diff(versions: dict[str, Path], out: Path, *extra: str) -> int:
    return pipeport(
        [
            "diff",
            str(versions["v1"] / "pipeline.onnx"),
            str(versions["v2"] / "pipeline.onnx"),
            "--report-dir",
            str(out),
            *extra,
        ]
    )


def test_diff_of_two_forests_reports_the_flips_scikit_learn_shows(
    anomaly_versions, holdout, tmp_path, capsys
):
    path, direct = holdout
    assert _diff(anomaly_versions, tmp_path / "a", "--data", str(path)) == 0
    printed = capsys.readouterr().out
    report = _report(tmp_path / "a")
    _assert_flips(report, direct)
    assert f"labels: {direct['changed']} changed" in printed
    assert "|Δ score|: max" in printed
    moved = report["moved_most"]
    assert moved[0]["old_label"] != moved[0]["new_label"]  # flips listed first
    assert {"old_score", "new_score"} <= set(moved[0])
    html = (tmp_path / "a" / "report.html").read_text()
    assert "-1 (outlier)" in html and html.count("<svg") == 2

    # the limits apply to anomaly labels and scores
    assert (
        _diff(anomaly_versions, tmp_path / "b", "--data", str(path), "--max-label-changes", "0")
        == 1
    )
    assert "LIMIT EXCEEDED" in capsys.readouterr().err
    assert _report(tmp_path / "b")["violations"][0].startswith(f"{direct['changed']} label")
    many = str(direct["changed"])
    assert (
        _diff(anomaly_versions, tmp_path / "c", "--data", str(path), "--max-label-changes", many)
        == 0
    )
    shift = direct["max_shift"]
    assert (
        _diff(
            anomaly_versions,
            tmp_path / "d",
            "--data",
            str(path),
            "--max-abs-shift",
            f"{shift * 1.01}",
        )
        == 0
    )
    assert (
        _diff(
            anomaly_versions,
            tmp_path / "e",
            "--data",
            str(path),
            "--max-abs-shift",
            f"{shift * 0.99}",
        )
        == 1
    )
    assert _report(tmp_path / "e")["violations"][0].startswith("|Δ score| reached")


def test_diff_on_logs_and_on_a_shadow_log_of_anomaly_models(
    start_server, anomaly_versions, holdout, tmp_path
):
    path, direct = holdout
    rows = anomaly_rows(ROWS, 2)[1]
    logs = tmp_path / "logs"
    server = start_server(
        anomaly_versions["v2"] / "pipeline.onnx",
        "--log-predictions",
        str(logs),
        "--shadow",
        str(anomaly_versions["v1"] / "pipeline.onnx"),
    )
    send_in_requests(server, rows, size=SIZE)
    stop(server)
    assert _diff(anomaly_versions, tmp_path / "logged", "--data", str(logs)) == 0
    _assert_flips(_report(tmp_path / "logged"), direct)
    assert pipeport(["diff", "--shadow-log", str(logs), "--report-dir", str(tmp_path / "s")]) == 0
    report = _report(tmp_path / "s")
    _assert_flips(report, direct)
    assert (report["old"]["version"], report["new"]["version"]) == ("1", "2")
    assert report["moved_most"][0]["where"].startswith("req-")
    assert (
        pipeport(
            [
                "diff",
                "--shadow-log",
                str(logs),
                "--max-label-changes",
                "0",
                "--report-dir",
                str(tmp_path / "t"),
            ]
        )
        == 1
    )


def test_diff_refuses_an_anomaly_model_against_a_regressor(
    anomaly_versions, holdout, tmp_path, capsys
):
    regressor = model_builders.build_regressor(tmp_path / "regressor.onnx")
    anomaly = anomaly_versions["v1"] / "pipeline.onnx"
    for old, new in ((anomaly, regressor), (regressor, anomaly)):
        code = pipeport(
            ["diff", str(old), str(new), "--data", str(holdout[0]), "--report-dir", str(tmp_path)]
        )
        assert code == 2
        error = capsys.readouterr().err
        assert "cannot compare models of different tasks" in error
        assert "an anomaly model" in error and "a regressor" in error
    assert not (tmp_path / "report.json").exists()
