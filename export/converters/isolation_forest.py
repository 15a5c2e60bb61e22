"""IsolationForest: anomaly scores (`score_samples`) and inlier/outlier labels (`predict`).

scikit-learn (`IsolationForest._compute_score_samples`) casts X to float32, sends each row down
every tree (tree i reads the columns `estimators_features_[i]`), and adds, in tree order,

    depth of the leaf + average path length of the leaf's training samples - 1.0

(both per-leaf values it computed at fit). Then

    score_samples = -(2 ** -(depths / (n_trees * c(max_samples_))))
    predict       = -1 where score_samples - offset_ < 0, else 1

The graph does the same: X cast to float32 and back (as the other tree converters), one
TreeEnsemble (ai.onnx.ml 5, float64) whose tree i writes its leaf's precomputed term, in float64,
to its own target i, so no two trees are added inside the op; then ReduceSum over the trees of a
[N, trees, 1] tensor (tree order, as scikit-learn's `depths +=`), Div, Neg, Pow(2, .), Neg,
and the label from `score - offset_ < 0`, the comparison scikit-learn makes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length

from pipeport.export.converters.tree_ensembles import _FlatTrees, _input, _sklearn_tree
from pipeport.export.graph import INT64, Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register


def _tree_terms(model: Any, i: int) -> np.ndarray:
    """Per node of tree i: depth + average path length - 1.0, as scikit-learn adds it."""
    return (model._decision_path_lengths[i] + model._average_path_length_per_tree[i] - 1.0).astype(
        np.float64
    )


def convert_isolation_forest(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    X = _input(model, cols, g, where, float32_cast=True)
    n_features = len(cols)
    flat = _FlatTrees()
    for i, (tree, features) in enumerate(
        zip(model.estimators_, model.estimators_features_, strict=True)
    ):
        arrays = _sklearn_tree(tree)
        if model._max_features != n_features:  # each tree reads its own columns
            feature = np.asarray(arrays["feature"]).copy()
            internal = ~arrays["is_leaf"]
            feature[internal] = np.asarray(features)[feature[internal]]
            arrays["feature"] = feature
        flat.add_tree(**arrays, target=i, node_values=_tree_terms(model, i))
    n_trees = len(model.estimators_)
    terms = flat.add_node(g, X, n_targets=n_trees, hint="path_terms")  # [N, trees]
    shape = g.const(np.array([0, n_trees, 1], np.int64), "trees_1")
    stacked = g.op("Reshape", [terms, shape], "path_terms_3d")
    axes = g.const(np.array([1], np.int64), "axes")
    depths = g.op("ReduceSum", [stacked, axes], "depths", keepdims=0)  # [N, 1]
    denominator = float(n_trees * _average_path_length([model._max_samples])[0])

    def score() -> str:
        if denominator == 0.0:  # one training sample: scikit-learn sets the ratio to 1
            ratio = g.op("Mul", [depths, g.const(np.array([[0.0]]), "zero")], "zeros")
            ratio = g.op("Add", [ratio, g.const(np.array([[1.0]]), "one")], "ratio")
        else:
            ratio = g.op("Div", [depths, g.const(np.array([[denominator]]), "denom")], "ratio")
        exponent = g.op("Neg", [ratio], "exponent")
        power = g.op("Pow", [g.const(np.array([[2.0]]), "two"), exponent], "anomaly")
        return g.op("Neg", [power], "score")

    def label() -> str:
        offset = g.const(np.array([[float(model.offset_)]]), "offset")
        decision = g.op("Sub", [outputs["score"], offset], "decision")
        outlier = g.op("Less", [decision, g.const(np.array([[0.0]]), "zero")], "outlier")
        # 1 - 2 * outlier: -1 for an outlier, 1 for an inlier
        as_int = g.op("Cast", [outlier], "outlier_i64", to=INT64)
        two = g.op("Mul", [as_int, g.const(np.array([[2]], np.int64), "two_i")], "twice")
        flipped = g.op("Sub", [g.const(np.array([[1]], np.int64), "one_i"), two], "label_2d")
        return g.op("Reshape", [flipped, g.const(np.array([-1], np.int64), "flat")], "label")

    outputs = ModelOutputs(score=score, label=label)
    return outputs


def _check(model: Any) -> str | None:
    if not hasattr(model, "_decision_path_lengths"):
        return "it was fitted by a scikit-learn older than 1.4 (no per-tree path lengths)"
    return None


register(
    Converter(
        classes=(IsolationForest,),
        role="outlier_detector",
        convert=convert_isolation_forest,
        check=_check,
        family="anomaly detection",
        accepts="every parameter (contamination 'auto' or a fraction, max_samples, "
        "max_features < 1 with each tree on its own columns, bootstrap); missing values as "
        "scikit-learn routes them",
        exactness="X cast to float32 and back (where scikit-learn casts); each tree's leaf "
        "term (depth + average path length - 1) precomputed in float64 and summed in tree "
        "order; -(2 ** -(depths / (trees * c(max_samples)))); label -1 where "
        "score - offset_ < 0",
    )
)
