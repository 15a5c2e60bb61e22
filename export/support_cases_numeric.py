"""Support cases for the numeric transforms: QuantileTransformer, PowerTransformer,
KBinsDiscretizer and SplineTransformer (and the first two as TransformedTargetRegressor targets).

One case per class and important parameter value, inside the pipelines users write; each
`corrupt` changes one learned value of the step (a quantile, a lambda, a bin edge, a knot).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    KBinsDiscretizer,
    MinMaxScaler,
    OneHotEncoder,
    PowerTransformer,
    QuantileTransformer,
    SplineTransformer,
    StandardScaler,
)

from pipeport.export.support_cases import Case, _step

PENGUIN_NUMBERS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _model(pre: Any, model: Any) -> Pipeline:
    return Pipeline([("pre", pre), ("model", model)])


def _logistic() -> LogisticRegression:
    return LogisticRegression(max_iter=3000)


def _with_sex(*transformers: tuple[str, Any, list[str]]) -> ColumnTransformer:
    return ColumnTransformer(
        [*transformers, ("sex", OneHotEncoder(handle_unknown="ignore"), ["sex"])]
    )


def _imputed(step: Any) -> Pipeline:
    return make_pipeline(SimpleImputer(strategy="median"), step)


def _at(model: Any, path: str) -> Any:
    """The step at `path` (scikit-learn's parameter path; "transformer_": a
    TransformedTargetRegressor's fitted target transformer)."""
    return model.transformer_ if path == "transformer_" else _step(model, path)


def nudge(path: str, attribute: str, delta: float, index: Any = 0) -> Callable[[Any], None]:
    def corrupt(pipeline: Any) -> None:
        getattr(_at(pipeline, path), attribute)[index] += delta

    return corrupt


def move_bin_edge(path: str, feature: int = 0, edge: int = 1) -> Callable[[Any], None]:
    """Move one inner bin edge halfway to the next one."""

    def corrupt(pipeline: Any) -> None:
        edges = _at(pipeline, path).bin_edges_[feature]
        edges[edge] = 0.5 * (edges[edge] + edges[edge + 1])

    return corrupt


def move_knot(path: str, feature: int = 0) -> Callable[[Any], None]:
    """Move one interior knot of a column's splines a third of the way to the next one."""

    def corrupt(pipeline: Any) -> None:
        spline = _at(pipeline, path).bsplines_[feature]
        i = len(spline.t) // 2
        spline.t[i] = spline.t[i] + (spline.t[i + 1] - spline.t[i]) / 3

    return corrupt


def move_quantile(path: str, feature: int = 0) -> Callable[[Any], None]:
    """Move the median quantile of a column halfway to the next-but-ten one."""

    def corrupt(pipeline: Any) -> None:
        quantiles = _at(pipeline, path).quantiles_
        i = len(quantiles) // 2
        step = max(1, len(quantiles) // 10)
        quantiles[i, feature] = 0.5 * (quantiles[i, feature] + quantiles[i + step, feature])

    return corrupt


def cases() -> list[Case]:
    P, PG = "people", "penguins"
    return [
        # -- QuantileTransformer -------------------------------------------------------------------
        Case(
            "quantile-uniform-nan-passthrough",
            "QuantileTransformer(n_quantiles=200) on raw columns, missing values passing through "
            "as NaN into HistGradientBoostingClassifier; repeated quantiles (integer columns)",
            P,
            "town",
            lambda: _model(
                ColumnTransformer(
                    [
                        (
                            "quantile",
                            QuantileTransformer(n_quantiles=200),
                            ["age", "fare", "sibsp", "pclass"],
                        ),
                        ("sex", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
                    ]
                ),
                HistGradientBoostingClassifier(max_iter=40, random_state=0),
            ),
            move_quantile("pre__quantile", 1),
        ),
        Case(
            "quantile-normal",
            "QuantileTransformer(output_distribution='normal') (scipy's norm.ppf, clipped) "
            "after SimpleImputer, into LogisticRegression",
            P,
            "town",
            lambda: _model(
                _with_sex(
                    (
                        "quantile",
                        _imputed(QuantileTransformer(output_distribution="normal")),
                        ["age", "fare", "sibsp"],
                    )
                ),
                _logistic(),
            ),
            move_quantile("pre__quantile__quantiletransformer", 1),
        ),
        # -- PowerTransformer ---------------------------------------------------------------------
        Case(
            "power-yeo-johnson",
            "PowerTransformer() (yeo-johnson, standardize=True) after SimpleImputer, into "
            "LogisticRegression",
            P,
            "survived",
            lambda: _model(
                _with_sex(
                    ("power", _imputed(PowerTransformer()), ["age", "fare", "sibsp", "pclass"])
                ),
                _logistic(),
            ),
            nudge("pre__power__powertransformer", "lambdas_", 0.2, 1),
        ),
        Case(
            "power-yeo-johnson-unstandardized",
            "PowerTransformer(standardize=False) on raw columns, missing values passing through "
            "as NaN to a SimpleImputer after it, into Ridge",
            P,
            "spend",
            lambda: _model(
                _with_sex(
                    (
                        "power",
                        make_pipeline(
                            PowerTransformer(standardize=False), SimpleImputer(strategy="median")
                        ),
                        ["age", "fare", "sibsp"],
                    )
                ),
                Ridge(),
            ),
            nudge("pre__power__powertransformer", "lambdas_", 0.1, 1),
        ),
        Case(
            "power-box-cox",
            "PowerTransformer(method='box-cox') on raw positive columns (a value <= 0 refused in "
            "every runtime, as scikit-learn raises), and after MinMaxScaler(feature_range=(1, 2)) "
            "(the bound carried back to the raw column)",
            PG,
            "species",
            lambda: _model(
                ColumnTransformer(
                    [
                        (
                            "power",
                            _imputed(PowerTransformer(method="box-cox")),
                            ["body_mass_g", "flipper_length_mm"],
                        ),
                        (
                            "scaled",
                            make_pipeline(
                                SimpleImputer(),
                                MinMaxScaler(feature_range=(1, 2)),
                                PowerTransformer(method="box-cox"),
                            ),
                            ["bill_length_mm", "bill_depth_mm"],
                        ),
                        ("island", OneHotEncoder(handle_unknown="ignore"), ["island"]),
                    ]
                ),
                _logistic(),
            ),
            nudge("pre__power__powertransformer", "lambdas_", 0.5, 0),
        ),
        Case(
            "power-box-cox-unstandardized",
            "PowerTransformer(method='box-cox', standardize=False), into Ridge",
            P,
            "spend",
            lambda: _model(
                _with_sex(
                    (
                        "power",
                        PowerTransformer(method="box-cox", standardize=False),
                        ["fare"],
                    ),
                    ("num", _imputed(StandardScaler()), ["age", "sibsp"]),
                ),
                Ridge(),
            ),
            nudge("pre__power", "lambdas_", 0.1, 0),
        ),
        # -- as the target transform --------------------------------------------------------------
        Case(
            "target-quantile-normal",
            "TransformedTargetRegressor(transformer=QuantileTransformer(output_distribution="
            "'normal')): its inverse (norm.cdf, interpolation) inside the graph",
            P,
            "spend",
            lambda: TransformedTargetRegressor(
                regressor=_model(
                    ColumnTransformer([("num", _imputed(StandardScaler()), ["fare", "sibsp"])]),
                    Ridge(),
                ),
                transformer=QuantileTransformer(output_distribution="normal", n_quantiles=300),
            ),
            move_quantile("transformer_", 0),
        ),
        Case(
            "target-power-box-cox",
            "TransformedTargetRegressor(transformer=PowerTransformer(method='box-cox')): its "
            "inverse (the scaler's, then inv_boxcox) inside the graph, around "
            "HistGradientBoostingRegressor",
            P,
            "spend",
            lambda: TransformedTargetRegressor(
                regressor=_model(
                    ColumnTransformer([("num", "passthrough", ["age", "fare", "sibsp"])]),
                    HistGradientBoostingRegressor(max_iter=40, random_state=0),
                ),
                transformer=PowerTransformer(method="box-cox"),
            ),
            nudge("transformer_", "lambdas_", 0.1, 0),
        ),
        # -- KBinsDiscretizer ---------------------------------------------------------------------
        Case(
            "kbins-ordinal-uniform",
            "KBinsDiscretizer(encode='ordinal', strategy='uniform') after SimpleImputer, into "
            "LogisticRegression",
            P,
            "survived",
            lambda: _model(
                _with_sex(
                    (
                        "bins",
                        _imputed(KBinsDiscretizer(n_bins=6, encode="ordinal", strategy="uniform")),
                        ["age", "fare"],
                    )
                ),
                _logistic(),
            ),
            move_bin_edge("pre__bins__kbinsdiscretizer", 0, 2),
        ),
        Case(
            "kbins-onehot-quantile",
            "KBinsDiscretizer(encode='onehot', strategy='quantile') (sparse output; tiny bins "
            "of integer columns removed) on raw columns: a missing value refused in every "
            "runtime, as scikit-learn raises",
            P,
            "town",
            lambda: _model(
                ColumnTransformer(
                    [
                        (
                            "bins",
                            KBinsDiscretizer(n_bins=[6, 4, 3], strategy="quantile"),
                            ["fare", "sibsp", "pclass"],
                        ),
                        ("sex", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
                    ]
                ),
                _logistic(),
            ),
            move_bin_edge("pre__bins", 1, 2),
        ),
        Case(
            "kbins-onehot-dense-kmeans",
            "KBinsDiscretizer(encode='onehot-dense', strategy='kmeans') after SimpleImputer, into "
            "HistGradientBoostingClassifier",
            PG,
            "species",
            lambda: _model(
                ColumnTransformer(
                    [
                        (
                            "bins",
                            _imputed(
                                KBinsDiscretizer(n_bins=5, encode="onehot-dense", strategy="kmeans")
                            ),
                            PENGUIN_NUMBERS,
                        ),
                        ("island", OneHotEncoder(handle_unknown="ignore"), ["island"]),
                    ]
                ),
                HistGradientBoostingClassifier(max_iter=30, random_state=0),
            ),
            move_bin_edge("pre__bins__kbinsdiscretizer", 0, 1),
        ),
        # -- SplineTransformer --------------------------------------------------------------------
        Case(
            "spline-constant-uniform",
            "SplineTransformer() (degree 3, 5 uniform knots, extrapolation='constant') after "
            "SimpleImputer, into Ridge",
            P,
            "spend",
            lambda: _model(
                _with_sex(("splines", _imputed(SplineTransformer()), ["age", "fare", "sibsp"])),
                Ridge(),
            ),
            move_knot("pre__splines__splinetransformer", 1),
        ),
        Case(
            "spline-linear-quantile-degree-1",
            "SplineTransformer(degree=1, knots='quantile', extrapolation='linear', "
            "include_bias=False) on three columns (scikit-learn's own carried `degree` for the "
            "second and third, reproduced)",
            P,
            "survived",
            lambda: _model(
                _with_sex(
                    (
                        "splines",
                        _imputed(
                            SplineTransformer(
                                degree=1,
                                n_knots=6,
                                knots="quantile",
                                extrapolation="linear",
                                include_bias=False,
                            )
                        ),
                        ["age", "fare", "pclass"],
                    )
                ),
                _logistic(),
            ),
            move_knot("pre__splines__splinetransformer", 1),
        ),
        Case(
            "spline-linear-degree-2",
            "SplineTransformer(degree=2, extrapolation='linear') on penguins, into "
            "LogisticRegression",
            PG,
            "species",
            lambda: _model(
                ColumnTransformer(
                    [
                        (
                            "splines",
                            _imputed(
                                SplineTransformer(degree=2, n_knots=4, extrapolation="linear")
                            ),
                            PENGUIN_NUMBERS,
                        ),
                        ("island", OneHotEncoder(handle_unknown="ignore"), ["island"]),
                    ]
                ),
                _logistic(),
            ),
            move_knot("pre__splines__splinetransformer", 2),
        ),
        Case(
            "spline-continue-knots-array",
            "SplineTransformer(knots=<array>, extrapolation='continue') (the polynomials "
            "continue outside the knots), into Ridge",
            P,
            "spend",
            lambda: _model(
                _with_sex(
                    (
                        "splines",
                        _imputed(
                            SplineTransformer(
                                knots=np.array(
                                    [[0.0, 0.0], [20.0, 30.0], [45.0, 80.0], [80.0, 200.0]]
                                ),
                                extrapolation="continue",
                            )
                        ),
                        ["age", "fare"],
                    )
                ),
                Ridge(),
            ),
            move_knot("pre__splines__splinetransformer", 1),
        ),
        Case(
            "spline-periodic-missing-zeros",
            "SplineTransformer(extrapolation='periodic', handle_missing='zeros') on raw columns "
            "with NaN (missing values become zeros), into LogisticRegression",
            P,
            "survived",
            lambda: _model(
                _with_sex(
                    (
                        "splines",
                        SplineTransformer(
                            n_knots=6, extrapolation="periodic", handle_missing="zeros"
                        ),
                        ["age", "sibsp"],
                    ),
                    ("fare", StandardScaler(), ["fare"]),
                ),
                _logistic(),
            ),
            move_knot("pre__splines", 0),
        ),
        Case(
            "spline-error",
            "SplineTransformer(extrapolation='error', degree=2) on raw columns: a value outside "
            "the knots refused in every runtime, as scikit-learn raises",
            PG,
            "species",
            lambda: _model(
                ColumnTransformer(
                    [
                        (
                            "splines",
                            SplineTransformer(
                                degree=2, n_knots=4, extrapolation="error", handle_missing="zeros"
                            ),
                            ["bill_length_mm", "flipper_length_mm"],
                        ),
                        ("island", OneHotEncoder(handle_unknown="ignore"), ["island"]),
                    ]
                ),
                _logistic(),
            ),
            move_knot("pre__splines", 0),
        ),
    ]
