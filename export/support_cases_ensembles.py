"""Support cases for the ensembles and wrappers (VotingClassifier/Regressor, Stacking*, Bagging*,
AdaBoost*, CalibratedClassifierCV) and HistGradientBoosting with native categorical features.

Each sits in a realistic pipeline (a ColumnTransformer of imputers, scalers and encoders before
it) and names the parameter values it covers; each `corrupt` changes one learned value of the
ensemble (a member's coefficient, a weight, a calibration parameter, an isotonic threshold, a
categorical split's bitset) so that the gate can be seen to catch it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from pipeport.export.support_cases import Case

Corrupt = Callable[[Any], None]

NUMBERS = ["age", "fare", "pclass", "sibsp"]
TEXT = ["sex", "embarked", "title"]
PENGUIN_NUMBERS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _people_features(numbers: list[str] = NUMBERS, text: list[str] = TEXT) -> ColumnTransformer:
    """Numbers imputed and scaled, text one-hot encoded (unseen categories ignored)."""
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), text),
        ]
    )


def _penguin_features() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), PENGUIN_NUMBERS),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["island", "sex"]),
        ]
    )


def _with(pre: Any, model: Any) -> Pipeline:
    return Pipeline([("pre", pre), ("model", model)])


# -- corruptions ----------------------------------------------------------------------------------


def _model(pipeline: Any) -> Any:
    return pipeline[-1] if isinstance(pipeline, Pipeline) else pipeline


def _last(estimator: Any) -> Any:
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def member_coef(pick: Callable[[Any], Any], delta: float) -> Corrupt:
    """Add `delta` to the first coefficient of the member `pick(ensemble)` (a model or a
    Pipeline ending in one)."""

    def corrupt(pipeline: Any) -> None:
        _last(pick(_model(pipeline))).coef_.flat[0] += delta

    return corrupt


def weight(index: int, value: float) -> Corrupt:
    """Set one of the ensemble's member weights (VotingClassifier/Regressor.weights)."""

    def corrupt(pipeline: Any) -> None:
        model = _model(pipeline)
        weights = list(model.weights)
        weights[index] = value
        model.weights = weights

    return corrupt


def estimator_weight(index: int, factor: float) -> Corrupt:
    """Scale one of AdaBoost's learned estimator_weights_."""

    def corrupt(pipeline: Any) -> None:
        _model(pipeline).estimator_weights_[index] *= factor

    return corrupt


def member_features(member: int) -> Corrupt:
    """Give a bagging member its columns (estimators_features_) in the reverse order."""

    def corrupt(pipeline: Any) -> None:
        features = _model(pipeline).estimators_features_[member]
        features[:] = features[::-1].copy()

    return corrupt


def sigmoid_a(factor: float) -> Corrupt:
    """Scale the slope `a_` of the first sigmoid calibrator."""

    def corrupt(pipeline: Any) -> None:
        _model(pipeline).calibrated_classifiers_[0].calibrators[0].a_ *= factor

    return corrupt


def isotonic_threshold(shift: float, index: int | None = None) -> Corrupt:
    """Move one fitted threshold of the first isotonic calibrator (its y value; the middle one
    unless `index` says which)."""

    def corrupt(pipeline: Any) -> None:
        calibrator = _model(pipeline).calibrated_classifiers_[0].calibrators[0]
        y = calibrator.y_thresholds_
        k = len(y) // 2 if index is None else index
        y[k] = min(max(y[k] + shift, 0.0), 1.0)
        calibrator._build_f(calibrator.X_thresholds_, y)

    return corrupt


def categorical_bitset(pipeline: Any) -> None:
    """Flip the lowest known category of the first categorical split of the first tree: that
    category goes the other way."""
    model = _model(pipeline)
    for iteration in model._predictors:
        for predictor in iteration:
            nodes = predictor.nodes
            for node in np.flatnonzero(nodes["is_categorical"].astype(bool)):
                row = predictor.raw_left_cat_bitsets[nodes["bitset_idx"][node]]
                row[0] ^= np.uint32(1)
                return
    raise ValueError("no categorical split to corrupt")


# -- the cases ------------------------------------------------------------------------------------


def cases() -> list[Case]:
    P, PG = "people", "penguins"
    return [
        # -- VotingClassifier / VotingRegressor ---------------------------------------------------
        Case(
            "voting-soft-weights",
            "VotingClassifier(voting='soft', weights=[2, 1, 0.5]) of LogisticRegression, "
            "RandomForestClassifier and a Pipeline(StandardScaler, MLPClassifier); text labels, "
            "three classes",
            P,
            "town",
            lambda: _with(
                _people_features(),
                VotingClassifier(
                    [
                        ("lr", LogisticRegression(max_iter=2000)),
                        ("forest", RandomForestClassifier(n_estimators=15, random_state=0)),
                        (
                            "mlp",
                            make_pipeline(
                                StandardScaler(),
                                MLPClassifier((8,), max_iter=400, random_state=0),
                            ),
                        ),
                    ],
                    voting="soft",
                    weights=[2, 1, 0.5],
                ),
            ),
            member_coef(lambda m: m.estimators_[0], 1.0),
        ),
        Case(
            "voting-hard-ties",
            "VotingClassifier(voting='hard'), four members on two classes (a 2-2 vote goes to "
            "the first class), one member dropped; labels only",
            P,
            "survived",
            lambda: _with(
                _people_features(),
                VotingClassifier(
                    [
                        ("lr", LogisticRegression(max_iter=2000)),
                        ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
                        ("shallow", DecisionTreeClassifier(max_depth=1, random_state=0)),
                        ("dropped", "drop"),
                        ("forest", RandomForestClassifier(n_estimators=10, random_state=0)),
                    ],
                    voting="hard",
                ),
            ),
            member_coef(lambda m: m.estimators_[0], 3.0),
        ),
        Case(
            "voting-hard-weights",
            "VotingClassifier(voting='hard', weights=[1, 1, 2]) on three classes (weighted ties: "
            "1 + 1 against 2); labels only",
            PG,
            "species",
            lambda: _with(
                _penguin_features(),
                VotingClassifier(
                    [
                        ("lr", LogisticRegression(max_iter=2000, C=0.05)),
                        ("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
                        ("forest", RandomForestClassifier(n_estimators=5, random_state=0)),
                    ],
                    voting="hard",
                    weights=[1, 1, 2],
                ),
            ),
            weight(2, 0.5),
        ),
        Case(
            "voting-regressor-weights",
            "VotingRegressor(weights=[3, 1]) of Ridge and RandomForestRegressor",
            P,
            "spend",
            lambda: _with(
                _people_features(),
                VotingRegressor(
                    [
                        ("ridge", Ridge()),
                        ("forest", RandomForestRegressor(n_estimators=10, random_state=0)),
                    ],
                    weights=[3, 1],
                ),
            ),
            weight(0, 1.0),
        ),
        # -- Stacking -----------------------------------------------------------------------------
        Case(
            "stacking-proba-binary-passthrough",
            "StackingClassifier(stack_method='auto' -> predict_proba, passthrough=True), two "
            "classes (the first probability column dropped), final LogisticRegression",
            P,
            "survived",
            lambda: _with(
                _people_features(),
                StackingClassifier(
                    [
                        ("forest", RandomForestClassifier(n_estimators=15, random_state=0)),
                        ("hgb", HistGradientBoostingClassifier(max_iter=15, random_state=0)),
                    ],
                    final_estimator=LogisticRegression(max_iter=2000),
                    passthrough=True,
                    cv=3,
                ),
            ),
            member_coef(lambda m: m.final_estimator_, 0.5),
        ),
        Case(
            "stacking-decision-multiclass",
            "StackingClassifier(stack_method='decision_function') of HistGradientBoosting and "
            "AdaBoost ([N, K] decision functions), three text classes",
            P,
            "town",
            lambda: _with(
                _people_features(),
                StackingClassifier(
                    [
                        ("hgb", HistGradientBoostingClassifier(max_iter=10, random_state=0)),
                        ("ada", AdaBoostClassifier(n_estimators=10, random_state=0)),
                    ],
                    final_estimator=LogisticRegression(max_iter=2000),
                    stack_method="decision_function",
                    cv=3,
                ),
            ),
            member_coef(lambda m: m.final_estimator_, 0.5),
        ),
        Case(
            "stacking-predict-forest-final",
            "StackingClassifier(stack_method='predict', passthrough=True) with a "
            "RandomForestClassifier as final_estimator, on penguins",
            PG,
            "species",
            lambda: _with(
                _penguin_features(),
                StackingClassifier(
                    [
                        ("lr", LogisticRegression(max_iter=2000, C=0.1)),
                        ("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
                    ],
                    final_estimator=RandomForestClassifier(n_estimators=10, random_state=0),
                    stack_method="predict",
                    passthrough=True,
                    cv=3,
                ),
            ),
            member_coef(lambda m: m.estimators_[0], 3.0),
        ),
        Case(
            "stacking-regressor",
            "StackingRegressor(passthrough=False) of Ridge and RandomForestRegressor, final Ridge",
            P,
            "spend",
            lambda: _with(
                _people_features(),
                StackingRegressor(
                    [
                        ("ridge", Ridge()),
                        ("forest", RandomForestRegressor(n_estimators=10, random_state=0)),
                    ],
                    final_estimator=Ridge(),
                    cv=3,
                ),
            ),
            member_coef(lambda m: m.final_estimator_, 0.3),
        ),
        # -- Bagging ------------------------------------------------------------------------------
        Case(
            "bagging-feature-subsets",
            "BaggingClassifier(DecisionTreeClassifier, max_features=0.6, bootstrap_features=True"
            ", max_samples=0.5): each member on its own (repeated) columns",
            P,
            "town",
            lambda: _with(
                _people_features(),
                BaggingClassifier(
                    DecisionTreeClassifier(max_depth=4),
                    n_estimators=12,
                    max_features=0.6,
                    bootstrap_features=True,
                    max_samples=0.5,
                    random_state=0,
                ),
            ),
            member_features(0),
        ),
        Case(
            "bagging-votes-missed-classes",
            "BaggingClassifier of hard VotingClassifiers (no predict_proba: members vote) on "
            "small samples (max_samples=10: three of seven members never saw a class)",
            PG,
            "species",
            lambda: _with(
                _penguin_features(),
                BaggingClassifier(
                    VotingClassifier(
                        [
                            ("lr", LogisticRegression(max_iter=2000)),
                            ("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
                        ],
                        voting="hard",
                    ),
                    n_estimators=7,
                    max_samples=10,
                    random_state=0,
                ),
            ),
            member_coef(lambda m: m.estimators_[0].estimators_[0], 5.0),
        ),
        Case(
            "bagging-regressor",
            "BaggingRegressor(Ridge, max_features=0.5, n_estimators=8)",
            P,
            "spend",
            lambda: _with(
                _people_features(),
                BaggingRegressor(Ridge(), n_estimators=8, max_features=0.5, random_state=0),
            ),
            member_coef(lambda m: m.estimators_[0], 5.0),
        ),
        # -- AdaBoost -----------------------------------------------------------------------------
        Case(
            "adaboost-samme-multiclass",
            "AdaBoostClassifier (SAMME, stumps, learning_rate=0.5), three text classes",
            P,
            "town",
            lambda: _with(
                _people_features(),
                AdaBoostClassifier(n_estimators=25, learning_rate=0.5, random_state=0),
            ),
            estimator_weight(0, 3.0),
        ),
        Case(
            "adaboost-samme-binary",
            "AdaBoostClassifier (SAMME) of depth-2 trees, two integer classes (label from "
            "decision > 0)",
            P,
            "survived",
            lambda: _with(
                _people_features(),
                AdaBoostClassifier(
                    DecisionTreeClassifier(max_depth=2), n_estimators=20, random_state=0
                ),
            ),
            estimator_weight(0, 3.0),
        ),
        Case(
            "adaboost-regressor-median",
            "AdaBoostRegressor(loss='square'): the weighted median of 25 trees",
            P,
            "spend",
            lambda: _with(
                _people_features(),
                AdaBoostRegressor(
                    DecisionTreeRegressor(max_depth=3),
                    n_estimators=25,
                    loss="square",
                    random_state=0,
                ),
            ),
            estimator_weight(0, 20.0),
        ),
        # -- CalibratedClassifierCV ---------------------------------------------------------------
        Case(
            "calibrated-sigmoid-ensemble",
            "CalibratedClassifierCV(RandomForestClassifier, method='sigmoid', ensemble=True, "
            "cv=3), three classes (one calibrator per class, normalised)",
            P,
            "town",
            lambda: _with(
                _people_features(),
                CalibratedClassifierCV(
                    RandomForestClassifier(n_estimators=10, random_state=0),
                    method="sigmoid",
                    cv=3,
                ),
            ),
            sigmoid_a(2.0),
        ),
        Case(
            "calibrated-isotonic-binary",
            "CalibratedClassifierCV(HistGradientBoostingClassifier, method='isotonic', "
            "ensemble=False): its decision_function through np.clip and np.interp, two classes (a "
            "0.5 / 0.5 plateau goes to the first class)",
            P,
            "survived",
            lambda: _with(
                _people_features(),
                CalibratedClassifierCV(
                    HistGradientBoostingClassifier(max_iter=15, random_state=0),
                    method="isotonic",
                    ensemble=False,
                    cv=3,
                ),
            ),
            isotonic_threshold(0.3),
        ),
        Case(
            "calibrated-isotonic-multiclass",
            "CalibratedClassifierCV(Pipeline(StandardScaler, MLPClassifier), method='isotonic', "
            "cv=3) on penguins: predict_proba through isotonic plateaus, normalised by the row sum",
            PG,
            "species",
            lambda: _with(
                _penguin_features(),
                CalibratedClassifierCV(
                    MLPClassifier((6,), max_iter=500, random_state=0),
                    method="isotonic",
                    cv=3,
                ),
            ),
            isotonic_threshold(-0.5, index=-1),
        ),
        # -- HistGradientBoosting with categorical_features ---------------------------------------
        Case(
            "hgb-categorical-after-ordinal",
            "HistGradientBoostingClassifier(categorical_features=[0, 1, 2, 3]) after "
            "OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1): native set "
            "splits; unknown (-1) and missing categories go the missing way",
            P,
            "town",
            lambda: _with(
                ColumnTransformer(
                    [
                        (
                            "cat",
                            OrdinalEncoder(
                                handle_unknown="use_encoded_value",
                                unknown_value=-1,
                                encoded_missing_value=-2,
                            ),
                            ["title", "embarked", "deck", "sex"],
                        ),
                        ("num", "passthrough", ["age", "fare", "pclass"]),
                    ]
                ),
                HistGradientBoostingClassifier(
                    categorical_features=[0, 1, 2, 3], max_iter=20, random_state=0
                ),
            ),
            categorical_bitset,
        ),
        Case(
            "hgb-categorical-from-dtype",
            "HistGradientBoostingRegressor(categorical_features='from_dtype') on the raw frame: "
            "pandas category columns (text with NaN, integers) split natively",
            P,
            "spend",
            lambda: Pipeline(
                [
                    (
                        "model",
                        HistGradientBoostingRegressor(
                            categorical_features="from_dtype", max_iter=20, random_state=0
                        ),
                    )
                ]
            ),
            categorical_bitset,
            columns=("deck", "grade", "age", "fare", "sibsp", "pclass"),
        ),
        Case(
            "hgb-categorical-by-name",
            "HistGradientBoostingClassifier(categorical_features=[names]) after a pandas-output "
            "ColumnTransformer (OrdinalEncoder with unknown_value=NaN), binary",
            P,
            "survived",
            lambda: _with(
                ColumnTransformer(
                    [
                        (
                            "cat",
                            OrdinalEncoder(
                                handle_unknown="use_encoded_value", unknown_value=np.nan
                            ),
                            ["sex", "title", "embarked"],
                        ),
                        ("num", SimpleImputer(), ["age", "fare", "pclass"]),
                    ]
                ).set_output(transform="pandas"),
                HistGradientBoostingClassifier(
                    categorical_features=["cat__sex", "cat__title", "cat__embarked"],
                    max_iter=15,
                    random_state=0,
                ),
            ),
            categorical_bitset,
        ),
    ]
