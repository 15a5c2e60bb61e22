"""The models of export/converters/{linear_classifiers,svm,naive_bayes,glm,kernel_ridge}.py on
the rows where a re-implementation goes wrong: exact ties between classes (a linear classifier's
argmax, a binary decision of exactly 0, libsvm's one-vs-one votes split evenly), an SVC with
probability=True whose predict (the vote) and predict_proba (the coupling) disagree, integer and
text labels, and the parameters pipeport refuses, with messages naming the step and the fix.

Every expected value is scikit-learn's own output on the same rows; each graph runs in
onnxruntime and in the ONNX reference evaluator.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx.reference import ReferenceEvaluator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeClassifier, SGDClassifier
from sklearn.naive_bayes import CategoricalNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.svm import SVC, LinearSVC

from pipeport.contract import frame_to_feeds
from pipeport.errors import UnsupportedStepError
from pipeport.export.onnx_export import read_metadata, session, to_onnx
from pipeport.schema import ModelSchema

RUNTIMES = ["onnxruntime", "reference"]
PROBA_ATOL = 1e-6
GATE_ROWS = 500


def _penguins() -> pd.DataFrame:
    from pipeport.export.support_cases import penguins

    return penguins().dropna(subset=["species"]).reset_index(drop=True)


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["species"])


def _pipeline(model: Any) -> Pipeline:
    numbers = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), numbers),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["island"]),
        ]
    )
    return Pipeline([("pre", pre), ("model", model)])


def _fit(model: Any, target: Any = None) -> tuple[Pipeline, pd.DataFrame]:
    frame = _penguins()
    X = _features(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = _pipeline(model).fit(X, frame["species"] if target is None else target)
    return pipeline, X


def _export(pipeline: Any, frame: pd.DataFrame, rows: int = GATE_ROWS) -> onnx.ModelProto:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_onnx(pipeline, frame, "models", generated_rows=rows, seed=3)


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


def _labels_equal(expected: Any, actual: Any) -> None:
    expected, actual = np.asarray(expected).astype(str), np.asarray(actual).astype(str)
    wrong = np.flatnonzero(expected != actual)
    assert wrong.size == 0, f"labels differ on rows {wrong[:10]}: {expected[wrong[:5]]}"


# -- ties -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_linear_classifiers_tied_classes_go_to_the_first(runtime: str) -> None:
    """LinearSVC with two classes given the same coefficients: every row where they lead ties,
    and numpy's argmax (scikit-learn's predict) takes the first."""
    pipeline, X = _fit(LinearSVC(C=0.1))
    model = pipeline[-1]
    model.coef_[2] = model.coef_[1]
    model.intercept_[2] = model.intercept_[1]
    decision = pipeline.decision_function(X)
    tied = (decision[:, 1] == decision[:, 2]) & (decision[:, 1] >= decision[:, 0])
    assert tied.sum() > 20  # the tie is real, on many rows
    expected = pipeline.predict(X)
    assert set(expected[tied]) == {model.classes_[1]}
    exported = _export(pipeline, X)
    assert [o.name for o in exported.graph.output] == ["label"]  # labels only: no predict_proba
    _labels_equal(expected, _run(exported, X, runtime)["label"])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_binary_decision_of_exactly_zero_goes_to_the_first_class(runtime: str) -> None:
    """RidgeClassifier on two classes with its coefficients on the numbers zeroed and the
    intercept cancelling the island's: a decision of exactly 0.0 on every Biscoe row, which
    scikit-learn's `scores > 0` sends to classes_[0]."""
    frame = _penguins()
    target = np.where(frame["species"] == "Gentoo", "gentoo", "other")
    pipeline, X = _fit(RidgeClassifier(), target)
    model = pipeline[-1]
    model.coef_[:4] = 0.0  # the four numbers; then the one-hot islands Biscoe, Dream, Torgersen
    model.coef_[4:] = [0.5, 1.0, 2.0]
    model.intercept_ = np.float64(-0.5)
    expected = pipeline.predict(X)
    decision = pipeline.decision_function(X)
    assert (decision == 0).sum() > 20 and (decision > 0).sum() > 20
    assert set(expected[decision == 0]) == {model.classes_[0]}
    _labels_equal(expected, _run(_export(pipeline, X), X, runtime)["label"])


@pytest.mark.parametrize(
    ("intercept", "winner"),
    [
        ([1.0, -1.0, 1.0], 0),  # 0 beats 1, 2 beats 0, 1 beats 2: one vote each, the first wins
        ([-1.0, 1.0, -1.0], 0),  # 1 beats 0, 0 beats 2, 2 beats 1: one vote each
        ([0.0, 0.0, 0.0], 2),  # a decision of 0 votes for the second class of the pair
        ([0.0, 1.0, 1.0], 1),  # 1 beats 0 (0.0), 0 beats 2, 1 beats 2
    ],
)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_svc_votes_are_libsvms(intercept: list[float], winner: int, runtime: str) -> None:
    """An SVC whose pairwise decisions are its intercepts alone (dual coefficients zeroed), so
    every row casts the same one-vs-one votes; the label is libsvm's (first class on a tie)."""
    pipeline, X = _fit(SVC(kernel="rbf", C=1.0))
    model = pipeline[-1]
    model._dual_coef_ = np.zeros_like(model._dual_coef_)
    model._intercept_ = np.asarray(intercept, np.float64)
    expected = pipeline.predict(X)
    assert set(expected) == {model.classes_[winner]}
    _labels_equal(expected, _run(_export(pipeline, X), X, runtime)["label"])


# -- SVC(probability=True) ------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_svc_probability_label_is_the_vote_and_probabilities_the_coupling(runtime: str) -> None:
    """scikit-learn's predict is libsvm's vote while predict_proba is the pairwise coupling of
    the Platt sigmoids, and on some rows their argmaxes differ: the graph's label must be the
    vote there, and its probabilities the coupling's."""
    from pipeport.export.support_cases import people

    frame = people()
    X = frame.drop(columns=["survived", "town", "spend"])
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "fare", "pclass"]),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["sex"]),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = Pipeline(
            [("pre", pre), ("model", SVC(C=0.3, probability=True, random_state=0))]
        ).fit(X, frame["town"])
    model = pipeline[-1]
    label = pipeline.predict(X)
    proba = pipeline.predict_proba(X)
    by_proba = model.classes_[np.argmax(proba, axis=1)]
    assert (label != by_proba).sum() > 0, "no row where vote and coupling disagree"
    out = _run(_export(pipeline, X), X, runtime)
    _labels_equal(label, out["label"])
    worst = float(np.max(np.abs(out["probabilities"] - proba)))
    assert worst <= PROBA_ATOL, worst


# -- integer and text labels ----------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_integer_and_text_labels_come_out_as_trained(runtime: str) -> None:
    """The same SGDClassifier(loss='log_loss') on integer classes and on their names: int64
    labels in one graph, strings in the other, each equal to scikit-learn's predict."""
    frame = _penguins()
    codes = frame["species"].map({"Adelie": 3, "Chinstrap": 7, "Gentoo": 11}).to_numpy()
    for target, kind in [(codes, "i"), (frame["species"], "O")]:
        pipeline, X = _fit(SGDClassifier(loss="log_loss", random_state=0), target)
        out = _run(_export(pipeline, X), X, runtime)
        assert out["label"].dtype.kind == kind
        _labels_equal(pipeline.predict(X), out["label"])
        assert float(np.max(np.abs(out["probabilities"] - pipeline.predict_proba(X)))) <= 1e-12


# -- refusals -------------------------------------------------------------------------------------


def _gaussian_gram(a: Any, b: Any) -> Any:
    """A kernel as SVC calls a callable: the Gram matrix of two sets of rows."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))


def _gaussian_pair(a: Any, b: Any) -> float:
    """A kernel as KernelRidge calls a callable: one pair of rows."""
    return float(np.exp(-((np.asarray(a) - np.asarray(b)) ** 2).sum()))


@pytest.mark.parametrize(
    ("model", "says"),
    [
        (SVC(kernel="precomputed"), "its kernel is 'precomputed'"),
        (SVC(kernel=_gaussian_gram), "its kernel is a callable"),
        (KernelRidge(kernel="chi2", gamma=1.0), "its kernel is 'chi2'"),
        (KernelRidge(kernel=_gaussian_pair), "its kernel is a callable"),
    ],
)
def test_unsupported_kernels_are_refused_naming_the_step(model: Any, says: str) -> None:
    frame = _penguins()
    X = _features(frame)[["bill_length_mm", "bill_depth_mm"]].fillna(40.0)
    y = frame["body_mass_g"].fillna(4000.0) if isinstance(model, KernelRidge) else frame["species"]
    if model.kernel == "precomputed":
        gram = pd.DataFrame(X.to_numpy() @ X.to_numpy().T).add_prefix("row")
        pipeline, X = Pipeline([("model", model)]).fit(gram, y), gram
    else:
        pipeline = Pipeline([("scale", MinMaxScaler()), ("model", model)]).fit(X, y)
    with pytest.raises(UnsupportedStepError) as raised:
        _export(pipeline, X, rows=0)
    message = str(raised.value)
    assert "Step 'model'" in message and says in message
    assert "pipeport exports the kernels" in message


def test_svc_break_ties_with_ovo_is_refused() -> None:
    pipeline, X = _fit(SVC(break_ties=True, decision_function_shape="ovo"))
    with pytest.raises(UnsupportedStepError, match="break_ties=True needs"):
        _export(pipeline, X, rows=0)


def test_multilabel_ridge_classifier_is_refused() -> None:
    frame = _penguins()
    y = np.column_stack([frame["species"] == "Adelie", frame["island"] == "Biscoe"]).astype(int)
    pipeline, X = _fit(RidgeClassifier(), y)
    with pytest.raises(UnsupportedStepError, match="multilabel"):
        _export(pipeline, X, rows=0)


def test_multi_target_kernel_ridge_is_refused() -> None:
    frame = _penguins()
    y = np.column_stack([frame["bill_length_mm"].fillna(40), frame["body_mass_g"].fillna(4000)])
    pipeline, X = _fit(KernelRidge(kernel="rbf"), y)
    with pytest.raises(UnsupportedStepError, match="several targets"):
        _export(pipeline, X, rows=0)


def test_categorical_nb_has_no_converter_and_says_so() -> None:
    frame = _penguins()
    X = _features(frame)[["island", "sex"]]
    pipeline = Pipeline(
        [("codes", OrdinalEncoder(encoded_missing_value=2)), ("model", CategoricalNB())]
    ).fit(X.fillna("unknown"), frame["species"])
    with pytest.raises(UnsupportedStepError, match="CategoricalNB, which pipeport has no"):
        _export(pipeline, X.fillna("unknown"), rows=0)
