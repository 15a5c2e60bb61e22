"""Parity per estimator and task: the exported graph returns what scikit-learn returns.

For every estimator of research.estimators.ESTIMATORS and every task it supports, on penguins and
on a generated data set (awkward column names, integer/boolean columns, missing values in every
column, 10 integer classes): the export gate passes, and an onnxruntime session fed by this test
kit as docs/onnx-contract.md says agrees with scikit-learn on the held-out rows plus stress rows
the test kit generates itself (missing values, unseen categories, far-out numbers).
"""

from __future__ import annotations

import export_testkit as kit
import numpy as np
import pandas as pd
import pytest
from export_testkit import GATE_ROWS

from pipeport.export.onnx_export import read_metadata, to_onnx

ESTIMATOR_TASKS = kit.estimator_tasks()
IDS = [f"{e}-{t}" for e, t in ESTIMATOR_TASKS]


def _outputs(task: str) -> list[str]:
    return ["label", "probabilities"] if task == "classification" else ["prediction"]


def _check_gate_and_runtime(trained, categorical: list[str], seed: int) -> None:
    model = trained.exported()
    meta = read_metadata(model)
    parity = meta["parity"]
    assert parity["passed"] is True and parity["forced"] is False
    assert parity["rows"] == len(trained.holdout) + GATE_ROWS
    assert parity["label_mismatches"] == 0
    assert parity["max_abs_error"] <= (kit.PROBA_ATOL if trained.task == "classification" else 1.0)
    if trained.task == "regression":
        assert parity["max_rel_error"] <= kit.REGRESSION_RTOL

    stress = kit.stress_rows(trained.sample, categorical, 1_000, seed)
    frame = pd.concat([trained.sample.astype(object), stress], ignore_index=True)
    session = kit.ort_session(model)
    outputs = session.run(_outputs(trained.task), kit.contract_feeds(meta, frame))
    kit.assert_matches_sklearn(trained.pipeline, trained.task, frame, outputs)


@pytest.mark.parametrize(("estimator", "task"), ESTIMATOR_TASKS, ids=IDS)
def test_penguins_graph_matches_sklearn_for_every_estimator(penguins, estimator, task):
    trained = penguins(estimator, task)
    categorical = (
        ["species", *kit.PENGUIN_CATEGORICAL] if task == "regression" else kit.PENGUIN_CATEGORICAL
    )
    _check_gate_and_runtime(trained, categorical, seed=11)


@pytest.mark.parametrize(("estimator", "task"), ESTIMATOR_TASKS, ids=IDS)
def test_synthetic_graph_matches_sklearn_for_every_estimator(synthetic, estimator, task):
    trained = synthetic(estimator, task)
    _check_gate_and_runtime(trained, kit.SYN_CATEGORICAL, seed=12)


@pytest.mark.parametrize(
    ("estimator", "task"),
    [("random_forest", "classification"), ("gradient_boosting", "regression")],
)
def test_gate_checks_10000_generated_rows_by_default(penguins, estimator, task):
    trained = penguins(estimator, task)
    model = to_onnx(trained.pipeline, trained.holdout, "full")
    parity = read_metadata(model)["parity"]
    assert parity["rows"] == len(trained.holdout) + 10_000
    assert parity["passed"] is True
    assert parity["label_mismatches"] == 0


def test_synthetic_onnx_input_names_map_back_to_raw_names(synthetic, synthetic_csv):
    trained = synthetic("logistic_regression", "classification")
    model = trained.exported()
    meta = read_metadata(model)
    inputs = meta["inputs"]
    assert [i["name"] for i in inputs] == kit.SYN_NUMERIC + kit.SYN_CATEGORICAL
    assert [i["onnx_name"] for i in inputs] == [i.name for i in model.graph.input]
    assert len({i["onnx_name"] for i in inputs}) == len(inputs)
    kinds = {i["name"]: i["kind"] for i in inputs}
    assert kinds == {
        **{c: "numeric" for c in kit.SYN_NUMERIC},
        **{c: "categorical" for c in kit.SYN_CATEGORICAL},
    }
    by_name = {i["name"]: i for i in inputs}
    raw = pd.read_csv(synthetic_csv)
    # categories as the contract spells them: integers "3", booleans "True", text as is
    assert by_name["zone id"]["categories"] == sorted(
        str(int(v)) for v in raw["zone id"].dropna().unique()
    )
    assert by_name["is.adult"]["categories"] == ["False", "True"]
    assert by_name["島"]["categories"] == sorted(raw["島"].dropna().unique())
    assert by_name["colour-name"]["categories"] == ["blue-ish", "dark red", "grün", "ψ"]
    for entry in inputs:
        expected_type = "tensor(string)" if entry["kind"] == "categorical" else "tensor(double)"
        assert entry["onnx_type"] == expected_type
        assert entry["missing_value"] == ("" if entry["kind"] == "categorical" else "NaN")
    graph_types = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    for entry in inputs:  # 8 = STRING, 11 = DOUBLE in onnx.TensorProto
        assert graph_types[entry["onnx_name"]] == (8 if entry["kind"] == "categorical" else 11)


def test_synthetic_integer_labels_and_classes_in_probability_order(synthetic):
    trained = synthetic("random_forest", "classification")
    model = trained.exported()
    meta = read_metadata(model)
    assert meta["classes"] == kit.SYN_CLASSES
    assert meta["outputs"]["label"]["onnx_type"] == "tensor(int64)"
    session = kit.ort_session(model)
    label, proba = session.run(["label", "probabilities"], kit.contract_feeds(meta, trained.sample))
    assert label.dtype == np.int64
    assert proba.shape == (len(trained.sample), len(kit.SYN_CLASSES))
    # column k of probabilities is classes[k]: the label is the class of the largest column
    np.testing.assert_array_equal(label, np.asarray(meta["classes"])[np.argmax(proba, axis=1)])
    np.testing.assert_array_equal(label, trained.pipeline.predict(trained.sample))


@pytest.mark.parametrize(
    ("estimator", "task"),
    [
        ("logistic_regression", "classification"),
        ("hist_gradient_boosting", "classification"),
        ("extra_trees", "regression"),
        ("mlp", "regression"),
    ],
)
def test_synthetic_unseen_and_missing_categories_match_sklearn(synthetic, estimator, task):
    trained = synthetic(estimator, task)
    model = trained.exported()
    meta = read_metadata(model)
    rows = trained.sample.astype(object).reset_index(drop=True)
    seen = {i["name"]: set(i["categories"]) for i in meta["inputs"] if i["kind"] == "categorical"}
    for j, column in enumerate(kit.SYN_CATEGORICAL):
        # every row: this column unseen on one third, missing on one third, unchanged otherwise
        rows.loc[rows.index % 3 == j % 3, column] = f"unseen {column} ü"
        rows.loc[rows.index % 3 == (j + 1) % 3, column] = None
        assert f"unseen {column} ü" not in seen[column]
    rows.loc[rows.index % 4 == 0, "a.b"] = np.nan
    feeds = kit.contract_feeds(meta, rows)
    for entry in meta["inputs"]:  # fed as the contract says: "" and NaN for missing
        fed = feeds[entry["onnx_name"]][:, 0]
        missing = rows[entry["name"]].isna().to_numpy()
        if entry["kind"] == "categorical":
            assert (fed[missing] == "").all()
        else:
            assert np.isnan(fed[missing]).all()
    session = kit.ort_session(model)
    outputs = session.run(_outputs(task), feeds)
    kit.assert_matches_sklearn(trained.pipeline, task, rows, outputs)


def test_a_number_where_scikit_learn_answers_nan_is_a_named_row():
    """The gate fails, and names the row: replay and the parity report list it."""
    import numpy as np
    import pandas as pd

    from pipeport.export.parity import compare

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    expected = {"prediction": np.array([10.0, np.nan, np.inf])}
    agree = compare("regression", expected, {"prediction": np.array([10.0, np.nan, np.inf])}, frame)
    assert agree.passed and agree.outside == []
    differ = compare("regression", expected, {"prediction": np.array([10.0, 5.0, np.inf])}, frame)
    assert not differ.passed
    assert differ.outside == [1] and differ.rows_outside_tolerance == 1
    assert differ.max_rel_error == float("inf")
