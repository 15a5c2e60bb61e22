"""LightGBM and XGBoost graphs, row by row against the libraries' own predictions.

Every expected value comes from LightGBM's or XGBoost's predict on the same raw rows, never from
the exporter: values exactly on each split threshold and one float32 (and one float64) step
either side, NaN and zero routed by each missing_type, categories unseen, negative, fractional
and huge, the base score of every default. Regression outputs whose arithmetic the graph repeats
operation for operation are compared bit for bit; outputs behind an exp are compared to the last
few bits; and a learned value moved in the graph (a leaf, a threshold) is caught by the gate on
exactly the rows where the library itself, with the same value moved, changes its answer.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from typing import Any

import export_testkit as kit
import lightgbm as lgb
import numpy as np
import onnx
import pandas as pd
import pytest
import xgboost as xgb
from onnx import numpy_helper

from pipeport.contract import frame_to_feeds
from pipeport.errors import RawInputError
from pipeport.export.onnx_export import compare_with_sklearn, read_metadata, to_onnx
from pipeport.schema import ModelSchema

K_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold
FEATURES = ["a", "b", "c", "d"]


def _frame(n: int = 1500, seed: int = 0, nan: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """Four numeric columns (zeros in b, NaN everywhere if `nan`) and a continuous target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * np.array([1.0, 1.0, 1000.0, 1e-3])
    X[rng.random(n) < 0.2, 1] = 0.0
    if nan:
        X[rng.random((n, 4)) < 0.08] = np.nan
    y = np.nan_to_num(X[:, 0]) + 2.0 * (X[:, 1] == 0) + np.nan_to_num(X[:, 2]) / 800
    return pd.DataFrame(X, columns=FEATURES), y + rng.normal(0, 0.3, n)


def _export(model: Any, X: pd.DataFrame) -> onnx.ModelProto:
    """The graph, without the gate's judgement (force): these tests judge it themselves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_onnx(model, X, "boosting", generated_rows=0, force=True)


def _run(graph: onnx.ModelProto, rows: pd.DataFrame) -> list[np.ndarray]:
    """The graph's outputs, fed by the test kit's own reading of the contract."""
    feeds = kit.contract_feeds(read_metadata(graph), rows)
    return list(kit.ort_session(graph).run(None, feeds))


def _probe_rows(base: pd.DataFrame, values: dict[str, list[float]]) -> pd.DataFrame:
    """One row per (column, value): a real row with that column set to that value."""
    rows = []
    for k, (column, column_values) in enumerate(values.items()):
        for j, value in enumerate(column_values):
            row = base.iloc[(k * 31 + j) % len(base)].copy()
            row[column] = value
            rows.append(row)
    return pd.DataFrame(rows).reset_index(drop=True).astype(np.float64)


def _around(values: list[float]) -> list[float]:
    """Each value, one float64 step and one float32 step either side of it."""
    out: list[float] = []
    for v in values:
        v32 = np.float32(v)
        out += [
            v,
            float(np.nextafter(v, np.inf)),
            float(np.nextafter(v, -np.inf)),
            float(np.nextafter(v32, np.float32(np.inf))),
            float(np.nextafter(v32, np.float32(-np.inf))),
        ]
    return out


SPECIALS = [np.nan, 0.0, -0.0, 1e-36, -1e-36, K_ZERO, -K_ZERO, 1e300, -1e300, 5e-324]


# -- LightGBM ---------------------------------------------------------------------------------


def _lgbm_thresholds(model: Any) -> dict[int, list[float]]:
    """Numerical split thresholds per feature, from LightGBM's own dump."""
    found: dict[int, list[float]] = {}
    stack = [t["tree_structure"] for t in model.booster_.dump_model()["tree_info"]]
    while stack:
        node = stack.pop()
        if "leaf_value" in node:
            continue
        if node["decision_type"] == "<=":
            found.setdefault(int(node["split_feature"]), []).append(float(node["threshold"]))
        stack += [node["left_child"], node["right_child"]]
    return found


@pytest.mark.parametrize(
    ("params", "missing_type"),
    [
        ({}, "NaN"),
        ({"zero_as_missing": True}, "Zero"),
        ({"use_missing": False}, "None"),
    ],
    ids=["nan", "zero-as-missing", "use-missing-false"],
)
def test_lightgbm_routes_thresholds_nan_and_zero_as_lightgbm_does(params, missing_type):
    X, y = _frame()
    model = lgb.LGBMRegressor(n_estimators=60, num_leaves=15, verbose=-1, **params).fit(X, y)
    types = {
        n.get("missing_type")
        for t in model.booster_.dump_model()["tree_info"]
        for n in _nodes(t["tree_structure"])
    }
    assert missing_type in types  # the case really holds splits of this missing type
    thresholds = _lgbm_thresholds(model)
    probes = {FEATURES[f]: _around(sorted(set(ts))[:40]) + SPECIALS for f, ts in thresholds.items()}
    rows = _probe_rows(X, probes)
    (prediction,) = _run(_export(model, X), rows)
    expected = model.predict(rows)
    # float64 leaf values summed in tree order, identity objective: bit for bit
    np.testing.assert_array_equal(prediction[:, 0], expected)


def _nodes(root: dict[str, Any]) -> list[dict[str, Any]]:
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        if "leaf_value" not in node:
            out.append(node)
            stack += [node["left_child"], node["right_child"]]
    return out


def test_lightgbm_categorical_splits_truncate_and_send_the_rest_right():
    rng = np.random.default_rng(3)
    n = 2000
    X = pd.DataFrame({"a": rng.normal(size=n), "cat": rng.integers(0, 12, n).astype(float)})
    X.loc[rng.random(n) < 0.1, "cat"] = np.nan
    y = X["a"] + np.isin(X["cat"], [0, 3, 7]) * 2.0 + (X["cat"] == 11) + rng.normal(0, 0.2, n)
    model = lgb.LGBMRegressor(
        n_estimators=80, verbose=-1, min_data_per_group=5, cat_smooth=1, max_cat_to_onehot=4
    ).fit(X, y, categorical_feature=["cat"])
    assert any(
        n["decision_type"] == "=="
        for t in model.booster_.dump_model()["tree_info"]
        for n in _nodes(t["tree_structure"])
    )
    odd = [-0.0, -0.5, -0.99, -1.0, -1.5, -7.0, 0.2, 2.7, 11.999, 12.0, 99.0, 1e9, 3e9, -3e9]
    rows = _probe_rows(X, {"cat": [*range(12), *odd, np.nan, 1e-36, -1e-36]})
    (prediction,) = _run(_export(model, X), rows)
    np.testing.assert_array_equal(prediction[:, 0], model.predict(rows))


def _people_like(n: int = 1200, seed: int = 5) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    deck = pd.Series(rng.choice(list("ABCDEF"), n)).astype("category")
    deck[rng.random(n) < 0.2] = np.nan
    frame = pd.DataFrame(
        {
            "age": rng.uniform(1, 80, n),
            "deck": deck,
            "grade": pd.Series(rng.integers(1, 5, n)).astype("category"),
        }
    )
    score = frame["age"] / 40 + frame["deck"].isin(["B", "E"]) * 1.5 - (frame["grade"] == 3) * 1.0
    return frame, (score + rng.normal(0, 0.5, n) > 1.2).astype(int)


def test_lightgbm_pandas_categories_map_raw_values_unseen_and_missing_go_right():
    X, y = _people_like()
    model = lgb.LGBMClassifier(
        n_estimators=120, verbose=-1, min_data_per_group=5, cat_smooth=1
    ).fit(X, y)
    assert model.booster_.pandas_categorical == [list("ABCDEF"), [1, 2, 3, 4]]
    values = {
        "deck": ["A", "B", "C", "D", "E", "F", "Z", "", None, "b"],
        "grade": [1, 2, 3, 4, 0, 5, 2.5, None, -1, 99],
    }
    rows = pd.concat([X.head(len(values["deck"]))] * len(values["grade"]), ignore_index=True)
    rows["deck"] = pd.Categorical(
        [values["deck"][i % 10] or None for i in range(len(rows))],
        categories=[*"ABCDEF", "Z", "b"],
    )
    rows["grade"] = pd.Categorical(
        [values["grade"][i // 10] for i in range(len(rows))],
        categories=[1, 2, 3, 4, 0, 5, 2.5, -1, 99],
    )
    graph = _export(model, X)
    label, proba = _run(graph, rows)
    np.testing.assert_array_equal(label, model.predict(rows))
    np.testing.assert_allclose(proba, model.predict_proba(rows), rtol=0, atol=1e-15)
    # unseen categories are answered (as LightGBM answers them), not refused
    categorical = {i["name"]: i for i in read_metadata(graph)["inputs"]}
    assert categorical["deck"]["unknown_categories"] == "accepted"


@pytest.mark.parametrize(
    "params",
    [
        {"objective": "poisson"},
        {"objective": "gamma"},
        {"objective": "tweedie", "tweedie_variance_power": 1.6},
        {"objective": "huber", "alpha": 0.5},
        {"objective": "regression", "reg_sqrt": True},
        {"objective": "regression_l1"},
        {"objective": "quantile", "alpha": 0.8},
        {"objective": "cross_entropy"},
        {"boosting_type": "rf", "bagging_fraction": 0.6, "bagging_freq": 1},
        {"boosting_type": "dart", "drop_rate": 0.3},
    ],
    ids=lambda p: "-".join(str(v) for v in p.values()),
)
def test_lightgbm_regression_objectives_transform_as_lightgbm(params):
    X, y = _frame(800, seed=2)
    target = np.exp(y / 4) if params.get("objective") != "cross_entropy" else (y > 0.5) * 1.0
    model = lgb.LGBMRegressor(n_estimators=80, verbose=-1, **params).fit(X, target)
    rows = _probe_rows(X, {c: X[c].dropna().head(60).tolist() + SPECIALS for c in FEATURES})
    (prediction,) = _run(_export(model, X), rows)
    expected = model.predict(rows)
    # the raw sums are bit for bit; exp and sigmoid are onnxruntime's, a few ulps at most
    np.testing.assert_allclose(prediction[:, 0], expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    ("labels", "params"),
    [
        (["no", "yes"], {"sigmoid": 0.7}),
        ([3, 7, 11], {}),
        (["b", "a", "c"], {"objective": "multiclassova"}),
    ],
    ids=["binary-sigmoid", "multiclass-int-labels", "multiclassova"],
)
def test_lightgbm_classifier_labels_and_probabilities(labels, params):
    X, y = _frame(900, seed=4)
    edges = np.quantile(y, np.linspace(0, 1, len(labels) + 1)[1:-1])
    target = np.asarray(labels, dtype=object)[np.digitize(y, edges)]
    if isinstance(labels[0], int):
        target = target.astype(np.int64)
    model = lgb.LGBMClassifier(n_estimators=70, verbose=-1, **params).fit(X, target)
    rows = _probe_rows(X, {c: X[c].dropna().head(80).tolist() + SPECIALS for c in FEATURES})
    label, proba = _run(_export(model, X), rows)
    assert list(label) == list(model.predict(rows))
    np.testing.assert_allclose(proba, model.predict_proba(rows), rtol=0, atol=1e-15)


def test_lightgbm_tie_gives_the_first_class_as_lightgbm_does():
    X = pd.DataFrame({"a": np.arange(40.0)})
    y = np.array(["yes", "no"] * 20)  # balanced: the initial score is 0, p = 0.5 exactly
    model = lgb.LGBMClassifier(n_estimators=3, min_child_samples=1000, verbose=-1).fit(X, y)
    assert np.all(model.predict_proba(X) == 0.5)
    label, proba = _run(_export(model, X), X)
    assert list(label) == list(model.predict(X)) == ["no"] * 40
    assert np.all(proba == 0.5)


def test_lightgbm_hundreds_of_deep_trees_and_early_stopping_are_exact():
    X, y = _frame(3000, seed=6)
    fit, valid = X.iloc[:2400], X.iloc[2400:]
    model = lgb.LGBMRegressor(n_estimators=600, num_leaves=255, learning_rate=0.05, verbose=-1)
    model.fit(
        fit,
        y[:2400],
        eval_X=(valid,),
        eval_y=(y[2400:],),
        callbacks=[lgb.early_stopping(30, verbose=False)],
    )
    assert 100 < model.best_iteration_ < 600  # predict uses the best iteration's trees
    (prediction,) = _run(_export(model, X), X)
    np.testing.assert_array_equal(prediction[:, 0], model.predict(X))


# -- XGBoost ----------------------------------------------------------------------------------


def _xgb_model(model: Any) -> dict[str, Any]:
    return json.loads(bytes(model.get_booster().save_raw("json")))


def _xgb_thresholds(model: Any) -> dict[int, list[float]]:
    """Numerical split conditions per feature (float32 values), from XGBoost's own model."""
    found: dict[int, list[float]] = {}
    for tree in _xgb_model(model)["learner"]["gradient_booster"]["model"]["trees"]:
        for i, child in enumerate(tree["left_children"]):
            if child != -1 and tree["split_type"][i] == 0:
                value = float(np.float32(tree["split_conditions"][i]))
                found.setdefault(int(tree["split_indices"][i]), []).append(value)
    return found


def _float32_neighbourhood(values: list[float]) -> list[float]:
    """Each float32 value c, its float32 neighbours, and float64 values that round to c or to a
    neighbour (a quarter and a half float32 step away): XGBoost compares after rounding."""
    out: list[float] = []
    for v in values:
        c = np.float32(v)
        up, down = np.nextafter(c, np.float32(np.inf)), np.nextafter(c, np.float32(-np.inf))
        step_up, step_down = float(up) - float(c), float(c) - float(down)
        out += [float(c), float(up), float(down)]
        out += [float(c) - step_down / 4, float(c) + step_up / 4]
        out += [float(c) - step_down / 2, float(c) + step_up / 2]
    return out


@pytest.mark.parametrize(
    "params", [{}, {"missing": 0.0}, {"missing": -999.0}], ids=["nan", "zero", "minus-999"]
)
def test_xgboost_rounds_to_float32_and_routes_missing_as_xgboost_does(params):
    X, y = _frame(seed=8)
    if params.get("missing") == -999.0:
        X = X.fillna(-999.0)
    model = xgb.XGBRegressor(n_estimators=80, max_depth=5, **params).fit(X, y)
    probes = {
        FEATURES[f]: _float32_neighbourhood(sorted(set(ts))[:40]) + SPECIALS + [-999.0]
        for f, ts in _xgb_thresholds(model).items()
    }
    rows = _probe_rows(X, probes)
    (prediction,) = _run(_export(model, X), rows)
    expected = model.predict(rows)
    assert expected.dtype == np.float32
    np.testing.assert_array_equal(prediction[:, 0], expected.astype(np.float64))


def test_xgboost_accumulates_in_float32_in_tree_order():
    X, y = _frame(2000, seed=9)
    model = xgb.XGBRegressor(n_estimators=400, max_depth=6, learning_rate=0.05).fit(X, y * 1000)
    (prediction,) = _run(_export(model, X), X)
    expected = model.predict(X)
    np.testing.assert_array_equal(prediction[:, 0], expected.astype(np.float64))
    # the same leaves summed in float64 and rounded once are not XGBoost's answer: the test
    # data is one where the order and precision of the sum show
    booster = model.get_booster()
    leaves = booster.predict(xgb.DMatrix(X, missing=np.nan), pred_leaf=True)
    trees = _xgb_model(model)["learner"]["gradient_booster"]["model"]["trees"]
    values = np.array(
        [
            [np.float32(trees[t]["split_conditions"][int(leaf)]) for t, leaf in enumerate(row)]
            for row in leaves
        ]
    )
    base = booster.inplace_predict(X.head(1), iteration_range=(1, 1), predict_type="margin")
    once = (float(base[0]) + values.astype(np.float64).sum(axis=1)).astype(np.float32)
    assert np.mean(once != expected) > 0.5


@pytest.mark.parametrize(
    ("objective", "base_score"),
    [
        ("binary:logistic", None),
        ("binary:logistic", 0.3),
        ("multi:softprob", None),
        ("multi:softmax", None),
        ("reg:squarederror", None),
        ("reg:squarederror", 100.0),
        ("count:poisson", None),
        ("count:poisson", 2.0),
        ("reg:gamma", None),
        ("reg:tweedie", None),
        ("reg:logistic", None),
        ("reg:absoluteerror", None),
        ("reg:quantileerror", None),
    ],
)
def test_xgboost_base_score_of_every_default_and_objective(objective, base_score):
    X, y = _frame(1000, seed=10)
    params: dict[str, Any] = {"objective": objective, "n_estimators": 60, "max_depth": 4}
    if base_score is not None:
        params["base_score"] = base_score
    if objective == "reg:quantileerror":
        params["quantile_alpha"] = 0.7
    if objective.startswith(("binary", "multi")):
        classes = 2 if objective.startswith("binary") else 3
        edges = np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1])
        model = xgb.XGBClassifier(**params).fit(X, np.digitize(y, edges))
    else:
        target = np.exp(y / 3) if objective in ("count:poisson", "reg:gamma", "reg:tweedie") else y
        target = 1 / (1 + np.exp(-y)) if objective == "reg:logistic" else target
        model = xgb.XGBRegressor(**params).fit(X, target)
    rows = _probe_rows(X, {c: X[c].dropna().head(100).tolist() + SPECIALS for c in FEATURES})
    outputs = _run(_export(model, X), rows)
    if hasattr(model, "classes_"):
        label, proba = outputs
        expected = model.predict_proba(rows)
        assert list(label) == list(model.predict(rows))
        # float32 probabilities; XGBoost's expf is glibc's, the graph's exp rounded to float32:
        # the same in all but rare values, one float32 step (of the row's largest probability)
        # apart there; multi:softmax's are scipy's softmax of the margins, in numpy's float32
        steps = 1 if objective != "multi:softmax" else 4
        assert np.all(np.abs(proba - expected) <= steps * _row_step(expected))
    else:
        (prediction,) = outputs
        expected = model.predict(rows).astype(np.float64)
        if objective in ("count:poisson", "reg:gamma", "reg:tweedie", "reg:logistic"):
            assert np.all(
                np.abs(prediction[:, 0] - expected) <= np.spacing(expected.astype(np.float32))
            )
        else:  # margins: bit for bit, base score included
            np.testing.assert_array_equal(prediction[:, 0], expected)


def _row_step(proba: np.ndarray) -> np.ndarray:
    """[N, 1]: one float32 step at each row's largest probability."""
    return np.spacing(proba.astype(np.float32).max(axis=1, keepdims=True)).astype(np.float64)


def test_xgboost_categorical_splits_on_numbers_truncate_and_send_invalid_left():
    rng = np.random.default_rng(11)
    n = 2000
    X = pd.DataFrame({"a": rng.normal(size=n), "cat": rng.integers(0, 12, n).astype(float)})
    X.loc[rng.random(n) < 0.1, "cat"] = np.nan
    y = X["a"] + np.isin(X["cat"], [0, 3, 7]) * 2.0 + rng.normal(0, 0.2, n)
    model = xgb.XGBRegressor(
        n_estimators=60, feature_types=["q", "c"], enable_categorical=True, max_cat_to_onehot=1
    ).fit(X.to_numpy(), y)
    odd = [-0.0, -0.5, -1.0, -7.0, 0.2, 2.7, 11.999, 12.0, 99.0, 1e9, 3e9, -3e9]
    rows = _probe_rows(X, {"cat": [*range(12), *odd, np.nan]})
    graph = _export(model, X)
    (prediction,) = _run(graph, rows)
    expected = model.predict(rows.to_numpy())
    np.testing.assert_array_equal(prediction[:, 0], expected.astype(np.float64))


def test_xgboost_pandas_categories_map_raw_values_and_refuse_unseen_ones():
    X, y = _people_like(seed=12)
    model = xgb.XGBClassifier(n_estimators=80, enable_categorical=True, max_cat_to_onehot=1)
    model.fit(X, y)
    graph = _export(model, X)
    rows = X.head(60).copy()
    rows["deck"] = pd.Categorical(
        [[*"ABCDEF", None][i % 7] for i in range(60)], categories=list("FEDCBA")
    )  # other category order: XGBoost re-codes by value
    label, proba = _run(graph, rows)
    assert list(label) == list(model.predict(rows))
    expected = model.predict_proba(rows)
    assert np.all(np.abs(proba - expected) <= _row_step(expected))
    # XGBoost raises on a category it never saw: every runtime refuses it instead
    inputs = {i["name"]: i for i in read_metadata(graph)["inputs"]}
    assert inputs["deck"]["unknown_categories"] == "error"
    unseen = X.head(2).copy()
    unseen["deck"] = pd.Categorical(["Z", "A"], categories=[*"ABCDEF", "Z"])
    with pytest.raises(Exception, match="category not in the training set"):
        model.predict(unseen)
    schema = ModelSchema.from_metadata(read_metadata(graph))
    with pytest.raises(RawInputError) as refused:
        frame_to_feeds(unseen, schema)
    assert [e.row for e in refused.value.errors] == [0]


# -- a moved leaf or threshold is caught (mutation) ---------------------------------------------


def _tree_node(graph: onnx.ModelProto) -> onnx.NodeProto:
    (node,) = [n for n in graph.graph.node if n.op_type == "TreeEnsemble"]
    return node


def _set_attribute(graph: onnx.ModelProto, name: str, index: int, value: float) -> None:
    (attribute,) = [a for a in _tree_node(graph).attribute if a.name == name]
    values = numpy_helper.to_array(attribute.t).copy()
    values[index] = value
    attribute.t.CopyFrom(numpy_helper.from_array(values, attribute.t.name))


def _attribute(graph: onnx.ModelProto, name: str) -> np.ndarray:
    (attribute,) = [a for a in _tree_node(graph).attribute if a.name == name]
    return numpy_helper.to_array(attribute.t)


def _changed(original: Any, mutated: Any, rows: pd.DataFrame) -> np.ndarray:
    """Rows where the mutated library model leaves the gate's tolerance (found by the library)."""
    if hasattr(original, "classes_"):
        error = np.abs(mutated.predict_proba(rows) - original.predict_proba(rows)).max(axis=1)
        return (error > kit.PROBA_ATOL) | (mutated.predict(rows) != original.predict(rows))
    before, after = original.predict(rows), mutated.predict(rows)
    return np.abs(after - before) > kit.REGRESSION_RTOL * np.abs(before)


def _gate(model: Any, graph: onnx.ModelProto, rows: pd.DataFrame) -> Any:
    return compare_with_sklearn(model, graph, rows)


def test_lightgbm_a_moved_leaf_value_is_caught_on_the_rows_lightgbm_changes():
    X, y = _frame(1200, seed=13)
    model = lgb.LGBMClassifier(n_estimators=50, verbose=-1).fit(X, (y > 0.8).astype(int))
    graph = _export(model, X)
    weights = _attribute(graph, "leaf_weights")
    # the busiest leaf of the first tree whose float64 value no other leaf has
    leaf = next(
        node
        for node in sorted(
            _leaves(model.booster_.dump_model()["tree_info"][0]["tree_structure"]),
            key=lambda node: -node["leaf_count"],
        )
        if np.sum(weights == node["leaf_value"]) == 1
    )
    (position,) = np.flatnonzero(weights == leaf["leaf_value"])
    moved = leaf["leaf_value"] + 1e-4
    mutated_graph = copy.deepcopy(graph)
    _set_attribute(mutated_graph, "leaf_weights", int(position), moved)
    oracle = copy.deepcopy(model)
    oracle.booster_.set_leaf_output(0, leaf["leaf_index"], moved)
    changed = _changed(model, oracle, X)
    assert 0 < changed.sum() < len(X)
    assert _gate(model, graph, X).passed
    report = _gate(model, mutated_graph, X)
    assert not report.passed
    assert report.rows_outside_tolerance == int(changed.sum())


def _leaves(root: dict[str, Any]) -> list[dict[str, Any]]:
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        if "leaf_value" in node:
            out.append(node)
        else:
            stack += [node["left_child"], node["right_child"]]
    return out


def test_lightgbm_a_threshold_moved_past_one_value_is_caught_on_exactly_those_rows():
    X, y = _frame(1200, seed=14, nan=False)
    model = lgb.LGBMRegressor(n_estimators=30, verbose=-1).fit(X, y)
    graph = _export(model, X)
    root = model.booster_.dump_model()["tree_info"][0]["tree_structure"]
    feature, threshold = FEATURES[root["split_feature"]], float(root["threshold"])
    assert _attribute(graph, "nodes_splits")[0] == threshold  # tree 0's root is node 0
    highest_left = X[feature][X[feature] <= threshold].max()
    moved = float(np.nextafter(highest_left, -np.inf))  # the rows at highest_left go right
    mutated_graph = copy.deepcopy(graph)
    _set_attribute(mutated_graph, "nodes_splits", 0, moved)
    text = model.booster_.model_to_string()
    start = text.index("Tree=0\n")
    block = text[start : text.index("\n\n", start)]
    line = re.search(r"(?m)^threshold=(\S+)(.*)$", block)
    assert line is not None and float(line.group(1)) == threshold
    edited = block.replace(line.group(0), f"threshold={moved!r}{line.group(2)}")
    oracle = copy.deepcopy(model)
    oracle._Booster = lgb.Booster(
        model_str=re.sub(r"(?m)^tree_sizes=.*\n", "", text.replace(block, edited))
    )
    changed = _changed(model, oracle, X)
    assert changed.sum() >= 1
    report = _gate(model, mutated_graph, X)
    assert not report.passed
    assert report.rows_outside_tolerance == int(changed.sum())
    assert {w["row"] for w in report.worst} <= set(np.flatnonzero(changed).tolist())


def _xgb_with(model: Any, edit: Any) -> Any:
    """A copy of the XGBoost estimator whose first tree `edit` changed (through its JSON)."""
    document = _xgb_model(model)
    edit(document["learner"]["gradient_booster"]["model"]["trees"][0])
    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(document).encode()))
    oracle = copy.deepcopy(model)
    oracle._Booster = booster
    return oracle


def test_xgboost_a_moved_leaf_value_is_caught_on_the_rows_xgboost_changes():
    X, y = _frame(1200, seed=15)
    model = xgb.XGBClassifier(n_estimators=50, max_depth=4).fit(X, (y > 0.8).astype(int))
    graph = _export(model, X)
    tree = _xgb_model(model)["learner"]["gradient_booster"]["model"]["trees"][0]
    weights = _attribute(graph, "leaf_weights")
    # the leaf of the first tree with the most hessian whose value no other leaf has
    leaf = next(
        i
        for i in sorted(
            (i for i, child in enumerate(tree["left_children"]) if child == -1),
            key=lambda i: -tree["sum_hessian"][i],
        )
        if np.sum(weights == float(np.float32(tree["split_conditions"][i]))) == 1
    )
    value = np.float32(tree["split_conditions"][leaf])
    moved = np.float32(value + np.float32(1e-3))
    (position,) = np.flatnonzero(weights == float(value))
    mutated_graph = copy.deepcopy(graph)
    _set_attribute(mutated_graph, "leaf_weights", int(position), float(moved))

    def edit(t: dict[str, Any]) -> None:
        t["split_conditions"][leaf] = float(moved)

    oracle = _xgb_with(model, edit)
    changed = _changed(model, oracle, X)
    assert 0 < changed.sum() < len(X)
    report = _gate(model, mutated_graph, X)
    assert not report.passed
    assert report.rows_outside_tolerance == int(changed.sum())


def test_xgboost_a_threshold_moved_one_float32_step_is_caught_on_exactly_those_rows():
    X, y = _frame(1200, seed=16, nan=False)
    model = xgb.XGBRegressor(n_estimators=30, max_depth=4).fit(X, y)
    graph = _export(model, X)
    tree = _xgb_model(model)["learner"]["gradient_booster"]["model"]["trees"][0]
    feature = FEATURES[tree["split_indices"][0]]
    condition = np.float32(tree["split_conditions"][0])
    assert _attribute(graph, "nodes_splits")[0] == float(condition)  # tree 0's root: node 0
    x32 = X[feature].to_numpy().astype(np.float32)
    lowest_right = x32[x32 >= condition].min()
    moved = np.nextafter(lowest_right, np.float32(np.inf))  # the rows at lowest_right go left
    mutated_graph = copy.deepcopy(graph)
    _set_attribute(mutated_graph, "nodes_splits", 0, float(moved))

    def edit(t: dict[str, Any]) -> None:
        t["split_conditions"][0] = float(moved)

    oracle = _xgb_with(model, edit)
    changed = _changed(model, oracle, X)
    assert changed.sum() >= 1
    report = _gate(model, mutated_graph, X)
    assert not report.passed
    assert report.rows_outside_tolerance == int(changed.sum())
    assert {w["row"] for w in report.worst} <= set(np.flatnonzero(changed).tolist())


# -- what is refused, and pipeport without the libraries ------------------------------------------


def _custom_objective(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return y_pred - y_true, np.ones_like(y_true)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (lgb.LGBMRegressor(linear_tree=True, verbose=-1), "linear_tree=True"),
        (
            lgb.LGBMRegressor(objective=_custom_objective, verbose=-1),
            "its objective is a Python function (a custom objective)",
        ),
        (
            lgb.LGBMRegressor(objective="cross_entropy_lambda", verbose=-1),
            "its objective (cross_entropy_lambda) has an output transform pipeport does not",
        ),
        (xgb.XGBRegressor(booster="dart"), "booster='dart'"),
        (xgb.XGBRegressor(booster="gblinear"), "booster='gblinear'"),
        (
            xgb.XGBRegressor(objective="reg:quantileerror", quantile_alpha=[0.2, 0.8]),
            "it predicts several values per row",
        ),
        (
            xgb.XGBClassifier(objective="binary:logitraw"),
            "its objective (binary:logitraw) is not one pipeport exports",
        ),
    ],
    ids=[
        "lgbm-linear-tree",
        "lgbm-custom",
        "lgbm-xentlambda",
        "dart",
        "gblinear",
        "quantiles",
        "logitraw",
    ],
)
def test_what_is_refused_names_the_step_and_why(model, message):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from pipeport.errors import UnsupportedStepError

    X, y = _frame(300, seed=17, nan=False)
    # targets every objective here accepts: two classes, or values in (0, 1)
    target = (y > 0.8).astype(int) if hasattr(model, "predict_proba") else 1 / (1 + np.exp(-y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = Pipeline([("scale", StandardScaler()), ("model", model)]).fit(X, target)
    with pytest.raises(UnsupportedStepError) as refused:
        to_onnx(pipeline, X, "refused", generated_rows=0)
    text = str(refused.value)
    assert text.startswith(f"Step 'model' is a {type(model).__name__}(")
    assert "which pipeport cannot export: " + message in text


def test_pipeport_exports_without_lightgbm_and_xgboost_installed():
    import subprocess
    import sys

    code = "\n".join(
        [
            "import sys",
            "sys.modules['lightgbm'] = None  # import lightgbm raises ImportError",
            "sys.modules['xgboost'] = None",
            "import numpy as np, pandas as pd",
            "from sklearn.linear_model import Ridge",
            "from pipeport.export.registry import converters",
            "from pipeport.export.support_cases import cases",
            "from pipeport.export.onnx_export import to_onnx, read_metadata",
            "names = {c.__name__ for conv in converters() for c in conv.classes}",
            "assert not {n for n in names if n.startswith(('LGBM', 'XGB', 'Labelled'))}, names",
            "assert not [c.id for c in cases() if c.id.startswith(('lightgbm', 'xgboost'))]",
            "X = pd.DataFrame({'a': np.arange(20.0), 'b': np.arange(20.0) % 3})",
            "model = to_onnx(Ridge().fit(X, X['a'] * 2), X, 'ridge', generated_rows=50)",
            "assert read_metadata(model)['parity']['passed']",
            "print('exported without the boosting extra')",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=kit.REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exported without the boosting extra"
