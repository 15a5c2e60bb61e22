"""XGBoost's XGBClassifier and XGBRegressor, read from the booster's own saved model
(`save_raw("ubj")`, float32 values bit for bit) and computed in float32 as XGBoost computes.

What XGBoost's predict does with a row (its CPU predictor), and the graph's piece for each step:

1. Every feature is rounded to float32 (the data adapter reads float32); a value equal to the
   estimator's `missing` (NaN by default) is missing: `Cast(float)`, then `Where`.
2. A numerical split: missing goes the default way, otherwise `x < split_condition` (float32
   both) goes left. In the graph: BRANCH_LT on the float32 values, as float64.
3. A categorical split: missing goes the default way; a category in the split's set goes right;
   anything else goes left (a negative or non-category value too). The value is truncated to a
   whole category first (`AsCat`); see _gbdt.shifted_codes.
4. The margin starts at the base score in margin space (XGBoost 3 estimates `base_score` from the
   data; its margin is asked of XGBoost itself, a prediction with no trees) and each tree's leaf
   value (float32) is added in tree order, rounding to float32 after every tree. The graph gets
   each tree's leaf value as its own TreeEnsemble target (so no summation happens there), adds
   the base score to the first, and accumulates with CumSum in float32: XGBoost's order and
   precision exactly. (A float64 sum rounded once differs from XGBoost's in about 95% of rows,
   by a few float32 steps: measured.)
5. The objective's transform in float32: sigmoid `1 / (1 + expf(-x))`, softmax (`expf(x - max)`,
   the sum in double, divided in float32), `expf` (count:poisson, reg:gamma, reg:tweedie). expf is
   computed as float64 exp rounded to float32 (the correctly rounded value glibc's expf returns
   but in rare cases, within one float32 step).

A pandas `category` column reaches the model as its code among the categories XGBoost stored at
training (`get_categories`, XGBoost >= 3.1), missing as missing; XGBoost raises on a category it
never saw, so every runtime refuses such a value too. The label is XGBClassifier.predict's:
`p > 0.5` (float32) for binary:logistic, the first maximum of the probabilities otherwise.

Registered only when xgboost imports; without it there is nothing of XGBoost's to export.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeport.errors import UnsupportedStepError
from pipeport.export.converters._gbdt import (
    BRANCH_LT,
    BRANCH_MEMBER,
    Ensemble,
    Split,
    category_codes,
    feature_matrix,
    is_pandas_category,
    pick,
    shifted_codes,
)
from pipeport.export.converters._outputs import argmax_labels, threshold_labels
from pipeport.export.converters._ubjson import loads
from pipeport.export.graph import DOUBLE, FLOAT, Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register

IDENTITY = (
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:pseudohubererror",
    "reg:absoluteerror",
    "reg:quantileerror",
)
EXP = ("count:poisson", "reg:gamma", "reg:tweedie")
CLASSIFIERS = ("binary:logistic", "multi:softprob", "multi:softmax")


@dataclass(frozen=True)
class _Model:
    """What the converter reads of a fitted XGBoost model."""

    objective: str
    n_margins: int  # margins per row (classes for multi:*, else 1)
    trees: list[dict[str, Any]]  # the trees predict uses, in order
    groups: list[int]  # each tree's margin
    booster: str
    leaf_vector: int
    base_margin: np.ndarray  # float32 [n_margins]


def read_model(model: Any) -> _Model:
    booster = model.get_booster()
    learner = loads(bytes(booster.save_raw("ubj")))["learner"]
    gradient_booster = learner["gradient_booster"]
    name = str(gradient_booster["name"])
    objective = str(learner["objective"]["name"])
    params = learner["learner_model_param"]
    n_margins = max(int(params["num_class"]), int(params.get("num_target", "1")), 1)
    if name != "gbtree":
        return _Model(objective, n_margins, [], [], name, 1, np.zeros(n_margins, np.float32))
    trees_model = gradient_booster["model"]
    trees = list(trees_model["trees"])
    groups = [int(k) for k in trees_model["tree_info"]]
    try:  # XGBModel.predict uses best_iteration when early stopping kept one
        end_iteration = int(model.best_iteration) + 1
    except AttributeError:
        end_iteration = None
    if end_iteration is not None:
        bounds = [int(b) for b in trees_model["iteration_indptr"]]
        end = bounds[min(end_iteration, len(bounds) - 1)]
        trees, groups = trees[:end], groups[:end]
    leaf_vector = max((int(t["tree_param"].get("size_leaf_vector", "1")) for t in trees), default=1)
    return _Model(
        objective, n_margins, trees, groups, name, leaf_vector, base_margin(model, n_margins)
    )


def base_margin(model: Any, n_margins: int) -> np.ndarray:
    """The margin every row starts from, as XGBoost computes it: a prediction that uses no tree
    (iteration_range (1, 1): from iteration 1 up to, not including, iteration 1)."""
    booster = model.get_booster()
    zeros = np.zeros((1, booster.num_features()), np.float32)
    margin = booster.inplace_predict(
        zeros, iteration_range=(1, 1), predict_type="margin", validate_features=False
    )
    return np.asarray(margin, np.float32).reshape(n_margins)


class _Columns:
    """The ensemble's input: the features rounded to float32 (as float64), then the shifted codes
    of each feature a categorical split reads."""

    def __init__(self, n_features: int, categorical: list[int]) -> None:
        self.categorical = {f: n_features + k for k, f in enumerate(categorical)}

    def build(self, g: Graph, X: str, missing: float) -> str:
        X32 = g.op("Cast", [X], "x_f32", to=FLOAT)
        if not math.isnan(missing):  # values equal to `missing` (as float32) are missing
            equal = g.op("Equal", [X32, g.const(np.array([[missing]], np.float32), "missing")])
            nan32 = g.const(np.array([[np.nan]], np.float32), "nan_f32")
            X32 = g.op("Where", [equal, nan32, X32], "x_missing")
        Xd = g.op("Cast", [X32], "x_xgb", to=DOUBLE)
        if not self.categorical:
            return str(Xd)
        codes = shifted_codes(g, pick(g, Xd, list(self.categorical), "categorical"), False)
        return str(g.op("Concat", [Xd, codes], "x_trees", axis=1))


def _tree_nodes(tree: dict[str, Any], columns: _Columns) -> Any:
    """The tree's `describe` (node id -> Split or leaf value)."""
    left, right = tree["left_children"], tree["right_children"]
    feature, condition = tree["split_indices"], tree["split_conditions"]
    default_left, split_type = tree["default_left"], tree["split_type"]
    sets: dict[int, tuple[int, ...]] = {}
    categories = np.asarray(tree["categories"], np.int64)
    for node, start, size in zip(
        tree["categories_nodes"], tree["categories_segments"], tree["categories_sizes"], strict=True
    ):
        sets[int(node)] = tuple(int(c) for c in categories[int(start) : int(start) + int(size)])

    def describe(node: int) -> Split | float:
        if left[node] == -1:
            return float(condition[node])  # a leaf's value (float32)
        f = int(feature[node])
        goes_left = bool(default_left[node])
        if split_type[node] == 1:  # categorical: the set goes right, all else left
            members = sets.get(node, ())
            column = columns.categorical[f]
            if not members:  # every category goes left: "code < -1" never holds
                return Split(column, BRANCH_LT, -1.0, (), not goes_left, right[node], left[node])
            return Split(
                column, BRANCH_MEMBER, 0.0, members, not goes_left, right[node], left[node]
            )
        return Split(f, BRANCH_LT, float(condition[node]), (), goes_left, left[node], right[node])

    return describe


def _features(model: Any, cols: list[Col], g: Graph, where: str) -> str:
    """[N, F] float64: the model's input, pandas category columns as their training codes.

    A raw category column reaches XGBoost as a category (and is re-coded by value) when the
    model was fitted on a DataFrame with enable_categorical; otherwise (an array) as its
    values, read as numbers like any other column."""
    positions = [i for i, col in enumerate(cols) if is_pandas_category(g, col)]
    replaced: dict[int, str] = {}
    if not positions:
        return feature_matrix(g, cols, where, model, replaced)
    booster = model.get_booster()
    types = list(booster.feature_types or [])
    try:
        stored = booster.get_categories(export_to_arrow=True).to_arrow()
    except (AttributeError, ValueError, ImportError):  # no categories stored (or XGBoost < 3.1)
        stored = []
    for i in positions:
        values = stored[i][1] if i < len(stored) else None
        if values is not None:
            replaced[i] = category_codes(
                g, cols[i], values.to_pylist(), where, model, refuses_unseen=True
            )
        elif i < len(types) and types[i] == "c":
            raise UnsupportedStepError(
                f"Step '{where}' ({type(model).__name__}) reads column {cols[i].name!r} as a "
                "pandas category, but its booster holds no categories for it; train it with "
                "XGBoost >= 3.1, which stores them"
            )
    return feature_matrix(g, cols, where, model, replaced)


def _margins(model: Any, cols: list[Col], g: Graph, where: str) -> tuple[str, _Model]:
    """[N, K] float32 margins, exactly XGBoost's predict(output_margin=True)."""
    read = read_model(model)
    categorical = sorted(
        {
            int(tree["split_indices"][node])
            for tree in read.trees
            for node in range(len(tree["left_children"]))
            if tree["split_type"][node] == 1 and tree["left_children"][node] != -1
        }
    )
    columns = _Columns(len(cols), categorical)
    missing = float(model.missing) if model.missing is not None else float("nan")
    X = columns.build(g, _features(model, cols, g, where), missing)
    K = read.n_margins
    per_margin = [0] * K
    targets: list[int] = []
    for k in read.groups:  # each tree its own column, margin by margin, in tree order
        targets.append(per_margin[k])
        per_margin[k] += 1
    width = max(per_margin)
    ensemble = Ensemble()
    for tree, k, position in zip(read.trees, read.groups, targets, strict=True):
        ensemble.add_tree(0, _tree_nodes(tree, columns), target=k * width + position)
    leaves = ensemble.node(g, X, K * width, "xgb_leaves")  # [N, K * width], no sums
    leaves32 = g.op("Cast", [leaves], "leaves_f32", to=FLOAT)
    shape = g.const(np.array([-1, K, width], np.int64), "shape")
    per_tree = g.op("Reshape", [leaves32, shape], "per_tree")
    start = np.zeros((1, K, width), np.float32)
    start[0, :, 0] = read.base_margin  # base + first tree: XGBoost's first rounding
    with_base = g.op("Add", [per_tree, g.const(start, "base_margin")], "with_base")
    sums = g.op("CumSum", [with_base, g.const(np.array(2, np.int64), "axis2")], "running")
    last = g.const(np.array(width - 1, np.int64), "last")
    return str(g.op("Gather", [sums, last], "margin", axis=2)), read  # [N, K] float32


def _exp32(g: Graph, x32: str) -> str:
    """expf(x): float64 exp rounded to float32."""
    e = g.op("Exp", [g.op("Cast", [x32], "x_f64", to=DOUBLE)], "exp")
    return str(g.op("Cast", [e], "exp_f32", to=FLOAT))


def _sigmoid32(g: Graph, margin: str) -> str:
    """1.0f / (1.0f + expf(-x)), each step in float32."""
    one = g.const(np.array([[1.0]], np.float32), "one_f32")
    e = _exp32(g, g.op("Neg", [margin], "minus_margin"))
    return str(g.op("Div", [one, g.op("Add", [one, e], "denominator")], "sigmoid"))


def _softmax32(g: Graph, margin: str) -> str:
    """XGBoost's Softmax: expf(x - max) in float32, summed in double, divided in float32."""
    top = g.op("ReduceMax", [margin, g.const(np.array([1], np.int64), "axis1")], keepdims=1)
    e = _exp32(g, g.op("Sub", [margin, top], "shifted"))
    total = g.op(
        "ReduceSum",
        [g.op("Cast", [e], "e_f64", to=DOUBLE), g.const(np.array([1], np.int64), "axis1")],
        "sum",
        keepdims=1,
    )
    return str(g.op("Div", [e, g.op("Cast", [total], "sum_f32", to=FLOAT)], "softmax"))


def _as_double(g: Graph, x32: str, hint: str) -> str:
    return str(g.op("Cast", [x32], hint, to=DOUBLE))


def convert_xgb_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    margin, read = _margins(model, cols, g, where)
    classes = model.classes_
    if read.objective == "binary:logistic":
        p1 = _sigmoid32(g, margin)
        p0 = g.op("Sub", [g.const(np.array([[1.0]], np.float32), "one_f32"), p1], "p0")
        probabilities = _as_double(g, g.op("Concat", [p0, p1], "proba_f32", axis=1), "proba")
        p1_double = _as_double(g, p1, "p1")
        return ModelOutputs(
            label=lambda: threshold_labels(g, classes, p1_double, 0.5),
            probabilities=probabilities,
        )
    if read.objective == "multi:softmax":  # predict: argmax of the margins; predict_proba: softmax
        margin_double = _as_double(g, margin, "margin_f64")
        probabilities = _as_double(g, _softmax32(g, margin), "proba")
        return ModelOutputs(
            label=lambda: argmax_labels(g, classes, margin_double),
            probabilities=probabilities,
        )
    probabilities = _as_double(g, _softmax32(g, margin), "proba")
    return ModelOutputs(
        label=lambda: argmax_labels(g, classes, probabilities),
        probabilities=probabilities,
    )


def convert_xgb_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    margin, read = _margins(model, cols, g, where)
    if read.objective in EXP:
        out = _exp32(g, margin)
    elif read.objective == "reg:logistic":
        out = _sigmoid32(g, margin)
    else:
        out = margin
    return ModelOutputs(prediction=_as_double(g, out, "prediction"))


# -- what each converter accepts ------------------------------------------------------------------


def _common_check(model: Any) -> tuple[str | None, _Model | None]:
    try:
        read = read_model(model)
    except Exception as exc:  # not fitted (NotFittedError), or a model this reader cannot read
        return f"its booster cannot be read ({type(exc).__name__}: {exc})", None
    if read.booster != "gbtree":
        return (
            f"booster='{read.booster}', which pipeport does not export (dart weighs its trees at "
            "predict time; gblinear is no tree model); use booster='gbtree'",
            None,
        )
    if read.leaf_vector > 1:
        return (
            "multi_strategy='multi_output_tree' (a vector in each leaf), which pipeport does not "
            "export; use the default one_output_per_tree",
            None,
        )
    return None, read


def _check_classifier(model: Any) -> str | None:
    problem, read = _common_check(model)
    if problem or read is None:
        return problem
    if read.objective not in CLASSIFIERS:
        return (
            f"its objective ({read.objective}) is not one pipeport exports; use "
            f"{', '.join(CLASSIFIERS)}"
        )
    n_classes = len(model.classes_)
    if (read.objective == "binary:logistic" and n_classes != 2) or (
        read.objective.startswith("multi:") and (n_classes < 3 or read.n_margins != n_classes)
    ):
        return (
            f"its objective ({read.objective}) does not match its {n_classes} classes; use "
            "binary:logistic for two classes and multi:softprob for more"
        )
    return None


def _check_regressor(model: Any) -> str | None:
    problem, read = _common_check(model)
    if problem or read is None:
        return problem
    known = (*IDENTITY, *EXP, "reg:logistic")
    if read.objective not in known:
        return (
            f"its objective ({read.objective}) is not one pipeport exports; use {', '.join(known)}"
        )
    if read.n_margins != 1:
        return "it predicts several values per row; pipeport exports one prediction per row"
    return None


def _library() -> Any:
    """xgboost, or None where it is not installed (it comes with the boosting extra)."""
    try:
        import xgboost
    except (ImportError, OSError):  # not installed, or its native library cannot load
        return None
    return xgboost


_FAMILY = "XGBoost"
_EXACT = (
    "XGBoost's own saved model (float32 bits); features rounded to float32, BRANCH_LT on the "
    "float32 split conditions, missing values their default way, categorical splits as set "
    "membership; each tree's leaf its own output, accumulated in float32 in tree order from "
    "XGBoost's own base margin (CumSum): XGBoost's arithmetic exactly"
)

xgboost = _library()

if xgboost is not None:
    # pipeport's own `xgboost` estimator (research.boosting): XGBClassifier with any labels
    from pipeport.research.boosting import LabelledXGBClassifier

    register(
        Converter(
            classes=(xgboost.XGBClassifier, LabelledXGBClassifier),
            role="classifier",
            convert=convert_xgb_classifier,
            check=_check_classifier,
            family=_FAMILY,
            accepts=(
                "objectives binary:logistic, multi:softprob, multi:softmax; booster gbtree; "
                "every base_score (set or estimated from the data); missing (NaN or a number); "
                "enable_categorical with pandas category columns (an unseen category refused, "
                "as XGBoost raises); early stopping (best_iteration); num_parallel_tree"
            ),
            exactness=_EXACT + "; sigmoid or softmax in float32; label as XGBClassifier.predict",
        )
    )
    register(
        Converter(
            classes=(xgboost.XGBRegressor,),
            role="regressor",
            convert=convert_xgb_regressor,
            check=_check_regressor,
            family=_FAMILY,
            accepts=(
                "objectives reg:squarederror, reg:squaredlogerror, reg:pseudohubererror, "
                "reg:absoluteerror, reg:quantileerror (one quantile), reg:logistic, "
                "count:poisson, reg:gamma, reg:tweedie; booster gbtree; missing values; "
                "enable_categorical with pandas category columns"
            ),
            exactness=_EXACT + "; expf (poisson, gamma, tweedie) in float32",
        )
    )
