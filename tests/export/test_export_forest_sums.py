"""Classifier forests: the graph sums the trees' class fractions exactly as scikit-learn does.

The converter has two encodings (export/converters/tree_ensembles.py): per-class sums when every
leaf is pure, leaf indices + Gather + ReduceSum when some leaf is mixed. These tests train both
kinds (fully grown trees; shallow trees with large leaves on overlapping classes) and check, on
held-out and stress rows, one row and many, that onnxruntime with one thread and with several
(which changes the order in which it adds trees) and the ONNX reference evaluator return
scikit-learn's probabilities to the last bit and its labels, ties included.
"""

from __future__ import annotations

import export_testkit as kit
import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from pipeport.export.onnx_export import read_metadata, to_onnx

# (estimator, parameters, are all leaves pure?)
FORESTS = {
    "rf-mixed": ("random_forest", {"n_estimators": 120, "max_depth": 3, "min_samples_leaf": 9}),
    "et-mixed": ("extra_trees", {"n_estimators": 90, "max_depth": 4, "min_samples_leaf": 5}),
    "tree-mixed": ("decision_tree", {"max_depth": 2}),
    "rf-pure": ("random_forest", {"n_estimators": 120}),
    "et-pure": ("extra_trees", {"n_estimators": 90}),
}


@pytest.fixture(scope="module", params=sorted(FORESTS))
def forest(request: pytest.FixtureRequest, synthetic_csv, tmp_path_factory):
    estimator, params = FORESTS[request.param]
    raw = kit.train_config(
        synthetic_csv,
        kit.SYN_CLASS_TARGET,
        kit.SYN_NUMERIC,
        kit.SYN_CATEGORICAL,
        "classification",
        estimator,
        params,
    )
    pipeline, holdout = kit.train_raw(raw, tmp_path_factory.mktemp(request.param))
    features = kit.SYN_NUMERIC + kit.SYN_CATEGORICAL
    stress = kit.stress_rows(holdout[features], kit.SYN_CATEGORICAL, 1_500, seed=5)
    frame = pd.concat([holdout[features].astype(object), stress], ignore_index=True)
    model = to_onnx(pipeline, holdout, "mixed", generated_rows=kit.GATE_ROWS, seed=0)
    return request.param, pipeline, model, frame


def _session(model, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def test_each_encoding_is_the_one_the_leaves_call_for(forest):
    name, pipeline, model, _frame = forest
    model_step = pipeline[-1]
    trees = getattr(model_step, "estimators_", [model_step])
    mixed_leaves = 0
    for tree in trees:
        leaf = tree.tree_.children_left == -1
        mixed_leaves += int(((tree.tree_.value[leaf, 0, :] > 0).sum(axis=1) > 1).sum())
    ops = {n.op_type for n in model.graph.node}
    if name.endswith("-mixed"):
        assert mixed_leaves >= len(trees)  # else this file would not test mixed leaves
        assert {"Gather", "ReduceSum"} <= ops
    else:
        assert mixed_leaves == 0
        assert "ReduceSum" not in ops


@pytest.mark.parametrize("threads", [1, 2])
def test_probabilities_are_scikit_learns_to_the_bit(forest, threads):
    _name, pipeline, model, frame = forest
    feeds = kit.contract_feeds(read_metadata(model), frame)
    expected = pipeline.predict_proba(frame)
    # One row and 30 rows too: onnxruntime splits the trees or the rows across threads
    # differently by batch size.
    for n in (len(frame), 1, 30):
        batch = {name: value[:n] for name, value in feeds.items()}
        label, proba = _session(model, threads).run(["label", "probabilities"], batch)
        n = len(proba)
        np.testing.assert_array_equal(proba, expected[:n])
        assert (label.astype(str) == pipeline.predict(frame.iloc[:n]).astype(str)).all()


def test_reference_evaluator_agrees(forest):
    _name, pipeline, model, frame = forest
    feeds = kit.contract_feeds(read_metadata(model), frame.iloc[:300])
    label, proba = ReferenceEvaluator(model).run(["label", "probabilities"], feeds)
    np.testing.assert_allclose(proba, pipeline.predict_proba(frame.iloc[:300]), rtol=0, atol=1e-15)
    assert (label.astype(str) == pipeline.predict(frame.iloc[:300]).astype(str)).all()


def test_a_corrupted_leaf_value_is_caught(forest):
    """The check above can fail: nudge the leaf weights (pure) or fractions (mixed) by 1e-9."""
    _name, pipeline, model, frame = forest
    corrupted = type(model)()
    corrupted.CopyFrom(model)
    leaf_values = next((i for i in corrupted.graph.initializer if "leaf_values" in i.name), None)
    if leaf_values is not None:
        tensor = leaf_values
    else:
        tree_node = next(n for n in corrupted.graph.node if n.op_type == "TreeEnsemble")
        tensor = next(a for a in tree_node.attribute if a.name == "leaf_weights").t
    values = numpy_helper.to_array(tensor).copy()
    values[values > 0] += 1e-9
    tensor.CopyFrom(numpy_helper.from_array(values, tensor.name))
    feeds = kit.contract_feeds(read_metadata(model), frame)
    _label, proba = _session(corrupted, 1).run(["label", "probabilities"], feeds)
    assert not np.array_equal(proba, pipeline.predict_proba(frame))


@pytest.mark.parametrize("kind", ["gb-regressor", "forest-classifier"])
def test_trees_that_are_one_leaf_agree_in_the_reference_evaluator(kind):
    """onnx.reference reads a one-leaf tree's weight at the root's index, unless the root's
    branches reach two copies of the leaf (as the flattener writes them)."""
    import pandas as pd
    from onnx.reference import ReferenceEvaluator
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

    import pipeport
    from pipeport.contract import frame_to_feeds

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.random(300), "b": rng.random(300)})
    y = (X["a"] > 0.5).astype(float) * 3
    if kind == "gb-regressor":
        model = GradientBoostingRegressor(n_estimators=30, max_depth=1, min_impurity_decrease=10)
        model.fit(X, y)
        assert all(e[0].tree_.node_count == 1 for e in model.estimators_)
        output, expected = "prediction", model.predict(X.head(50)).reshape(-1, 1)
    else:
        model = RandomForestClassifier(
            n_estimators=20, max_depth=1, min_impurity_decrease=0.6, random_state=0
        ).fit(X, (y > 0).astype(int))
        assert all(e.tree_.node_count == 1 for e in model.estimators_)
        output, expected = "probabilities", model.predict_proba(X.head(50))
    exported = pipeport.to_onnx(model, X, kind, generated_rows=200)
    feeds = frame_to_feeds(X.head(50), pipeport.read_metadata(exported))
    got = ReferenceEvaluator(exported).run([output], feeds)[0]
    np.testing.assert_array_equal(got, expected)
