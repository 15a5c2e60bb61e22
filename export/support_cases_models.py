"""Support cases for the remaining scikit-learn models: linear SVMs and the other linear
classifiers, SGD, naive Bayes, generalised linear models, kernel SVMs, kernel ridge and
IsolationForest (anomaly scores).

Each sits in a realistic pipeline (a ColumnTransformer of imputers, scalers and encoders before
it, on `people` or on penguins; text and integer labels, two and three classes) and names the
parameter values it covers; each `corrupt` moves one learned value the model predicts with (a
coefficient, a class mean, a log probability, a support vector, a Platt parameter, a dual
coefficient; a forest's leaf depth or its offset), so the gate can be seen to catch it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import (
    GammaRegressor,
    PassiveAggressiveClassifier,
    Perceptron,
    PoissonRegressor,
    RidgeClassifier,
    RidgeClassifierCV,
    SGDClassifier,
    SGDRegressor,
    TweedieRegressor,
)
from sklearn.naive_bayes import BernoulliNB, ComplementNB, GaussianNB, MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, NuSVC, NuSVR

from pipeport.export.support_cases import Case

Corrupt = Callable[[Any], None]

NUMBERS = ["age", "fare", "pclass", "sibsp"]
TEXT = ["sex", "embarked", "title"]
PENGUIN_NUMBERS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _people(numbers: Any = None) -> ColumnTransformer:
    """Numbers imputed and scaled (or as `numbers` says), text one-hot encoded, dense."""
    return ColumnTransformer(
        [
            (
                "num",
                numbers or make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                NUMBERS,
            ),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), TEXT),
        ]
    )


def _penguins(numbers: Any = None) -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", numbers or make_pipeline(SimpleImputer(), StandardScaler()), PENGUIN_NUMBERS),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ["island", "sex"],
            ),
        ]
    )


def _counts() -> ColumnTransformer:
    """Non-negative features for the multinomial models: numbers min-max scaled, one-hot text."""
    return _people(make_pipeline(SimpleImputer(strategy="median"), MinMaxScaler()))


def _with(pre: Any, model: Any) -> Pipeline:
    return Pipeline([("pre", pre), ("model", model)])


# -- corruptions ----------------------------------------------------------------------------------


def _model(pipeline: Any) -> Any:
    return pipeline[-1]


def move(attribute: str, delta: float, index: Any = 0) -> Corrupt:
    """Add `delta` to `model.<attribute>[index]` (an array the model predicts with)."""

    def corrupt(pipeline: Any) -> None:
        values = getattr(_model(pipeline), attribute)
        values[index] = values[index] + delta

    return corrupt


def calibrated_support_vector(delta: float) -> Corrupt:
    """Move the first support vector of the first calibrated SVC."""

    def corrupt(pipeline: Any) -> None:
        svc = _model(pipeline).calibrated_classifiers_[0].estimator
        svc.support_vectors_[0, 0] += delta

    return corrupt


def leaf_depth(tree: int, delta: float) -> Corrupt:
    """Deepen the leaf of IsolationForest tree `tree` that most training rows reached."""

    def corrupt(pipeline: Any) -> None:
        forest = _model(pipeline)
        t = forest.estimators_[tree].tree_
        samples = np.where(t.children_left == -1, t.n_node_samples, -1)
        forest._decision_path_lengths[tree][int(np.argmax(samples))] += delta

    return corrupt


def move_offset(delta: float) -> Corrupt:
    """Move IsolationForest's offset_ (the outlier threshold) by `delta`."""

    def corrupt(pipeline: Any) -> None:
        _model(pipeline).offset_ += delta

    return corrupt


def _raw_numbers() -> ColumnTransformer:
    """Numbers as they come (IsolationForest routes missing values itself), text one-hot."""
    return ColumnTransformer(
        [
            ("num", "passthrough", NUMBERS),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), TEXT),
        ]
    )


# -- the cases ------------------------------------------------------------------------------------


def cases() -> list[Case]:
    P, PG = "people", "penguins"
    return [
        # -- linear classifiers (labels only) -----------------------------------------------------
        Case(
            "linear-svc-multiclass",
            "LinearSVC (squared hinge, one-vs-rest), three text classes; labels only",
            P,
            "town",
            lambda: _with(_people(), LinearSVC(C=0.5)),
            move("coef_", 2.0, (0, 1)),
        ),
        Case(
            "linear-svc-binary-crammer-singer",
            "LinearSVC(multi_class='crammer_singer', loss='hinge'), two integer classes (label "
            "= decision > 0); labels only",
            P,
            "survived",
            lambda: _with(_people(), LinearSVC(multi_class="crammer_singer", random_state=0)),
            move("coef_", 2.0, (0, 0)),
        ),
        Case(
            "ridge-classifier-cv",
            "RidgeClassifierCV(alphas=[0.1, 1, 10]) on penguins, three text classes; labels only",
            PG,
            "species",
            lambda: _with(_penguins(), RidgeClassifierCV(alphas=[0.1, 1.0, 10.0])),
            move("coef_", 2.0, (0, 1)),
        ),
        Case(
            "ridge-classifier-binary",
            "RidgeClassifier(alpha=3, class_weight='balanced'), two integer classes; labels only",
            P,
            "survived",
            lambda: _with(_people(), RidgeClassifier(alpha=3.0, class_weight="balanced")),
            move("intercept_", 0.5),
        ),
        Case(
            "perceptron-multiclass",
            "Perceptron(penalty='l2', alpha=1e-4), three text classes; labels only",
            P,
            "town",
            lambda: _with(_people(), Perceptron(penalty="l2", alpha=1e-4, random_state=0)),
            move("coef_", 5.0, (1, 1)),
        ),
        Case(
            "passive-aggressive-binary",
            "PassiveAggressiveClassifier(C=0.1), two integer classes; labels only",
            P,
            "survived",
            lambda: _with(_people(), PassiveAggressiveClassifier(C=0.1, random_state=0)),
            move("coef_", 2.0, (0, 0)),
        ),
        # -- SGD ----------------------------------------------------------------------------------
        Case(
            "sgd-log-loss-multiclass",
            "SGDClassifier(loss='log_loss'), three text classes: one-vs-rest expit, normalised",
            P,
            "town",
            lambda: _with(_people(), SGDClassifier(loss="log_loss", alpha=1e-3, random_state=0)),
            move("coef_", 1.0, (0, 1)),
        ),
        Case(
            "sgd-modified-huber-binary",
            "SGDClassifier(loss='modified_huber', penalty='elasticnet'), two integer classes: "
            "(clip(decision, -1, 1) + 1) / 2",
            P,
            "survived",
            lambda: _with(
                _people(),
                SGDClassifier(loss="modified_huber", penalty="elasticnet", random_state=0),
            ),
            move("coef_", 1.0, (0, 0)),
        ),
        Case(
            "sgd-modified-huber-multiclass",
            "SGDClassifier(loss='modified_huber', average=True) on penguins, three classes: "
            "clipped, normalised, rows of zeros uniform",
            PG,
            "species",
            lambda: _with(
                _penguins(), SGDClassifier(loss="modified_huber", average=True, random_state=0)
            ),
            move("coef_", 1.0, (0, 0)),
        ),
        Case(
            "sgd-hinge-labels",
            "SGDClassifier(loss='hinge', class_weight='balanced'), three text classes; labels "
            "only (no predict_proba)",
            P,
            "town",
            lambda: _with(_people(), SGDClassifier(class_weight="balanced", random_state=0)),
            move("coef_", 2.0, (0, 1)),
        ),
        Case(
            "sgd-regressor",
            "SGDRegressor(loss='huber', penalty='l1')",
            P,
            "spend",
            lambda: _with(_people(), SGDRegressor(loss="huber", penalty="l1", random_state=0)),
            move("coef_", 1.0),
        ),
        Case(
            "linear-svr",
            "LinearSVR(epsilon=1, C=10, loss='squared_epsilon_insensitive')",
            P,
            "spend",
            lambda: _with(
                _people(),
                LinearSVR(
                    epsilon=1.0,
                    C=10.0,
                    loss="squared_epsilon_insensitive",
                    dual=False,
                    random_state=0,
                ),
            ),
            move("coef_", 1.0),
        ),
        # -- naive Bayes --------------------------------------------------------------------------
        Case(
            "gaussian-nb-multiclass",
            "GaussianNB(var_smoothing=1e-6) on penguins, three text classes",
            PG,
            "species",
            lambda: _with(_penguins(), GaussianNB(var_smoothing=1e-6)),
            move("theta_", 0.5, (0, 0)),
        ),
        Case(
            "gaussian-nb-binary-priors",
            "GaussianNB(priors=[0.3, 0.7]), two integer classes",
            P,
            "survived",
            lambda: _with(_people(), GaussianNB(priors=[0.3, 0.7])),
            move("var_", 0.5, (1, 0)),
        ),
        Case(
            "multinomial-nb",
            "MultinomialNB(alpha=0.5) on min-max scaled numbers and one-hot text, three text "
            "classes",
            P,
            "town",
            lambda: _with(_counts(), MultinomialNB(alpha=0.5)),
            move("feature_log_prob_", 1.0, (0, 1)),
        ),
        Case(
            "complement-nb-norm",
            "ComplementNB(norm=True), three text classes",
            P,
            "town",
            lambda: _with(_counts(), ComplementNB(norm=True)),
            move("feature_log_prob_", 0.3, (0, 1)),
        ),
        Case(
            "bernoulli-nb-binarize",
            "BernoulliNB(binarize=0.0) on standardised numbers and one-hot text, two integer "
            "classes",
            P,
            "survived",
            lambda: _with(_people(), BernoulliNB(binarize=0.0)),
            move("feature_log_prob_", -1.0, (0, 0)),
        ),
        # -- generalised linear models -----------------------------------------------------------
        Case(
            "poisson-regressor",
            "PoissonRegressor(alpha=0.1): exp of the linear predictor",
            P,
            "spend",
            lambda: _with(_people(), PoissonRegressor(alpha=0.1, max_iter=500)),
            move("coef_", 0.2),
        ),
        Case(
            "gamma-regressor",
            "GammaRegressor(solver='newton-cholesky')",
            P,
            "spend",
            lambda: _with(_people(), GammaRegressor(solver="newton-cholesky")),
            move("coef_", 0.2, 1),
        ),
        Case(
            "tweedie-identity-link",
            "TweedieRegressor(power=0, link='identity', alpha=0.5): the linear predictor itself",
            P,
            "spend",
            lambda: _with(_people(), TweedieRegressor(power=0.0, link="identity", alpha=0.5)),
            move("coef_", 1.0),
        ),
        Case(
            "tweedie-log-link",
            "TweedieRegressor(power=1.5, link='auto' -> log)",
            P,
            "spend",
            lambda: _with(_people(), TweedieRegressor(power=1.5, max_iter=500)),
            move("coef_", 0.2),
        ),
        # -- kernel SVMs --------------------------------------------------------------------------
        Case(
            "svc-rbf-multiclass",
            "SVC(kernel='rbf', gamma='scale') on penguins, three text classes: one-vs-one "
            "votes; labels only",
            PG,
            "species",
            lambda: _with(_penguins(), SVC(C=0.3)),
            move("support_vectors_", 1.0, (0, 0)),
        ),
        Case(
            "svc-poly-binary",
            "SVC(kernel='poly', degree=3, gamma='auto', coef0=1), two integer classes; labels only",
            P,
            "survived",
            lambda: _with(_people(), SVC(kernel="poly", gamma="auto", coef0=1.0)),
            move("support_vectors_", 1.0, (0, 0)),
        ),
        Case(
            "svc-probability-multiclass",
            "SVC(probability=True), three text classes: Platt sigmoids and libsvm's pairwise "
            "coupling (an ONNX Loop); the label is the vote, as scikit-learn's predict",
            P,
            "town",
            lambda: _with(_people(), SVC(probability=True, random_state=0)),
            move("_probA", 0.5),
        ),
        Case(
            "svc-probability-binary-sigmoid",
            "SVC(kernel='sigmoid', gamma=0.05, probability=True, class_weight='balanced'), two "
            "integer classes",
            P,
            "survived",
            lambda: _with(
                _people(),
                SVC(
                    kernel="sigmoid",
                    gamma=0.05,
                    probability=True,
                    class_weight="balanced",
                    random_state=0,
                ),
            ),
            move("_probB", 0.5),
        ),
        Case(
            "svc-break-ties",
            "SVC(kernel='linear', break_ties=True), three text classes: the ovr decision's argmax",
            P,
            "town",
            lambda: _with(_people(), SVC(kernel="linear", break_ties=True)),
            move("support_vectors_", 1.0, (0, 0)),
        ),
        Case(
            "nusvc-ovo",
            "NuSVC(nu=0.3, decision_function_shape='ovo') on penguins; labels only",
            PG,
            "species",
            lambda: _with(_penguins(), NuSVC(nu=0.3, decision_function_shape="ovo")),
            move("support_vectors_", 1.0, (0, 0)),
        ),
        Case(
            "calibrated-svc",
            "CalibratedClassifierCV(SVC(), cv=3) (scikit-learn's advice in place of "
            "probability=True): the ovr decision function, calibrated",
            P,
            "town",
            lambda: _with(_people(), CalibratedClassifierCV(SVC(), cv=3)),
            calibrated_support_vector(1.0),
        ),
        Case(
            "svr-rbf",
            "SVR(C=100, epsilon=2)",
            P,
            "spend",
            lambda: _with(_people(), SVR(C=100.0, epsilon=2.0)),
            move("_dual_coef_", 5.0, (0, 0)),
        ),
        Case(
            "nusvr-poly",
            "NuSVR(kernel='poly', degree=2, C=10)",
            P,
            "spend",
            lambda: _with(_people(), NuSVR(kernel="poly", degree=2, C=10.0)),
            move("_dual_coef_", 5.0, (0, 0)),
        ),
        # -- kernel ridge -------------------------------------------------------------------------
        Case(
            "kernel-ridge-rbf",
            "KernelRidge(kernel='rbf', alpha=0.1, gamma=0.2)",
            P,
            "spend",
            lambda: _with(_people(), KernelRidge(kernel="rbf", alpha=0.1, gamma=0.2)),
            move("dual_coef_", 5.0),
        ),
        Case(
            "kernel-ridge-laplacian",
            "KernelRidge(kernel='laplacian', alpha=0.5) (gamma None: 1 / n_features)",
            P,
            "spend",
            lambda: _with(_people(), KernelRidge(kernel="laplacian", alpha=0.5)),
            move("dual_coef_", 5.0),
        ),
        Case(
            "kernel-ridge-poly",
            "KernelRidge(kernel='poly', degree=2, alpha=10)",
            P,
            "spend",
            lambda: _with(_people(), KernelRidge(kernel="poly", degree=2, alpha=10.0)),
            move("dual_coef_", 5.0),
        ),
        # -- anomaly detection: labels -1/1 (predict) and score_samples ---------------------------
        Case(
            "isolation-forest-missing-values",
            "IsolationForest(n_estimators=80) on raw numbers with missing values (routed by the "
            "trees) and one-hot text; contamination 'auto' (offset -0.5); label and "
            "score_samples",
            P,
            "survived",  # ignored by the forest
            lambda: _with(_raw_numbers(), IsolationForest(n_estimators=80, random_state=0)),
            leaf_depth(0, 2.0),
        ),
        Case(
            "isolation-forest-contamination-subsampled",
            "IsolationForest(contamination=0.1, max_samples=128, max_features=0.6, "
            "bootstrap=True) on penguins (each tree on its own columns); label and score_samples",
            PG,
            "species",  # ignored by the forest
            lambda: _with(
                _penguins(),
                IsolationForest(
                    n_estimators=60,
                    contamination=0.1,
                    max_samples=128,
                    max_features=0.6,
                    bootstrap=True,
                    random_state=0,
                ),
            ),
            move_offset(0.05),
        ),
    ]
