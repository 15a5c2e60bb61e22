"""The parity gate catches real errors: perturb one learned value of an exported graph and
export.onnx_export.compare_with_sklearn (the gate's comparison) must fail.

Each perturbation is small and its effect is known independently: the same value is perturbed in
a copy of the scikit-learn pipeline, and that copy's outputs (not the exporter's) say which rows
must be reported and by how much. A tree threshold is moved by the smallest amount that sends one
row down the other branch (and, as a control, by a larger amount that moves no row: the gate
must then pass, so it reacts to outputs, not to the graph's bytes).
"""

from __future__ import annotations

import copy

import export_testkit as kit
import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import numpy_helper

from pipeport.export.onnx_export import compare_with_sklearn


@pytest.fixture(scope="module")
def penguin_rows() -> pd.DataFrame:
    """Every penguin, raw, as read_csv gives it (features of both tasks)."""
    return pd.read_csv(kit.PENGUINS)


def _gate(trained, model: onnx.ModelProto, frame: pd.DataFrame):
    return compare_with_sklearn(trained.pipeline, model, frame[trained.features])


def _initializer(model: onnx.ModelProto, value: np.ndarray) -> onnx.TensorProto:
    """The one initializer holding exactly `value` (found by its content, not by its name)."""
    hits = [
        init
        for init in model.graph.initializer
        if numpy_helper.to_array(init).size == value.size
        and np.array_equal(numpy_helper.to_array(init).ravel(), np.asarray(value).ravel())
    ]
    assert len(hits) == 1, f"{len(hits)} initializers hold {value}"
    return hits[0]


def _replace(init: onnx.TensorProto, array: np.ndarray) -> None:
    init.CopyFrom(
        numpy_helper.from_array(array.astype(numpy_helper.to_array(init).dtype), init.name)
    )


def _sklearn_difference(
    original, mutated, task: str, frame: pd.DataFrame
) -> tuple[np.ndarray, float]:
    """Rows where the mutated scikit-learn pipeline leaves the tolerance, and the largest error."""
    if task == "classification":
        error = np.abs(mutated.predict_proba(frame) - original.predict_proba(frame)).max(axis=1)
        flipped = mutated.predict(frame).astype(str) != original.predict(frame).astype(str)
        return (error > kit.PROBA_ATOL) | flipped, float(error.max())
    before, after = original.predict(frame), mutated.predict(frame)
    error = np.abs(after - before) / np.abs(before)
    return error > kit.REGRESSION_RTOL, float(error.max())


def _tree_node(model: onnx.ModelProto) -> onnx.NodeProto:
    (tree,) = [n for n in model.graph.node if n.op_type == "TreeEnsemble"]
    return tree


def _splits(tree: onnx.NodeProto) -> onnx.AttributeProto:
    (attr,) = [a for a in tree.attribute if a.name == "nodes_splits"]
    return attr


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_gate_fails_when_a_tree_threshold_moves_past_one_row(penguins, penguin_rows, task):
    trained = penguins("decision_tree", task)
    model = trained.exported()
    sk_tree = trained.pipeline[-1].tree_
    splits = numpy_helper.to_array(_splits(_tree_node(model)).t)
    # the root of the only tree is the first split (checked against scikit-learn, not assumed)
    assert splits[0] == sk_tree.threshold[0]
    feature = sk_tree.feature[0]
    # scikit-learn compares float32 features with float64 thresholds
    x = trained.pipeline[:-1].transform(penguin_rows[trained.features])[:, feature]
    x = x.astype(np.float32).astype(np.float64)
    highest_left = x[x <= sk_tree.threshold[0]].max()

    def mutated_graph(threshold: float) -> onnx.ModelProto:
        mutated = copy.deepcopy(model)
        attr = _splits(_tree_node(mutated))
        values = numpy_helper.to_array(attr.t).copy()
        values[0] = threshold
        attr.t.CopyFrom(numpy_helper.from_array(values, attr.t.name))
        return mutated

    # control: down to the highest value that still goes left -- no row changes branch
    assert _gate(trained, mutated_graph(highest_left), penguin_rows).passed is True

    # one ulp lower: the rows at that value now go right
    threshold = np.nextafter(highest_left, -np.inf)
    oracle = copy.deepcopy(trained.pipeline)
    oracle[-1].tree_.threshold[0] = threshold
    rows = penguin_rows[trained.features]
    changed, _ = _sklearn_difference(trained.pipeline, oracle, task, rows)
    assert changed.sum() >= 1  # the perturbation is real: scikit-learn itself changes
    report = _gate(trained, mutated_graph(threshold), penguin_rows)
    assert report.passed is False
    assert report.rows_outside_tolerance == int(changed.sum())
    assert {w["row"] for w in report.worst} <= set(np.flatnonzero(changed).tolist())


def test_gate_fails_when_a_scaler_mean_shifts(penguins, penguin_rows):
    trained = penguins("ridge", "regression")
    model = copy.deepcopy(trained.exported())
    scaler = trained.pipeline[0].named_transformers_["numeric"].named_steps["scale"]
    init = _initializer(model, scaler.mean_.reshape(1, -1))
    mean = scaler.mean_.copy()
    mean[0] += 1e-4 * scaler.scale_[0]  # a ten-thousandth of a standard deviation
    _replace(init, mean.reshape(1, -1))
    oracle = copy.deepcopy(trained.pipeline)
    oracle[0].named_transformers_["numeric"].named_steps["scale"].mean_ = mean
    changed, worst = _sklearn_difference(trained.pipeline, oracle, "regression", penguin_rows)
    assert changed.any()
    report = _gate(trained, model, penguin_rows)
    assert report.passed is False
    assert report.rows_outside_tolerance == int(changed.sum())
    assert report.max_rel_error == pytest.approx(worst, rel=1e-6)


def test_gate_fails_when_a_scaler_scale_changes(penguins, penguin_rows):
    trained = penguins("logistic_regression", "classification")
    model = copy.deepcopy(trained.exported())
    scaler = trained.pipeline[0].named_transformers_["numeric"].named_steps["scale"]
    init = _initializer(model, scaler.scale_.reshape(1, -1))
    scale = scaler.scale_.copy()
    scale[1] *= 1 + 1e-4
    _replace(init, scale.reshape(1, -1))
    oracle = copy.deepcopy(trained.pipeline)
    oracle[0].named_transformers_["numeric"].named_steps["scale"].scale_ = scale
    changed, worst = _sklearn_difference(trained.pipeline, oracle, "classification", penguin_rows)
    assert changed.any() and worst < 1e-3  # small, but well above the 1e-6 tolerance
    report = _gate(trained, model, penguin_rows)
    assert report.passed is False
    assert report.rows_outside_tolerance == int(changed.sum())
    assert report.max_abs_error == pytest.approx(worst, rel=1e-6)


def test_gate_fails_when_a_linear_coefficient_changes(penguins, penguin_rows):
    trained = penguins("logistic_regression", "classification")
    model = copy.deepcopy(trained.exported())
    coef = trained.pipeline[-1].coef_  # [classes, features]; the graph holds its transpose
    init = _initializer(model, coef.T.copy())
    mutated = coef.copy()
    mutated[2, 0] *= 1 + 1e-4
    _replace(init, mutated.T.copy())
    oracle = copy.deepcopy(trained.pipeline)
    oracle[-1].coef_ = mutated
    changed, worst = _sklearn_difference(trained.pipeline, oracle, "classification", penguin_rows)
    assert changed.any() and worst < 1e-3
    report = _gate(trained, model, penguin_rows)
    assert report.passed is False
    assert report.rows_outside_tolerance == int(changed.sum())
    assert report.max_abs_error == pytest.approx(worst, rel=1e-6)


def test_gate_fails_when_a_one_hot_category_string_changes(penguins, penguin_rows):
    trained = penguins("logistic_regression", "classification")
    model = copy.deepcopy(trained.exported())
    encoders = [n for n in model.graph.node if n.op_type == "LabelEncoder"]
    keys = {
        n.name: [k.decode() for a in n.attribute if a.name == "keys_strings" for k in a.strings]
        for n in encoders
    }
    (name,) = [n for n, k in keys.items() if "Dream" in k]  # the island encoder
    node = next(n for n in encoders if n.name == name)
    attr = next(a for a in node.attribute if a.name == "keys_strings")
    position = keys[name].index("Dream")
    attr.strings[position] = b"Dream "  # one trailing space
    oracle = copy.deepcopy(trained.pipeline)
    encoder = oracle[0].named_transformers_["categorical"].named_steps["onehot"]
    column = list(oracle[0].named_transformers_["categorical"].feature_names_in_).index("island")
    categories = encoder.categories_[column].copy()
    assert categories[position] == "Dream"
    categories[position] = "Dream "
    encoder.categories_[column] = categories
    changed, _ = _sklearn_difference(trained.pipeline, oracle, "classification", penguin_rows)
    assert changed.sum() >= 1
    report = _gate(trained, model, penguin_rows)
    assert report.passed is False
    assert report.rows_outside_tolerance == int(changed.sum())
    dream_rows = set(np.flatnonzero(penguin_rows["island"].to_numpy() == "Dream").tolist())
    assert {w["row"] for w in report.worst} <= dream_rows
