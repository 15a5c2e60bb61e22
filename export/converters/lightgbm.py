"""LightGBM's LGBMClassifier and LGBMRegressor, read from the booster's own dump
(`booster_.dump_model()`, the trees predict uses: `best_iteration` when early stopping kept one),
computed in float64 as LightGBM computes.

What LightGBM's predict does with a row (C++: `RowFunctionFromDenseMatric`, `Tree::Predict`,
`GBDT::PredictRaw`, the objective's `ConvertOutput`), and the graph's piece for each step:

1. A value with |x| <= kZeroThreshold (1e-35f) is read as 0 (only larger values and NaN are
   kept from a dense row): `Where(Abs(X) <= 1e-35f, 0, X)`.
2. A numerical split (`x <= threshold`, float64 threshold), by its `missing_type`:
   - "NaN": NaN goes the default way (`default_left`);
   - "None": NaN is read as 0.0, so it goes where 0 goes (decided per node at export);
   - "Zero": 0 (and NaN, read as 0) goes the default way: the split reads a copy of the column in
     which 0 is NaN.
3. A categorical split: NaN goes right; otherwise the value truncated toward zero (-0.5 is
   category 0), a negative category goes right, a category in the split's set goes left.
4. The leaf values (shrinkage and the initial score are in them) summed in float64 per class in
   tree order (TreeEnsemble SUM over float64 leaf weights), divided by the number of iterations
   for `average_output` (boosting_type="rf").
5. The objective's transform, in float64: sigmoid (binary, cross_entropy, multiclassova), softmax
   (multiclass), exp (poisson, gamma, tweedie), sign(x)·x·x (reg_sqrt), none (regression, l1,
   huber, fair, quantile, mape).

A pandas `category` column handed to the model reaches it as its code among the categories of
training (`pandas_categorical`), missing and unseen values as NaN; the graph looks the raw value
up the same way (_gbdt.category_codes). The label is what LGBMClassifier.predict returns:
`classes_[argmax(predict_proba)]`, the first maximum on a tie.

Registered only when lightgbm imports; without it there is nothing of LightGBM's to export.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from pipeport.errors import UnsupportedStepError
from pipeport.export.converters._gbdt import (
    BRANCH_LEQ,
    BRANCH_MEMBER,
    Ensemble,
    Split,
    category_codes,
    feature_matrix,
    is_pandas_category,
    pick,
    shifted_codes,
)
from pipeport.export.converters._outputs import argmax_labels, binary_probabilities
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register

#: LightGBM's kZeroThreshold (`const double kZeroThreshold = 1e-35f`): a float literal.
ZERO_THRESHOLD = float(np.float32(1e-35))
IDENTITY = ("regression", "regression_l1", "huber", "fair", "quantile", "mape")
EXP = ("poisson", "gamma", "tweedie")
SIGMOID = ("binary", "cross_entropy")


def parse_objective(text: str) -> tuple[str, dict[str, str], set[str]]:
    """'binary sigmoid:1' -> ('binary', {'sigmoid': '1'}, set()); 'regression sqrt' -> flags."""
    name, *rest = text.split()
    options = dict(token.split(":", 1) for token in rest if ":" in token)
    return name, options, {token for token in rest if ":" not in token}


def _internal_nodes(root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = [root]
    while stack:
        node = stack.pop()
        if "leaf_value" not in node:
            yield node
            stack.extend((node["left_child"], node["right_child"]))


def _leaves(root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = [root]
    while stack:
        node = stack.pop()
        if "leaf_value" in node:
            yield node
        else:
            stack.extend((node["left_child"], node["right_child"]))


def _trees(dump: dict[str, Any]) -> list[dict[str, Any]]:
    return [tree["tree_structure"] for tree in dump["tree_info"]]


class _Columns:
    """The ensemble's input: the model's features (small values read as 0), then a copy with 0
    as NaN of each feature a "Zero" split reads, then the shifted codes of each feature a
    categorical split reads. Maps a feature and the way a split reads it to its column."""

    def __init__(self, n_features: int, zero: list[int], categorical: list[int]) -> None:
        self.n = n_features
        self.zero = {f: n_features + k for k, f in enumerate(zero)}
        self.categorical = {f: n_features + len(zero) + k for k, f in enumerate(categorical)}

    def build(self, g: Graph, X: str) -> str:
        tiny = g.op(
            "LessOrEqual",
            [g.op("Abs", [X], "magnitude"), g.const(np.array([[ZERO_THRESHOLD]]), "k_zero")],
            "is_zero",
        )
        zero = g.const(np.array([[0.0]]), "zero")
        X0 = g.op("Where", [tiny, zero, X], "x_lgbm")
        pieces = [X0]
        if self.zero:
            picked = pick(g, X0, list(self.zero), "zero_missing")
            nan = g.const(np.array([[np.nan]]), "nan")
            is_zero = g.op("Equal", [picked, zero], "equals_zero")
            pieces.append(g.op("Where", [is_zero, nan, picked], "zero_as_nan"))
        if self.categorical:
            picked = pick(g, X, list(self.categorical), "categorical")
            pieces.append(shifted_codes(g, picked, negatives_truncate=True))
        return pieces[0] if len(pieces) == 1 else str(g.op("Concat", pieces, "x_trees", axis=1))

    def describe(self, node: dict[str, Any]) -> Split | float:
        if "leaf_value" in node:
            return float(node["leaf_value"])
        f = int(node["split_feature"])
        left, right = node["left_child"], node["right_child"]
        if node["decision_type"] == "==":
            members = tuple(int(c) for c in str(node["threshold"]).split("||"))
            return Split(self.categorical[f], BRANCH_MEMBER, 0.0, members, False, left, right)
        threshold = float(node["threshold"])
        missing = node["missing_type"]
        if missing == "NaN":
            return Split(f, BRANCH_LEQ, threshold, (), bool(node["default_left"]), left, right)
        if missing == "Zero":
            column = self.zero[f]
            return Split(column, BRANCH_LEQ, threshold, (), bool(node["default_left"]), left, right)
        return Split(f, BRANCH_LEQ, threshold, (), threshold >= 0.0, left, right)  # NaN is 0.0


def _features(model: Any, cols: list[Col], g: Graph, where: str) -> str:
    """[N, F] float64: the model's input, pandas category columns as their training codes."""
    categories = model.booster_.pandas_categorical or []
    replaced: dict[int, str] = {}
    if categories:
        positions = [i for i, col in enumerate(cols) if is_pandas_category(g, col)]
        if len(positions) != len(categories):
            raise UnsupportedStepError(
                f"Step '{where}' ({type(model).__name__}) was fitted on a DataFrame with "
                f"{len(categories)} category column(s), but pipeport finds {len(positions)} raw "
                "category column(s) reaching it; pass the category columns straight to the "
                "model (passthrough), or encode them (OrdinalEncoder) before it"
            )
        for i, values in zip(positions, categories, strict=True):
            replaced[i] = category_codes(g, cols[i], values, where, model, refuses_unseen=False)
    return feature_matrix(g, cols, where, model, replaced)


def _raw_scores(model: Any, cols: list[Col], g: Graph, where: str) -> tuple[str, dict[str, Any]]:
    """[N, K] float64 raw scores (LightGBM's predict(raw_score=True)), and the dump."""
    dump = model.booster_.dump_model()
    trees = _trees(dump)
    zero: set[int] = set()
    categorical: set[int] = set()
    for root in trees:
        for node in _internal_nodes(root):
            if node["decision_type"] == "==":
                categorical.add(int(node["split_feature"]))
            elif node["missing_type"] == "Zero":
                zero.add(int(node["split_feature"]))
    columns = _Columns(len(cols), sorted(zero), sorted(categorical))
    X = columns.build(g, _features(model, cols, g, where))
    per_iteration = int(dump["num_tree_per_iteration"])
    ensemble = Ensemble()
    for t, root in enumerate(trees):
        ensemble.add_tree(root, columns.describe, target=t % per_iteration)
    raw = ensemble.node(g, X, per_iteration, "lgbm_sum")
    if dump.get("average_output"):
        iterations = g.const(np.array([[float(len(trees) // per_iteration)]]), "iterations")
        raw = str(g.op("Div", [raw, iterations], "lgbm_average"))
    return raw, dump


def _sigmoid(g: Graph, raw: str, scale: float) -> str:
    """1 / (1 + exp(-scale * raw)), as LightGBM writes it (double)."""
    scaled = g.op("Mul", [raw, g.const(np.array([[-scale]]), "minus_sigmoid")], "scaled")
    one = g.const(np.array([[1.0]]), "one")
    denominator = g.op("Add", [one, g.op("Exp", [scaled], "exp")], "denominator")
    return str(g.op("Div", [one, denominator], "sigmoid"))


def convert_lgbm_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    raw, dump = _raw_scores(model, cols, g, where)
    name, options, _flags = parse_objective(dump["objective"])
    scale = float(options.get("sigmoid", 1.0))
    if int(dump["num_tree_per_iteration"]) == 1:  # binary, cross_entropy: [1 - p, p]
        probabilities = binary_probabilities(g, _sigmoid(g, raw, scale))
    elif name == "multiclassova":
        probabilities = _sigmoid(g, raw, scale)
    else:
        probabilities = str(g.op("Softmax", [raw], "probabilities", axis=1))
    return ModelOutputs(
        label=lambda: argmax_labels(g, model.classes_, probabilities),
        probabilities=probabilities,
    )


def convert_lgbm_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    raw, dump = _raw_scores(model, cols, g, where)
    name, _options, flags = parse_objective(dump["objective"])
    if name in EXP:
        out = str(g.op("Exp", [raw], "prediction"))
    elif name == "cross_entropy":
        out = _sigmoid(g, raw, 1.0)
    elif "sqrt" in flags:  # sign(x) * x * x
        out = str(g.op("Mul", [g.op("Mul", [g.op("Sign", [raw], "sign"), raw], "sx"), raw], "sq"))
    else:
        out = raw
    return ModelOutputs(prediction=out)


# -- what each converter accepts ------------------------------------------------------------------


def _common_check(model: Any) -> tuple[str | None, dict[str, Any] | None]:
    booster = getattr(model, "_Booster", None)
    if booster is None:
        return "it is not fitted", None
    params = booster.params or {}
    if params.get("linear_tree"):
        return (
            "linear_tree=True (a linear model in each leaf), which pipeport does not export; "
            "train without linear_tree",
            None,
        )
    if params.get("pred_early_stop"):
        return (
            "pred_early_stop=True (predict stops adding trees once a margin is reached), which "
            "pipeport does not export; train without it",
            None,
        )
    dump = booster.dump_model()
    if "objective" not in dump:
        return (
            "its objective is a Python function (a custom objective), so LightGBM's predict "
            "returns raw scores and pipeport cannot know their transform; use a built-in "
            "objective",
            None,
        )
    if any(leaf.get("leaf_coeff") for root in _trees(dump) for leaf in _leaves(root)):
        return "its leaves hold linear models (linear_tree), which pipeport does not export", None
    return None, dump


def _check_classifier(model: Any) -> str | None:
    problem, dump = _common_check(model)
    if problem or dump is None:
        return problem
    name, _options, _flags = parse_objective(dump["objective"])
    per_iteration = int(dump["num_tree_per_iteration"])
    if per_iteration == 1 and name not in SIGMOID:
        return f"its objective ({name}) is not a classification objective pipeport knows"
    if per_iteration > 1 and name not in ("multiclass", "multiclassova"):
        return f"its objective ({name}) is not a classification objective pipeport knows"
    if (per_iteration == 1 and len(model.classes_) != 2) or (
        per_iteration > 1 and per_iteration != len(model.classes_)
    ):
        return "its number of trees per iteration does not match its classes"
    return None


def _check_regressor(model: Any) -> str | None:
    problem, dump = _common_check(model)
    if problem or dump is None:
        return problem
    name, _options, _flags = parse_objective(dump["objective"])
    if name not in IDENTITY + EXP + ("cross_entropy",):
        return (
            f"its objective ({name}) has an output transform pipeport does not export exactly; "
            f"use one of {', '.join(IDENTITY + EXP + ('cross_entropy',))}"
        )
    if int(dump["num_tree_per_iteration"]) != 1:
        return "it predicts several values per row; pipeport exports one prediction per row"
    return None


_FAMILY = "LightGBM"
_EXACT = (
    "LightGBM's own dump; float64 TreeEnsemble (ai.onnx.ml 5) on float64 thresholds and leaf "
    "values, |x| <= 1e-35 read as 0, missing_type None/Zero/NaN and default_left as LightGBM "
    "routes them, categorical splits as set membership on the truncated value, leaves summed in "
    "float64 in tree order"
)


def _library() -> Any:
    """lightgbm, or None where it is not installed (it comes with the boosting extra)."""
    try:
        import lightgbm
    except (ImportError, OSError):  # not installed, or its native library cannot load
        return None
    return lightgbm


lightgbm = _library()

if lightgbm is not None:
    register(
        Converter(
            classes=(lightgbm.LGBMClassifier,),
            role="classifier",
            convert=convert_lgbm_classifier,
            check=_check_classifier,
            family=_FAMILY,
            accepts=(
                "objectives binary (any sigmoid), multiclass, multiclassova, cross_entropy; "
                "boosting gbdt, dart, goss, rf (average_output); missing values (missing_type "
                "None, Zero, NaN; zero_as_missing, use_missing); categorical_feature and pandas "
                "category columns (unseen and missing categories go right, as LightGBM sends "
                "them); early stopping (best_iteration); int or string labels"
            ),
            exactness=_EXACT + "; sigmoid or softmax in float64; label = argmax(predict_proba)",
        )
    )
    register(
        Converter(
            classes=(lightgbm.LGBMRegressor,),
            role="regressor",
            convert=convert_lgbm_regressor,
            check=_check_regressor,
            family=_FAMILY,
            accepts=(
                "objectives regression (reg_sqrt too), regression_l1, huber, fair, quantile, "
                "mape, poisson, gamma, tweedie, cross_entropy; boosting gbdt, dart, goss, rf; "
                "missing values; categorical_feature and pandas category columns"
            ),
            exactness=_EXACT + "; exp link (poisson, gamma, tweedie) in float64",
        )
    )
