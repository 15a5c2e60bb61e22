"""Ensembles and HistGradientBoosting's native categories on the rows where a re-implementation
goes wrong: tied votes (plain, weighted, with weights whose sums round, with a negative weight),
tied averaged probabilities, tied predictions in AdaBoost's weighted median, isotonic calibration
at and beyond its thresholds, bagging members that never saw a class, and categories never seen
in training or missing, whichever way they reach the model.

Every expected value is scikit-learn's own output on the same rows. Each graph runs in
onnxruntime and in the ONNX reference evaluator; labels must be equal, and numbers equal where the
graph repeats scikit-learn's float64 operations in its order, else within a few ulps.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    AdaBoostRegressor,
    BaggingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from pipeport.contract import frame_to_feeds
from pipeport.export.onnx_export import read_metadata, session, to_onnx
from pipeport.schema import ModelSchema

RUNTIMES = ["onnxruntime", "reference"]
#: A sum that may run in another order than scikit-learn's (TreeEnsemble's, softmax): a few ulps.
ULPS = 8 * np.finfo(np.float64).eps
GATE_ROWS = 500


def _export(pipeline: Any, frame: pd.DataFrame) -> onnx.ModelProto:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_onnx(pipeline, frame, "ensemble", generated_rows=GATE_ROWS, seed=3)


def _run(model: onnx.ModelProto, frame: pd.DataFrame, runtime: str) -> dict[str, np.ndarray]:
    schema = ModelSchema.from_metadata(read_metadata(model))
    feeds = frame_to_feeds(frame, schema)
    names = [o.name for o in model.graph.output]
    if runtime == "reference":
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = list(ReferenceEvaluator(model).run(names, feeds))
    else:
        values = session(model).run(names, feeds)
    return {name: np.asarray(value) for name, value in zip(names, values, strict=True)}


def _labels_equal(expected: np.ndarray, actual: np.ndarray) -> None:
    expected, actual = np.asarray(expected).astype(str), np.asarray(actual).astype(str)
    wrong = np.flatnonzero(expected != actual)
    assert wrong.size == 0, f"labels differ on rows {wrong[:10]}: {expected[wrong[:5]]}"


# -- votes ----------------------------------------------------------------------------------------


def _columns_frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three numeric columns, each deciding the 3-class target its own way."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.uniform(0, 3, n).round(1) for i in range(3)})
    y = np.where(rng.random(n) < 0.5, np.floor(frame["x0"]), np.floor(frame["x1"])).astype(int)
    y = np.where(rng.random(n) < 0.3, np.floor(frame["x2"]).astype(int), y)
    return frame, np.clip(y, 0, 2)


def _on(column: str, model: Any) -> Pipeline:
    """A member that sees one column only, so that members disagree."""
    return make_pipeline(ColumnTransformer([("only", "passthrough", [column])]), model)


def _disagreeing_members() -> list[tuple[str, Any]]:
    return [(f"on_x{i}", _on(f"x{i}", DecisionTreeClassifier(max_depth=2))) for i in range(3)]


def _member_votes(vote: VotingClassifier, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray([est.predict(frame) for est in vote.estimators_]).T


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_three_way_tie_in_a_hard_vote_goes_to_the_first_class(runtime):
    frame, y = _columns_frame()
    vote = VotingClassifier(_disagreeing_members(), voting="hard").fit(frame, y)
    votes = _member_votes(vote, frame)
    three_way = np.array([len(set(row)) == 3 for row in votes])
    assert three_way.sum() >= 10  # the rows this test is about
    out = _run(_export(vote, frame), frame, runtime)
    assert [o.name for o in _export(vote, frame).graph.output] == ["label"]
    _labels_equal(vote.predict(frame), out["label"])
    assert np.all(out["label"][three_way] == vote.classes_[0])


@pytest.mark.parametrize(
    "weights",
    [[1, 1, 2], [0.1, 0.2, 0.3], [1, -2, 0.5]],
    ids=["one-plus-one-against-two", "sums-that-round", "negative-weight"],
)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_weighted_hard_votes_are_decided_as_numpy_bincount_decides(weights, runtime):
    frame, y = _columns_frame(seed=1)
    vote = VotingClassifier(_disagreeing_members(), voting="hard", weights=weights).fit(frame, y)
    votes = _member_votes(vote, frame)
    if weights == [0.1, 0.2, 0.3]:
        # 0.1 + 0.2 > 0.3 in float64: the first two members win even against an earlier class
        deciding = (votes[:, 0] == votes[:, 1]) & (votes[:, 2] < votes[:, 0])
        assert deciding.sum() >= 3
        assert np.all(vote.predict(frame)[deciding] == votes[deciding, 0])
    if weights == [1, -2, 0.5]:
        # all agree on class 0: its count is -0.5 and bincount has no other class to prefer
        unanimous = np.all(votes == 0, axis=1)
        assert unanimous.sum() >= 3
        assert np.all(vote.predict(frame)[unanimous] == 0)
    out = _run(_export(vote, frame), frame, runtime)
    _labels_equal(vote.predict(frame), out["label"])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_soft_vote_tied_at_one_half_goes_to_the_first_class(runtime):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x0": rng.normal(size=300), "x1": rng.normal(size=300)})
    y = ((frame["x0"] + frame["x1"] + rng.normal(0, 1, 300)) > 0).astype(int).to_numpy()
    # fully grown trees on distinct values: pure leaves, probabilities 0 or 1, a mean of 0.5
    members = [(f"on_x{i}", _on(f"x{i}", DecisionTreeClassifier(random_state=0))) for i in (0, 1)]
    vote = VotingClassifier(members, voting="soft").fit(frame, y)
    rows = pd.DataFrame({"x0": rng.normal(size=300), "x1": rng.normal(size=300)})
    expected = vote.predict_proba(rows)
    tied = expected[:, 0] == expected[:, 1]
    assert tied.sum() >= 10
    out = _run(_export(vote, frame), rows, runtime)
    _labels_equal(vote.predict(rows), out["label"])
    assert np.all(out["label"][tied] == 0)
    assert np.array_equal(out["probabilities"], expected)  # (a + b) / 2 of pure leaves: exact


# -- AdaBoost's weighted median --------------------------------------------------------------------


def _regression_frame(n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.uniform(-2, 2, n)})
    return frame, np.round(frame["a"] * 3 + frame["b"] ** 2 + rng.normal(0, 0.5, n))


@pytest.mark.parametrize("members", [6, 24], ids=["6-members", "24-members"])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_weighted_median_of_tied_predictions_is_scikit_learns(members, runtime):
    """Members repeated (their predictions tie on every row) with whole weights: cumulative
    weights land exactly on half the total, where `>=` decides."""
    frame, y = _regression_frame()
    model = AdaBoostRegressor(DecisionTreeRegressor(max_depth=2), n_estimators=3, random_state=0)
    model.fit(frame, y)
    distinct = list(model.estimators_)
    model.estimators_ = [distinct[i % len(distinct)] for i in range(members)]
    model.estimator_weights_ = np.array([float(1 + i % 2) for i in range(members)])
    expected = model.predict(frame)
    out = _run(_export(model, frame), frame, runtime)
    assert np.array_equal(out["prediction"][:, 0], expected)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_weighted_median_with_fitted_weights_is_scikit_learns(runtime):
    frame, y = _regression_frame()
    model = AdaBoostRegressor(n_estimators=30, loss="exponential", random_state=0).fit(frame, y)
    out = _run(_export(model, frame), frame, runtime)
    assert np.array_equal(out["prediction"][:, 0], model.predict(frame))


# -- calibration and bagging -----------------------------------------------------------------------


def _penguins() -> tuple[pd.DataFrame, pd.Series]:
    from pipeport.export.support_cases import penguins

    frame = penguins().dropna(subset=["bill_length_mm", "flipper_length_mm", "sex"])
    return frame[["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]], frame["species"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_isotonic_calibration_at_its_thresholds_and_beyond_them(runtime):
    """ensemble=True: each fold's estimator predicts its own held-out rows, the very values its
    calibrator was fitted on (np.interp's x == xp branch); on other rows some calibrators get
    values beyond their fitted range (np.clip)."""
    X, y = _penguins()
    model = CalibratedClassifierCV(
        RandomForestClassifier(n_estimators=7, max_depth=3, random_state=0),
        method="isotonic",
        cv=3,
    ).fit(X, y)
    at = beyond = 0
    for cc in model.calibrated_classifiers_:
        raw = cc.estimator.predict_proba(X)
        for k, calibrator in enumerate(cc.calibrators):
            at += int(np.isin(raw[:, k], calibrator.X_thresholds_).sum())
            beyond += int(((raw[:, k] < calibrator.X_min_) | (raw[:, k] > calibrator.X_max_)).sum())
    assert at >= 100 and beyond >= 3  # the rows this test is about
    out = _run(_export(model, X), X, runtime)
    _labels_equal(model.predict(X), out["label"])
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), rtol=0, atol=ULPS)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_prefit_model_calibrated_through_frozen_estimator(runtime):
    from sklearn.frozen import FrozenEstimator

    X, y = _penguins()
    prefit = HistGradientBoostingClassifier(max_iter=8, random_state=0).fit(X, y)
    model = CalibratedClassifierCV(FrozenEstimator(prefit), method="sigmoid").fit(X, y)
    out = _run(_export(model, X), X, runtime)
    _labels_equal(model.predict(X), out["label"])
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), rtol=0, atol=ULPS)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bagging_members_that_never_saw_a_class_add_nothing_to_it(runtime):
    X, y = _penguins()
    model = BaggingClassifier(
        make_pipeline(StandardScaler(), LogisticRegression()),
        n_estimators=9,
        max_samples=8,
        random_state=0,
    ).fit(X, y)
    assert min(len(est.classes_) for est in model.estimators_) < len(model.classes_)
    out = _run(_export(model, X), X, runtime)
    _labels_equal(model.predict(X), out["label"])
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), rtol=0, atol=ULPS)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ensembles_of_ensembles(runtime):
    """A stack whose members are a soft vote and a bagging of boosted trees, and whose final
    estimator is a calibrated classifier: each converter reads the others' outputs."""
    X, y = _penguins()
    model = StackingClassifier(
        [
            (
                "vote",
                VotingClassifier(
                    [
                        ("lr", make_pipeline(StandardScaler(), LogisticRegression())),
                        ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
                    ],
                    voting="soft",
                ),
            ),
            (
                "bag",
                BaggingClassifier(
                    HistGradientBoostingClassifier(max_iter=5), n_estimators=3, random_state=0
                ),
            ),
        ],
        final_estimator=CalibratedClassifierCV(
            HistGradientBoostingClassifier(max_iter=5), method="sigmoid", cv=2
        ),
        cv=3,
    ).fit(X, y)
    out = _run(_export(model, X), X, runtime)
    _labels_equal(model.predict(X), out["label"])
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), rtol=0, atol=ULPS)


# -- HistGradientBoosting with categorical_features ------------------------------------------------


def _category_frame(n: int = 600) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(5)
    colour = rng.choice(["red", "green", "blue", "amber", "teal", "plum"], n)
    size = rng.integers(0, 7, n).astype(float)
    frame = pd.DataFrame(
        {
            "colour": pd.Series(colour, dtype=object).mask(rng.random(n) < 0.1),
            "size": np.where(rng.random(n) < 0.1, np.nan, size),
            "weight": rng.normal(size=n),
        }
    )
    score = (
        frame["colour"].isin(["red", "plum"]) * 1.5
        + frame["size"].isin([1.0, 4.0, 5.0]) * 1.2
        + frame["colour"].isna() * 0.8
        + frame["weight"]
        + rng.normal(0, 0.5, n)
    )
    return frame, (score > 1.2).astype(int).to_numpy()


def _odd_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories never seen in training, missing ones, and for the numeric category column
    values between, below and above its categories."""
    colours = ["violet", np.nan, "red", "RED", "amber ", "teal"] * 2
    sizes = [2.5, -1.0, 99.0, np.nan, 3.0, 7.0, 0.0, 1e9, 6.0, 1.0, -0.0, 4.0]
    return pd.DataFrame({"colour": colours, "size": sizes, "weight": np.linspace(-2, 2, 12)})


def _hgb_native(frame: pd.DataFrame, y: np.ndarray) -> Pipeline:
    """The raw frame, category dtype for the text column (categorical_features='from_dtype'
    takes it), the numeric category column named explicitly."""
    model = HistGradientBoostingClassifier(
        categorical_features=["colour", "size"], max_iter=15, random_state=0
    )
    return Pipeline([("model", model)]).fit(frame, y)


def _hgb_after_ordinal(frame: pd.DataFrame, y: np.ndarray) -> Pipeline:
    encode = ColumnTransformer(
        [
            (
                "codes",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ["colour"],
            ),
            ("rest", "passthrough", ["size", "weight"]),
        ]
    )
    model = HistGradientBoostingClassifier(categorical_features=[0, 1], max_iter=15, random_state=0)
    return Pipeline([("encode", encode), ("model", model)]).fit(frame, y)


@pytest.mark.parametrize("build", [_hgb_native, _hgb_after_ordinal], ids=["raw", "after-ordinal"])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unseen_and_missing_categories_go_where_scikit_learn_sends_them(build, runtime):
    frame, y = _category_frame()
    pipeline = build(frame, y)
    model = _export(pipeline, frame)
    modes = [
        numpy_helper.to_array(a.t)
        for node in model.graph.node
        if node.op_type == "TreeEnsemble"
        for a in node.attribute
        if a.name == "nodes_modes"
    ]
    assert np.sum(np.concatenate(modes) == 6) >= 5  # BRANCH_MEMBER: native set splits
    rows = pd.concat([frame.head(50), _odd_rows(frame)], ignore_index=True)
    out = _run(model, rows, runtime)
    _labels_equal(pipeline.predict(rows), out["label"])
    np.testing.assert_allclose(
        out["probabilities"], pipeline.predict_proba(rows), rtol=0, atol=ULPS
    )
    # what scikit-learn does with them: an unseen category goes the missing value's way
    pair = pd.DataFrame(
        {"colour": pd.Series(["violet", np.nan], dtype=object), "size": 3.0, "weight": 0.5}
    )
    unseen, missing = pipeline.predict_proba(pair)
    assert np.array_equal(unseen, missing)


# -- numpy's summation order --------------------------------------------------------------------


@pytest.mark.parametrize("width", [2, 7, 8, 9, 17, 129, 300])
def test_row_sums_add_in_numpys_pairwise_order(width):
    """np.sum(axis=1) adds a row with eight accumulators from 8 values on and halves blocks above
    128: values where the order shows (1e16 swallows a 1 added to it alone, not 1 + 1)."""
    from onnx import TensorProto, helper

    from pipeport.export.converters._members import numpy_row_sum
    from pipeport.export.graph import Graph

    rng = np.random.default_rng(width)
    X = np.where(rng.random((64, width)) < 0.3, 1e16, 1.0) * rng.choice([1.0, -1.0], (64, width))
    X[:, 0] = 1e16
    g = Graph([])
    total = numpy_row_sum(g, "x", width)
    g.nodes.append(helper.make_node("Identity", [total], ["y"]))
    model = g.build(
        "t",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, width])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None, 1])],
    )
    model.ir_version = 10
    expected = X.sum(axis=1)
    for runtime in RUNTIMES:
        if runtime == "reference":
            (out,) = ReferenceEvaluator(model).run(None, {"x": X})
        else:
            (out,) = session(model).run(None, {"x": X})
        assert np.array_equal(np.asarray(out)[:, 0], expected), runtime
    sequential = np.zeros(64)
    for k in range(width):
        sequential = sequential + X[:, k]
    if width >= 8:  # the order matters on these rows: a sequential sum would differ
        assert not np.array_equal(sequential, expected)
