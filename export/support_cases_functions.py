"""Support cases for FunctionTransformer with numpy functions and TransformedTargetRegressor."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

from pipeport.export.support_cases import Case, model_coef, shift


def _features(*functions: Any) -> ColumnTransformer:
    """Each numpy function on its own columns, after an imputer."""
    return ColumnTransformer(
        [
            (f"f{i}", make_pipeline(SimpleImputer(strategy="median"), function), columns)
            for i, (function, columns) in enumerate(functions)
        ]
        + [("sex", OneHotEncoder(handle_unknown="ignore"), ["sex"])]
    )


def _regressor_coef(delta: float) -> Any:
    def corrupt(model: Any) -> None:
        model.regressor_[-1].coef_.flat[0] += delta

    return corrupt


def cases() -> list[Case]:
    P = "people"
    return [
        Case(
            "functions-log-sqrt-square",
            "FunctionTransformer(np.log1p), (np.sqrt), (np.square), (np.abs): the log and the "
            "root refuse values outside their domain in every runtime",
            P,
            "survived",
            lambda: Pipeline(
                [
                    (
                        "pre",
                        _features(
                            (FunctionTransformer(np.log1p), ["fare"]),
                            (FunctionTransformer(np.sqrt), ["age"]),
                            (FunctionTransformer(np.square), ["sibsp"]),
                            (FunctionTransformer(np.abs), ["pclass"]),
                        ),
                    ),
                    ("scale", StandardScaler()),
                    ("model", LogisticRegression(max_iter=2000)),
                ]
            ),
            shift("scale", "mean_", 0.5),
        ),
        Case(
            "functions-log-exp-clip-reciprocal",
            "FunctionTransformer(np.log), (np.exp), (np.expm1), (np.clip, kw_args), "
            "(np.reciprocal)",
            P,
            "spend",
            lambda: Pipeline(
                [
                    (
                        "pre",
                        _features(
                            (FunctionTransformer(np.log), ["fare"]),
                            (
                                make_pipeline(
                                    FunctionTransformer(np.clip, kw_args={"a_min": 0, "a_max": 5}),
                                    FunctionTransformer(np.exp),
                                ),
                                ["sibsp"],
                            ),
                            (FunctionTransformer(np.expm1), ["pclass"]),
                            (
                                make_pipeline(
                                    FunctionTransformer(
                                        np.clip, kw_args={"a_min": 1, "a_max": None}
                                    ),
                                    FunctionTransformer(np.reciprocal),
                                ),
                                ["age"],
                            ),
                        ),
                    ),
                    ("model", Ridge()),
                ]
            ),
            model_coef(0.5),
        ),
        Case(
            "target-log-exp",
            "TransformedTargetRegressor(regressor=<a Pipeline>, func=np.log, inverse_func=np.exp)",
            P,
            "spend",
            lambda: TransformedTargetRegressor(
                regressor=make_pipeline(_features((StandardScaler(), ["age", "fare"])), Ridge()),
                func=np.log,
                inverse_func=np.exp,
            ),
            _regressor_coef(0.05),
        ),
        Case(
            "target-log1p-expm1-forest",
            "TransformedTargetRegressor(func=np.log1p, inverse_func=np.expm1) around a forest",
            P,
            "spend",
            lambda: make_pipeline(
                _features((FunctionTransformer(), ["age", "fare", "sibsp"])),
                TransformedTargetRegressor(
                    regressor=RandomForestRegressor(n_estimators=20, random_state=0),
                    func=np.log1p,
                    inverse_func=np.expm1,
                ),
            ),
            _forest_leaf(),
        ),
        Case(
            "target-sqrt-square",
            "TransformedTargetRegressor(func=np.sqrt, inverse_func=np.square)",
            P,
            "spend",
            lambda: TransformedTargetRegressor(
                regressor=make_pipeline(_features((StandardScaler(), ["age", "fare"])), Ridge()),
                func=np.sqrt,
                inverse_func=np.square,
            ),
            _regressor_coef(0.05),
        ),
        Case(
            "target-scalers",
            "TransformedTargetRegressor(transformer=StandardScaler()) and (MinMaxScaler())",
            P,
            "spend",
            lambda: TransformedTargetRegressor(
                regressor=make_pipeline(
                    _features((StandardScaler(), ["age", "fare"])),
                    TransformedTargetRegressor(regressor=Ridge(), transformer=MinMaxScaler()),
                ),
                transformer=StandardScaler(),
            ),
            _target_mean(),
        ),
    ]


def _forest_leaf() -> Any:
    def corrupt(pipeline: Any) -> None:
        tree = pipeline[-1].regressor_.estimators_[0].tree_
        leaves = np.flatnonzero(tree.children_left == -1)
        tree.value[leaves, 0, 0] += 0.5

    return corrupt


def _target_mean() -> Any:
    def corrupt(model: Any) -> None:
        model.transformer_.mean_[0] += 1.0

    return corrupt
