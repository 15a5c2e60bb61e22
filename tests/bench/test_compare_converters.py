"""bench/compare_converters.py on two cases and a few rows, and the controls that show its verdicts
can go the other way: a graph with one learned value changed is `wrong` (pipeport's and
skl2onnx's), a pipeline a tool cannot convert is `refused`, and the judge's tolerances are the
documented ones (it is the bench's own code, never pipeport's gate)."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from onnx import numpy_helper
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

ROOT = Path(__file__).resolve().parents[2]


def _load() -> Any:
    spec = importlib.util.spec_from_file_location(
        "compare_converters", ROOT / "bench" / "compare_converters.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


cc = _load()


@pytest.fixture(scope="module")
def onehot_error() -> tuple[Any, Any, Any, Any]:
    """The support case onehot-error (people: numbers and OneHotEncoder(handle_unknown='error'),
    LogisticRegression), pipeport's graph and the rows: the sample and 50 generated rows."""
    subject = cc.subjects({"onehot-error"})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline, sample = subject.fit()
        model, schema, refusal = cc.pipeport_convert(pipeline, sample, subject.id, 50)
        assert refusal == "" and model is not None
        rows = cc.evaluation_rows(pipeline, sample, schema, 50)
    return pipeline, sample, (model, schema), rows


def test_two_cases_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """onehot-error: both exact (skl2onnx once its inputs are declared float: it cannot guess a
    bool column's type, and its Imputer has no double kernel in onnxruntime). kaggle-titanic:
    skl2onnx refuses the SimpleImputer(most_frequent) of a text column with NaN in it."""
    out = tmp_path / "compare.json"
    argv = ["--cases", "onehot-error,kaggle-titanic", "--rows", "60", "--json", str(out)]
    assert cc.main(argv) == 0
    data = json.loads(out.read_text())
    assert data["pipelines"] == 2 and data["skipped"] == []
    assert data["totals"]["pipeport"] == {"exact": 2, "wrong": 0, "refused": 0, "crashes": 0}
    assert data["totals"]["skl2onnx"] == {"exact": 1, "wrong": 0, "refused": 1, "crashes": 0}
    by_id = {r["id"]: r for r in data["results"]}
    onehot = by_id["onehot-error"]
    assert onehot["rows"] == 700 + 60 and onehot["rows_generated"]
    skl = onehot["tools"]["skl2onnx"]
    assert skl["outcome"] == "exact" and skl["variant"] == "float32"
    assert skl["variants"]["guessed"]["outcome"] == "refused"
    assert "BooleanTensorType" in skl["variants"]["guessed"]["reason"]
    assert skl["variants"]["double"]["outcome"] == "crashes"
    titanic = by_id["kaggle-titanic"]["tools"]
    assert titanic["pipeport"]["outcome"] == "exact"
    assert titanic["skl2onnx"]["outcome"] == "refused"
    assert "missing values are string" in titanic["skl2onnx"]["reason"]
    assert all(v["outcome"] == "refused" for v in titanic["skl2onnx"]["variants"].values())
    report = capsys.readouterr().out
    assert "| **total** | 2 | 2 / 0 / 0 / 0 | 1 / 0 / 1 / 0 |" in report
    assert "## Why skl2onnx refused" in report


def _add_one(values: Any) -> None:
    values[0] += 1.0


def test_pipeport_graph_with_one_learned_value_changed_is_wrong(onehot_error: Any) -> None:
    pipeline, sample, (model, schema), rows = onehot_error
    assert cc.pipeport_run(model, schema, rows).outcome == "exact"
    bad = type(model)()
    bad.CopyFrom(model)
    (coef,) = [i for i in bad.graph.initializer if i.name == "coef"]  # LogisticRegression's
    values = numpy_helper.to_array(coef).copy()
    _add_one(values.reshape(-1))
    coef.CopyFrom(numpy_helper.from_array(values, "coef"))
    outcome = cc.pipeport_run(bad, schema, rows)
    assert outcome.outcome == "wrong"
    assert outcome.rows_outside > len(rows.frame) // 10
    assert outcome.max_abs_error > 1e-3


def test_skl2onnx_graph_with_one_learned_value_changed_is_wrong(
    onehot_error: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, sample, _, rows = onehot_error
    assert cc.skl2onnx_variant(pipeline, sample, rows, "float32").outcome == "exact"
    convert = cc.skl2onnx_convert

    def corrupted(*args: Any) -> Any:
        model = convert(*args)
        (node,) = [n for n in model.graph.node if n.op_type == "LinearClassifier"]
        (coefficients,) = [a for a in node.attribute if a.name == "coefficients"]
        coefficients.floats[0] += 1.0
        return model

    monkeypatch.setattr(cc, "skl2onnx_convert", corrupted)
    outcome = cc.skl2onnx_variant(pipeline, sample, rows, "float32")
    assert outcome.outcome == "wrong"
    assert outcome.rows_outside > len(rows.frame) // 10


def test_a_pipeline_neither_tool_can_convert_is_refused() -> None:
    """A FunctionTransformer of a lambda: pipeport names the step, skl2onnx has no converter
    for an arbitrary function; the rows are then the sample alone (no contract to generate
    from), and scikit-learn still gives the reference."""
    frame = pd.DataFrame(
        {"a": np.linspace(0, 1, 40), "b": np.linspace(3, -1, 40) ** 2, "y": [0, 1] * 20}
    )
    pipeline = make_pipeline(FunctionTransformer(lambda x: x * 2.0), LogisticRegression())
    subject = cc.Subject(
        "lambda-step", "test", lambda: (pipeline.fit(frame[["a", "b"]], frame["y"]), frame)
    )
    result = cc.measure(subject, 20)
    assert result["rows"] == 40 and not result["rows_generated"]
    for tool in ("pipeport", "skl2onnx"):
        outcome = result["tools"][tool]
        assert outcome["outcome"] == "refused", (tool, outcome)
        assert outcome["reason"]


def _rows(task: str, expected: dict[str, Any]) -> Any:
    n = len(next(iter(expected.values())))
    return cc.Rows(
        frame=pd.DataFrame({"x": np.arange(n, dtype=float)}),
        by_name=True,
        task=task,
        keys=tuple(expected),
        expected={k: np.asarray(v) for k, v in expected.items()},
        in_sample=np.zeros(n, dtype=bool),
        with_missing=np.zeros(n, dtype=bool),
        generated=True,
    )


def test_labels_are_compared_by_class_not_by_representation() -> None:
    expected = np.array([1, True, "a", 2.0, False, 3], dtype=object)
    same = cc.labels_equal(expected, np.array([1.0, "True", "a", 2, 0, np.int64(3)], object))
    assert same.tolist() == [True] * 6
    wrong = cc.labels_equal(expected, np.array([2, False, "b", "2", 1, "3.0"], dtype=object))
    assert wrong.tolist() == [False] * 6
    assert cc.labels_equal(np.array([0, 1, 2]), np.array([0, 1, 2], np.int64)).all()
    assert cc.labels_equal(np.array(["x", "y"]), np.array(["x", "z"], object)).tolist() == [
        True,
        False,
    ]


def test_probabilities_within_1e_6_absolute() -> None:
    proba = np.array([[0.25, 0.75], [0.5, 0.5], [0.9, 0.1]])
    rows = _rows("classification", {"label": [1, 0, 0], "probabilities": proba})
    close = proba + np.array([[9e-7, -9e-7], [0, 0], [0, 0]])
    assert cc.judge(rows, {"label": [1, 0, 0], "probabilities": close}, "").outcome == "exact"
    off = proba + np.array([[0, 0], [2e-6, -2e-6], [0, 0]])
    outcome = cc.judge(rows, {"label": [1, 0, 0], "probabilities": off}, "")
    assert (outcome.outcome, outcome.rows_outside) == ("wrong", 1)
    flipped = cc.judge(rows, {"label": [1, 0, 1], "probabilities": proba}, "")
    assert (flipped.outcome, flipped.rows_outside, flipped.label_mismatches) == ("wrong", 1, 1)
    nan = proba.copy()
    nan[2, 0] = np.nan
    assert cc.judge(rows, {"label": [1, 0, 0], "probabilities": nan}, "").rows_outside == 1
    missing = cc.judge(rows, {"label": [1, 0, 0]}, "")
    assert missing.outcome == "wrong" and missing.rows_outside == 3
    assert missing.reason == "no probabilities output"


def test_regression_within_1e_6_relative_with_the_documented_floor() -> None:
    want = np.array([1000.0, 2000.0, 3000.0, 4000.0, 0.0, -5.0, np.nan])
    rows = _rows("regression", {"prediction": want})
    # 1e-9 off a prediction of 0 is 2.9e-7 of the floor, 1e-6 x the 90th percentile of |values|
    # (3,500): within; 1e-8 is not
    got = want + np.array([5e-4, 0, 0, 0, 1e-9, 0, 0])
    assert cc.judge(rows, {"prediction": got}, "").outcome == "exact"
    got = want + np.array([0, 0, 0, 0, 1e-8, 0, 0])
    assert cc.judge(rows, {"prediction": got}, "").rows_outside == 1
    got = want + np.array([0, 0, 0, 0, 0, 1e-4, 0])  # 2e-5 relative to -5
    outcome = cc.judge(rows, {"prediction": got}, "")
    assert (outcome.outcome, outcome.rows_outside) == ("wrong", 1)
    got = want.copy()
    got[6] = 1.0  # scikit-learn's NaN answered with a number
    assert cc.judge(rows, {"prediction": got}, "").outcome == "wrong"


def test_rows_a_tool_cannot_take_count_against_it_apart() -> None:
    rows = _rows("regression", {"prediction": [1.0, 2.0, 3.0, 4.0]})
    cannot = np.array([False, True, False, False])
    actual = {"prediction": np.array([1.0, np.nan, 3.0, 4.0])}
    outcome = cc.judge(rows, actual, "double", cannot)
    assert outcome.outcome == "wrong"
    assert (outcome.rows_outside, outcome.rows_it_cannot_take) == (1, 1)
    assert outcome.max_abs_error == 0.0  # the errors of the rows it was fed
    everything = cc.judge(rows, {}, "", np.ones(4, dtype=bool))
    assert everything.rows_outside == 4 and everything.reason == "it cannot take any row"
