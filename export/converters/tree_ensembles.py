"""ONNX converters for scikit-learn's tree models, in float64, with ai.onnx.ml TreeEnsemble (v5).

Why not skl2onnx's tree converters: they emit TreeEnsembleClassifier/Regressor, whose outputs are
float32 only, and skl2onnx's double path fails type checks in onnxruntime. The v5 `TreeEnsemble`
op takes and returns float64, with float64 thresholds and leaf weights, so we can cast exactly
where scikit-learn casts:

- DecisionTree*, RandomForest*, ExtraTrees*, GradientBoosting*: scikit-learn casts X to float32
  and compares it with float64 thresholds. We do Cast(float32) -> Cast(float64) -> TreeEnsemble.
- HistGradientBoosting*: X stays float64 (thresholds are float64 bin edges). No cast.

Leaves of classification trees hold one probability per class, but a v5 leaf adds one weight to
one target. Forests whose leaves are all pure (fully grown trees) sum per class directly; others
carry each tree's leaf index out of the ensemble and sum the leaves' class fractions with Gather
and ReduceSum (see `convert_tree_classifier`). Both give scikit-learn's sum in float64. Boosting
(one tree per class per stage) maps directly onto v5 targets.

One file registers the ten classes because they share one tree flattener; each class's converter
is a few lines at the bottom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import TensorProto, numpy_helper
from sklearn import ensemble
from sklearn import tree as sktree

from pipeport.export.converters import _special
from pipeport.export.converters._outputs import argmax_labels, outputs
from pipeport.export.graph import ML_DOMAIN, Col, Graph
from pipeport.export.registry import Converter, register


@dataclass
class _FlatTrees:
    """TreeEnsemble v5 attributes for several trees, appended one tree at a time."""

    featureids: list[int] = field(default_factory=list)
    splits: list[float] = field(default_factory=list)
    true_ids: list[int] = field(default_factory=list)
    true_leafs: list[int] = field(default_factory=list)
    false_ids: list[int] = field(default_factory=list)
    false_leafs: list[int] = field(default_factory=list)
    missing_true: list[int] = field(default_factory=list)
    roots: list[int] = field(default_factory=list)
    leaf_targets: list[int] = field(default_factory=list)
    leaf_weights: list[float] = field(default_factory=list)
    max_feature: int = -1

    def add_tree(
        self,
        left: np.ndarray,
        right: np.ndarray,
        is_leaf: np.ndarray,
        feature: np.ndarray,
        threshold: np.ndarray,
        missing_left: np.ndarray,
        target: int | np.ndarray,
        node_values: np.ndarray,
    ) -> None:
        """Append one tree. Each leaf adds node_values[leaf] to output `target` (one target
        for the whole tree, or an array giving one per node)."""
        n = len(left)
        internal = [i for i in range(n) if not is_leaf[i]]
        leaves = [i for i in range(n) if is_leaf[i]]
        node_index = {node_id: len(self.featureids) + k for k, node_id in enumerate(internal)}
        leaf_index = {node_id: len(self.leaf_weights) + k for k, node_id in enumerate(leaves)}
        self.roots.append(len(self.featureids))
        if not internal:  # a tree that is one leaf: a split whose branches reach two copies of
            # it (onnx.reference reads a one-leaf tree's weight at the root's index otherwise)
            only = leaf_index[0]
            self._append_node(0, 0.0, (only, 1), (only + 1, 1), 0)
        for node_id in internal:
            children = []
            for child in (int(left[node_id]), int(right[node_id])):
                if is_leaf[child]:
                    children.append((leaf_index[child], 1))
                else:
                    children.append((node_index[child], 0))
            f = int(feature[node_id])
            self.max_feature = max(self.max_feature, f)
            self._append_node(
                f, float(threshold[node_id]), children[0], children[1], int(missing_left[node_id])
            )
        for node_id in leaves:
            weight = node_values[node_id]
            self.leaf_targets.append(target if isinstance(target, int) else int(target[node_id]))
            self.leaf_weights.append(float(weight))
        if not internal:
            self.leaf_targets.append(self.leaf_targets[-1])
            self.leaf_weights.append(self.leaf_weights[-1])

    def _append_node(
        self, f: int, split: float, true: tuple[int, int], false: tuple[int, int], miss: int
    ) -> None:
        self.featureids.append(f)
        self.splits.append(split)
        self.true_ids.append(true[0])
        self.true_leafs.append(true[1])
        self.false_ids.append(false[0])
        self.false_leafs.append(false[1])
        self.missing_true.append(miss)

    def add_node(self, g: Graph, X: str, n_targets: int, hint: str) -> str:
        """Emit the TreeEnsemble node (SUM over trees, no post transform): [N, n_targets]."""
        return g.op(
            "TreeEnsemble",
            [X],
            hint,
            domain=ML_DOMAIN,
            aggregate_function=1,  # SUM
            post_transform=0,  # NONE
            n_targets=n_targets,
            tree_roots=self.roots,
            nodes_featureids=self.featureids,
            nodes_splits=numpy_helper.from_array(np.asarray(self.splits, np.float64), "splits"),
            nodes_modes=numpy_helper.from_array(
                np.zeros(len(self.featureids), np.uint8),
                "modes",  # BRANCH_LEQ, as scikit-learn
            ),
            nodes_truenodeids=self.true_ids,
            nodes_trueleafs=self.true_leafs,
            nodes_falsenodeids=self.false_ids,
            nodes_falseleafs=self.false_leafs,
            nodes_missing_value_tracks_true=self.missing_true,
            leaf_targetids=self.leaf_targets,
            leaf_weights=numpy_helper.from_array(np.asarray(self.leaf_weights, np.float64), "w"),
        )


def _sklearn_tree(tree: Any) -> dict[str, np.ndarray]:
    t = tree.tree_
    left = t.children_left
    missing = getattr(t, "missing_go_to_left", None)
    return {
        "left": left,
        "right": t.children_right,
        "is_leaf": left == -1,
        "feature": t.feature,
        "threshold": t.threshold,
        "missing_left": np.zeros(len(left), np.uint8) if missing is None else missing,
    }


def _hgb_predictor(predictor: Any) -> dict[str, np.ndarray]:
    nodes = predictor.nodes
    return {
        "left": nodes["left"],
        "right": nodes["right"],
        "is_leaf": nodes["is_leaf"].astype(bool),
        "feature": nodes["feature_idx"],
        "threshold": nodes["num_threshold"],
        "missing_left": nodes["missing_go_to_left"],
    }


# -- shared graph pieces ------------------------------------------------------------------------


def _input(model: Any, cols: list[Col], g: Graph, where: str, float32_cast: bool) -> str:
    X = g.matrix(cols, where, model)
    if float32_cast:  # where scikit-learn casts: X.astype(float32), compared with float64 splits
        X32 = g.op("Cast", [X], "x_f32", to=TensorProto.FLOAT)
        X = g.op("Cast", [X32], "x_f32_f64", to=TensorProto.DOUBLE)
    return X


def _binary_or_softmax(g: Graph, raw: str, n_classes: int, scale: float = 1.0) -> str:
    """scikit-learn's inverse link: expit for two classes (p0 = 1 - p1), softmax otherwise."""
    if n_classes == 2:
        if scale != 1.0:
            raw = g.op("Mul", [raw, g.const(np.array([scale]), "s")], "scaled")
        p1 = _special.expit(g, raw)
        p0 = g.op("Sub", [g.const(np.array([1.0]), "one"), p1], "p0")
        return g.op("Concat", [p0, p1], "proba", axis=1)
    return g.op("Softmax", [raw], "proba", axis=1)


def _classifier(model: Any, g: Graph, proba: str) -> dict[str, str]:
    """label = classes_[argmax(proba)]: np.argmax's rule, the first maximum wins."""
    return outputs(argmax_labels(g, model.classes_, proba), proba)


# -- forests and single trees -------------------------------------------------------------------


def _trees_of(model: Any) -> Sequence[Any]:
    return getattr(model, "estimators_", None) or [model]


def convert_tree_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    """DecisionTreeClassifier, RandomForestClassifier, ExtraTreesClassifier.

    scikit-learn sums the trees' leaf class fractions in tree order, then divides by the number
    of trees. Two exact encodings, chosen per model:

    - Every leaf pure (one class with fraction 1.0; fully grown trees): each leaf adds 1.0 to its
      class, the ensemble sums per class (one target per class). The sums are whole numbers, so
      they are exact whatever order onnxruntime's threads add them in. One traversal per tree
      and no per-tree tensor: the fast path, and the common one.
    - Some leaf mixed: one target per tree carrying the leaf's global index, then Gather each
      leaf's fractions from a [leaves, classes] table and ReduceSum over trees, in tree order.
      (Per-class sums would be exact with one thread only: with several, onnxruntime adds
      groups of trees separately and the last bit of a fraction sum can change.)
    """
    trees = _trees_of(model)
    n_classes = len(model.classes_)
    X = _input(model, cols, g, where, float32_cast=True)
    if all(_pure_leaves(tree, n_classes) for tree in trees):
        total = _class_sums(g, X, trees, n_classes)
    else:
        total = _leaf_fraction_sums(g, X, trees, n_classes)
    if len(trees) > 1:  # scikit-learn: sum of tree probabilities, then /= n_estimators
        n = g.const(np.array([float(len(trees))]), "n_trees")
        proba = g.op("Div", [total, n], "mean_trees")
    else:
        proba = total
    return _classifier(model, g, proba)


def _pure_leaves(tree: Any, n_classes: int) -> bool:
    """Does every leaf give its whole weight (fraction 1.0) to one class?"""
    fractions = tree.tree_.value[tree.tree_.children_left == -1, 0, :n_classes]
    top = -np.sort(-fractions, axis=1)
    return bool(np.all(top[:, 0] == 1.0) and (top.shape[1] == 1 or np.all(top[:, 1] == 0.0)))


def _class_sums(g: Graph, X: str, trees: Sequence[Any], n_classes: int) -> str:
    """[N, classes]: per class, the number of trees whose leaf is of that class."""
    flat = _FlatTrees()
    for tree in trees:
        arrays = _sklearn_tree(tree)
        fractions = tree.tree_.value[:, 0, :n_classes]
        flat.add_tree(
            **arrays,
            target=fractions.argmax(axis=1),
            node_values=fractions.max(axis=1).astype(np.float64),
        )
    return flat.add_node(g, X, n_targets=n_classes, hint="class_sums")


def _leaf_fraction_sums(g: Graph, X: str, trees: Sequence[Any], n_classes: int) -> str:
    """[N, classes]: the leaves' class fractions summed over trees (see convert_tree_classifier)."""
    flat = _FlatTrees()
    tables = []
    rows = 0  # rows of the leaf table so far (not flat's leaves: a one-leaf tree has two)
    for t, tree in enumerate(trees):
        arrays = _sklearn_tree(tree)
        leaves = np.flatnonzero(arrays["is_leaf"])
        leaf_index = np.zeros(len(arrays["is_leaf"]), np.float64)
        leaf_index[leaves] = rows + np.arange(len(leaves))
        rows += len(leaves)
        flat.add_tree(**arrays, target=t, node_values=leaf_index)
        tables.append(tree.tree_.value[leaves, 0, :n_classes])
    ids = flat.add_node(g, X, n_targets=len(trees), hint="leaf_ids")
    ids64 = g.op("Cast", [ids], "leaf_ids_i64", to=TensorProto.INT64)
    table = g.const(np.vstack(tables).astype(np.float64), "leaf_values")
    per_tree = g.op("Gather", [table, ids64], "per_tree", axis=0)  # [N, T, K]
    axes = g.const(np.array([1], np.int64), "axes")
    return g.op("ReduceSum", [per_tree, axes], "sum_trees", keepdims=0)


def convert_tree_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    """DecisionTreeRegressor, RandomForestRegressor, ExtraTreesRegressor."""
    trees = _trees_of(model)
    flat = _FlatTrees()
    for tree in trees:
        value = tree.tree_.value
        flat.add_tree(**_sklearn_tree(tree), target=0, node_values=value[:, 0, 0])
    X = _input(model, cols, g, where, float32_cast=True)
    total = flat.add_node(g, X, n_targets=1, hint="tree_sum")
    if len(trees) > 1:
        n = g.const(np.array([float(len(trees))]), "n_trees")
        return {"prediction": g.op("Div", [total, n], "mean_trees")}
    return {"prediction": total}


# -- gradient boosting --------------------------------------------------------------------------


def _gb_raw(model: Any, cols: list[Col], g: Graph, where: str) -> str:
    """Raw scores of GradientBoosting*: init + sum(learning_rate * leaf), X cast to float32."""
    stages = model.estimators_  # shape (n_stages, K)
    n_targets = stages.shape[1]
    flat = _FlatTrees()
    lr = float(model.learning_rate)
    for stage in stages:
        for k, tree in enumerate(stage):
            value = tree.tree_.value
            flat.add_tree(
                **_sklearn_tree(tree),
                target=k,
                node_values=lr * value[:, 0, 0],  # as scikit-learn: scale * value
            )
    X = _input(model, cols, g, where, float32_cast=True)
    total = flat.add_node(g, X, n_targets=n_targets, hint="gb_sum")
    init = model._raw_predict_init(np.zeros((1, model.n_features_in_), dtype=np.float32))
    init = np.asarray(init, np.float64).reshape(1, n_targets)
    return g.op("Add", [total, g.const(init, "gb_init")], "gb_raw")


def convert_gb_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    loss = type(model._loss).__name__
    raw = _gb_raw(model, cols, g, where)
    scale = 2.0 if loss == "ExponentialLoss" else 1.0  # exponential loss: p1 = expit(2 * raw)
    proba = _binary_or_softmax(g, raw, len(model.classes_), scale)
    return {**_classifier(model, g, proba), "decision": raw}  # decision_function: the raw score


def convert_gb_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    return {"prediction": _gb_raw(model, cols, g, where)}


def _hgb_raw(model: Any, cols: list[Col], g: Graph, where: str) -> str:
    """Raw scores of HistGradientBoosting*: baseline + sum of leaf values, X in float64."""
    from pipeport.export.converters import hgb_categorical

    n_targets = model.n_trees_per_iteration_
    if hgb_categorical.has_categorical(model):  # set splits on its own category codes
        flat, X = hgb_categorical.categorical_trees(model, cols, g, where)
    else:
        flat = _FlatTrees()
        for iteration in model._predictors:
            for k, predictor in enumerate(iteration):
                flat.add_tree(
                    **_hgb_predictor(predictor), target=k, node_values=predictor.nodes["value"]
                )
        X = _input(model, cols, g, where, float32_cast=False)
    total = flat.add_node(g, X, n_targets=n_targets, hint="hgb_sum")
    baseline = np.asarray(model._baseline_prediction, np.float64).reshape(1, n_targets)
    return g.op("Add", [total, g.const(baseline, "hgb_base")], "hgb_raw")


def convert_hgb_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    raw = _hgb_raw(model, cols, g, where)  # decision_function: [N, 1] binary, [N, K] otherwise
    return {
        **_classifier(model, g, _binary_or_softmax(g, raw, len(model.classes_))),
        "decision": raw,
    }


def convert_hgb_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    raw = _hgb_raw(model, cols, g, where)
    if type(model._loss.link).__name__ == "LogLink":
        return {"prediction": g.op("Exp", [raw], "prediction")}
    return {"prediction": raw}


# -- what each converter accepts ------------------------------------------------------------------


def _check_single_output(model: Any) -> str | None:
    if getattr(model, "n_outputs_", 1) != 1:
        return "it predicts several targets; pipeport exports one prediction per row"
    return None


def _check_gb_classifier(model: Any) -> str | None:
    loss = type(model._loss).__name__
    if loss not in ("HalfBinomialLoss", "HalfMultinomialLoss", "ExponentialLoss"):
        return f"its loss ({loss}) is not one pipeport knows"
    return None


def _check_hgb(model: Any) -> str | None:
    from pipeport.export.converters import hgb_categorical

    if hgb_categorical.has_categorical(model):
        problem = hgb_categorical.check_categorical(model)
        if problem:
            return problem
    if not hasattr(model, "classes_"):
        link = type(model._loss.link).__name__
        if link not in ("IdentityLink", "LogLink"):
            return f"its link ({link}) is not one pipeport knows"
    return None


_CAST = "X cast to float32 and back (where scikit-learn casts), float64 TreeEnsemble (ai.onnx.ml 5)"
_FAMILY = "trees and boosting"
register(
    Converter(
        classes=(
            sktree.DecisionTreeClassifier,
            ensemble.RandomForestClassifier,
            ensemble.ExtraTreesClassifier,
        ),
        role="classifier",
        convert=convert_tree_classifier,
        check=_check_single_output,
        family=_FAMILY,
        accepts="every parameter; one target; missing values as scikit-learn routes them",
        exactness=_CAST + "; leaf class fractions summed in tree order",
    )
)
register(
    Converter(
        classes=(
            sktree.DecisionTreeRegressor,
            ensemble.RandomForestRegressor,
            ensemble.ExtraTreesRegressor,
        ),
        role="regressor",
        convert=convert_tree_regressor,
        check=_check_single_output,
        family=_FAMILY,
        accepts="every parameter; one target",
        exactness=_CAST,
    )
)
register(
    Converter(
        classes=(ensemble.GradientBoostingClassifier,),
        role="classifier",
        convert=convert_gb_classifier,
        check=_check_gb_classifier,
        family=_FAMILY,
        accepts="loss log_loss, exponential",
        exactness=_CAST + "; init + learning_rate * leaf values, expit or softmax",
    )
)
register(
    Converter(
        classes=(ensemble.GradientBoostingRegressor,),
        role="regressor",
        convert=convert_gb_regressor,
        family=_FAMILY,
        accepts="every loss (squared_error, absolute_error, huber, quantile)",
        exactness=_CAST + "; init + learning_rate * leaf values",
    )
)
register(
    Converter(
        classes=(ensemble.HistGradientBoostingClassifier,),
        role="classifier",
        convert=convert_hgb_classifier,
        check=_check_hgb,
        family=_FAMILY,
        accepts="numeric features, missing values, categorical_features (indices, mask, names "
        "or 'from_dtype'; native set splits, unknown and missing categories routed as "
        "scikit-learn routes them)",
        exactness="float64 TreeEnsemble on the float64 bin thresholds (no cast), baseline + sum; "
        "categorical splits as set-membership nodes on the model's own category codes",
    )
)
register(
    Converter(
        classes=(ensemble.HistGradientBoostingRegressor,),
        role="regressor",
        convert=convert_hgb_regressor,
        check=_check_hgb,
        family=_FAMILY,
        accepts="losses with identity or log link (squared_error, absolute_error, quantile, "
        "poisson, gamma); categorical_features (native set splits)",
        exactness="float64 TreeEnsemble on the float64 bin thresholds, baseline + sum, exp link; "
        "categorical splits as set-membership nodes on the model's own category codes",
    )
)
