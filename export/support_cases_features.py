"""Support cases for KNNImputer, IterativeImputer, PCA, IncrementalPCA, TruncatedSVD, Normalizer,
Binarizer and PolynomialFeatures.

One case per class and important parameter value, inside the pipelines users write; each
`corrupt` changes one learned value of the step (a fitted row of KNNImputer, a coefficient of
IterativeImputer's sequence, a component, a mean, a variance, a threshold). Normalizer and
PolynomialFeatures learn nothing: their corruption changes the norm, or a learned value just
before the step, so the case still shows the gate sees the step's output.

KNNImputer's cases read `sensors()`, continuous readings without repeated values: where training
rows repeat values (integer columns, rounded measurements such as people's ages or penguins'
masses), rows are often exactly as far from two training rows, scikit-learn's pick between them
depends on the CPU (export/converters/knn_imputer.py), and the gate refuses the export. The same
happens without repeated values when training rows have gaps in different columns: a row that
repeats one training row's value in one column and another's in another column is at distance 0
from both; `knn-imputer-one-neighbour` (one neighbour: such a tie decides) therefore reads only one
column with gaps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA, IncrementalPCA, TruncatedSVD
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    Binarizer,
    Normalizer,
    OneHotEncoder,
    PolynomialFeatures,
    StandardScaler,
)

from pipeport.export.support_cases import Case, _step, model_coef, shift

SENSOR_NUMBERS = ["temperature", "humidity", "pressure", "wind"]
SENSOR_TARGETS = ("alarm", "load")
PENGUIN_NUMBERS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@cache
def sensors(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Weather-station readings with gaps (each of SENSOR_NUMBERS missing 12% of the time), two
    readings without gaps (solar, hour), full-precision floats (no two rows share a value), a
    site name, an alarm flag and a load (deterministic)."""
    rng = np.random.default_rng(seed)
    temperature = rng.normal(18.0, 6.0, n)
    humidity = 70.0 - 1.5 * (temperature - 18.0) + rng.normal(0.0, 8.0, n)
    pressure = rng.normal(1013.0, 9.0, n)
    wind = rng.gamma(2.0, 3.0, n)
    site = rng.choice(["north", "harbour", "hill"], n)
    score = 0.15 * (temperature - 18) - 0.05 * (humidity - 60) + 0.2 * wind + rng.normal(0, 1, n)
    load = 40.0 + 1.2 * temperature + 0.3 * wind**2 - 0.1 * (pressure - 1013) + rng.normal(0, 2, n)
    frame = pd.DataFrame(
        {
            "temperature": temperature,
            "humidity": humidity,
            "pressure": pressure,
            "wind": wind,
            "site": pd.Series(site, dtype=object),
        }
    )
    for column in SENSOR_NUMBERS:
        frame.loc[rng.random(n) < 0.12, column] = np.nan
    frame["solar"] = rng.uniform(0.0, 900.0, n)
    frame["hour"] = rng.uniform(0.0, 24.0, n)
    frame["alarm"] = (score > 1.0).astype(int)
    frame["load"] = load
    return frame


@dataclass(frozen=True)
class SensorCase(Case):
    """A case on `sensors()` rather than people or penguins."""

    def frame(self) -> pd.DataFrame:
        return sensors()

    def features(self) -> pd.DataFrame:
        if self.columns is not None:
            return self.frame()[list(self.columns)]
        return self.frame().drop(columns=list(SENSOR_TARGETS))


# -- corruptions ----------------------------------------------------------------------------------


def move_fitted_value(path: str, column: int, nearest_to_far: int) -> Callable[[Any], None]:
    """Add 50 to `column` of the training row with the largest value of `nearest_to_far` among
    those where `column` is present: the donor of every row far out on that side."""

    def corrupt(pipeline: Any) -> None:
        fit = _step(pipeline, path)._fit_X
        donors = np.flatnonzero(~np.isnan(fit[:, column]) & ~np.isnan(fit[:, nearest_to_far]))
        row = donors[np.argmax(fit[donors, nearest_to_far])]
        fit[row, column] += 50.0

    return corrupt


def sequence_coef(path: str, delta: float, entry: int = -1) -> Callable[[Any], None]:
    """Change one coefficient of an entry (the last: its value is final) of IterativeImputer's
    imputation_sequence_."""

    def corrupt(pipeline: Any) -> None:
        estimator = _step(pipeline, path).imputation_sequence_[entry].estimator
        estimator.coef_[0] += delta

    return corrupt


def set_attribute(path: str, attribute: str, value: Any) -> Callable[[Any], None]:
    def corrupt(pipeline: Any) -> None:
        setattr(_step(pipeline, path), attribute, value)

    return corrupt


# -- pipelines ------------------------------------------------------------------------------------


def _logistic(pre: Any) -> Pipeline:
    return Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=3000))])


def _ridge(pre: Any) -> Pipeline:
    return Pipeline([("pre", pre), ("model", Ridge())])


def _with(column: str, *transformers: tuple[str, Any, list[str]]) -> ColumnTransformer:
    """The transformers, and `column` one-hot encoded beside them."""
    return ColumnTransformer(
        [*transformers, ("cat", OneHotEncoder(handle_unknown="ignore"), [column])]
    )


def _scaled() -> Pipeline:
    return make_pipeline(SimpleImputer(), StandardScaler())


def cases() -> list[Case]:
    return [*_imputer_cases(), *_decomposition_cases(), *_transform_cases()]


def _imputer_cases() -> list[Case]:
    S, P, PG = "sensors", "people", "penguins"
    return [
        # -- KNNImputer -------------------------------------------------------------------------
        SensorCase(
            "knn-imputer-uniform",
            "KNNImputer() (5 neighbours, uniform weights) on continuous readings with gaps, then "
            "StandardScaler, into LogisticRegression",
            S,
            "alarm",
            lambda: _logistic(
                _with(
                    "site", ("num", make_pipeline(KNNImputer(), StandardScaler()), SENSOR_NUMBERS)
                )
            ),
            move_fitted_value("pre__num__knnimputer", 1, 0),
        ),
        SensorCase(
            "knn-imputer-distance-indicator",
            "KNNImputer(n_neighbors=3, weights='distance', add_indicator=True) (a row at "
            "distance 0 takes all the weight), into Ridge",
            S,
            "load",
            lambda: _ridge(
                _with(
                    "site",
                    (
                        "num",
                        KNNImputer(n_neighbors=3, weights="distance", add_indicator=True),
                        SENSOR_NUMBERS,
                    ),
                )
            ),
            move_fitted_value("pre__num", 0, 3),
        ),
        SensorCase(
            "knn-imputer-one-neighbour",
            "KNNImputer(n_neighbors=1) on a reading with gaps and two without, into "
            "HistGradientBoostingRegressor",
            S,
            "load",
            lambda: Pipeline(
                [
                    ("pre", KNNImputer(n_neighbors=1)),
                    ("model", HistGradientBoostingRegressor(max_iter=30, random_state=0)),
                ]
            ),
            move_fitted_value("pre", 0, 1),
            columns=("temperature", "solar", "hour"),
        ),
        # -- IterativeImputer -------------------------------------------------------------------
        Case(
            "iterative-imputer-bayesian-ridge",
            "IterativeImputer() (BayesianRidge, initial_strategy='mean', 10 rounds), then "
            "StandardScaler, into LogisticRegression",
            PG,
            "species",
            lambda: _logistic(
                _with(
                    "island",
                    (
                        "num",
                        make_pipeline(IterativeImputer(random_state=0), StandardScaler()),
                        PENGUIN_NUMBERS,
                    ),
                )
            ),
            sequence_coef("pre__num__iterativeimputer", 0.5),
        ),
        Case(
            "iterative-imputer-ridge-clipped",
            "IterativeImputer(estimator=Ridge(), initial_strategy='median', "
            "imputation_order='descending', min_value=0, max_value per column, "
            "add_indicator=True), into Ridge",
            P,
            "spend",
            lambda: _ridge(
                _with(
                    "sex",
                    (
                        "num",
                        IterativeImputer(
                            estimator=Ridge(),
                            initial_strategy="median",
                            imputation_order="descending",
                            min_value=0,
                            max_value=[90, 300, 8, 3],
                            add_indicator=True,
                            random_state=0,
                        ),
                        ["age", "fare", "sibsp", "pclass"],
                    ),
                )
            ),
            sequence_coef("pre__num", 2.0),
        ),
        SensorCase(
            "iterative-imputer-nearest-features",
            "IterativeImputer(initial_strategy='constant', n_nearest_features=2, "
            "imputation_order='random', max_iter=5, skip_complete=True) on continuous readings",
            S,
            "alarm",
            lambda: _logistic(
                _with(
                    "site",
                    (
                        "num",
                        make_pipeline(
                            IterativeImputer(
                                initial_strategy="constant",
                                n_nearest_features=2,
                                imputation_order="random",
                                max_iter=5,
                                skip_complete=True,
                                random_state=0,
                            ),
                            StandardScaler(),
                        ),
                        SENSOR_NUMBERS,
                    ),
                )
            ),
            sequence_coef("pre__num__iterativeimputer", 0.5),
        ),
    ]


def _decomposition_cases() -> list[Case]:
    P, PG = "people", "penguins"
    return [
        Case(
            "pca",
            "PCA(n_components=3) after SimpleImputer and StandardScaler, into LogisticRegression",
            PG,
            "species",
            lambda: _logistic(
                _with("island", ("num", make_pipeline(_scaled(), PCA(3)), PENGUIN_NUMBERS))
            ),
            shift("pre__num__pca", "mean_", 0.5),
        ),
        Case(
            "pca-whiten",
            "PCA(n_components=0.9, whiten=True) on imputed raw columns (centering after the "
            "projection, then / sqrt(explained_variance_)), into Ridge",
            P,
            "spend",
            lambda: _ridge(
                _with(
                    "sex",
                    (
                        "num",
                        make_pipeline(SimpleImputer(), PCA(0.9, whiten=True)),
                        ["age", "fare", "sibsp", "pclass"],
                    ),
                )
            ),
            shift("pre__num__pca", "explained_variance_", 50.0),
        ),
        Case(
            "incremental-pca-whiten",
            "IncrementalPCA(n_components=2, whiten=True, batch_size=100), into LogisticRegression",
            PG,
            "species",
            lambda: _logistic(
                _with(
                    "island",
                    (
                        "num",
                        make_pipeline(
                            _scaled(), IncrementalPCA(n_components=2, whiten=True, batch_size=100)
                        ),
                        PENGUIN_NUMBERS,
                    ),
                )
            ),
            shift("pre__num__incrementalpca", "components_", 0.3, (0, 0)),
        ),
        Case(
            "truncated-svd-after-onehot",
            "TruncatedSVD(n_components=4) on a sparse OneHotEncoder output and scaled numbers, "
            "into LogisticRegression",
            P,
            "survived",
            lambda: Pipeline(
                [
                    (
                        "pre",
                        ColumnTransformer(
                            [
                                ("num", _scaled(), ["age", "fare"]),
                                (
                                    "cat",
                                    OneHotEncoder(handle_unknown="ignore"),
                                    ["sex", "title", "pclass", "deck"],
                                ),
                            ],
                            sparse_threshold=1.0,
                        ),
                    ),
                    ("svd", TruncatedSVD(n_components=4, random_state=0)),
                    ("model", LogisticRegression(max_iter=3000)),
                ]
            ),
            shift("svd", "components_", 0.3, (0, 0)),
        ),
    ]


def _normalizer(norm: str, corrupted: str) -> Case:
    """On raw columns into Ridge for 'max'; after SimpleImputer into LogisticRegression else."""
    raw_numbers = ["fare", "sibsp", "pclass"]  # no missing values in training
    if norm == "max":
        return Case(
            f"normalizer-{norm}",
            f"Normalizer(norm='{norm}') on raw columns (a missing value refused, as scikit-learn "
            "raises; a row of zeros stays zeros), into Ridge",
            "people",
            "spend",
            lambda: _ridge(_with("sex", ("norm", Normalizer(norm=norm), raw_numbers))),
            set_attribute("pre__norm", "norm", corrupted),
        )
    return Case(
        f"normalizer-{norm}",
        f"Normalizer(norm='{norm}') after SimpleImputer, into LogisticRegression",
        "people",
        "survived" if norm == "l1" else "town",
        lambda: _logistic(
            _with(
                "sex",
                (
                    "norm",
                    make_pipeline(SimpleImputer(), Normalizer(norm=norm)),
                    ["age", *raw_numbers],
                ),
            )
        ),
        set_attribute("pre__norm__normalizer", "norm", corrupted),
    )


def _transform_cases() -> list[Case]:
    P, PG = "people", "penguins"
    out = [_normalizer("l1", "l2"), _normalizer("l2", "max"), _normalizer("max", "l1")]
    return [
        *out,
        Case(
            "binarizer",
            "Binarizer(threshold=30) on fare and Binarizer() on sibsp (0 at the threshold, "
            "-0.0 and 0.0 give 0; a missing value refused, as scikit-learn raises), into "
            "LogisticRegression",
            P,
            "survived",
            lambda: _logistic(
                _with(
                    "sex",
                    ("fare", Binarizer(threshold=30.0), ["fare"]),
                    ("sibsp", Binarizer(), ["sibsp"]),
                )
            ),
            set_attribute("pre__sibsp", "threshold", 1.0),
        ),
        Case(
            "polynomial-degree-2",
            "PolynomialFeatures(degree=2) after SimpleImputer and StandardScaler, into "
            "LogisticRegression",
            PG,
            "species",
            lambda: _logistic(
                _with(
                    "island",
                    ("num", make_pipeline(_scaled(), PolynomialFeatures(2)), PENGUIN_NUMBERS),
                )
            ),
            shift("pre__num__pipeline__standardscaler", "mean_", 0.5),
        ),
        Case(
            "polynomial-interaction-only",
            "PolynomialFeatures(degree=3, interaction_only=True, include_bias=False) after "
            "SimpleImputer, into Ridge",
            P,
            "spend",
            lambda: _ridge(
                _with(
                    "sex",
                    (
                        "num",
                        make_pipeline(
                            SimpleImputer(),
                            PolynomialFeatures(3, interaction_only=True, include_bias=False),
                        ),
                        ["age", "fare", "sibsp", "pclass"],
                    ),
                )
            ),
            shift("pre__num__simpleimputer", "statistics_", 10.0),
        ),
        Case(
            "polynomial-degree-range",
            "PolynomialFeatures(degree=(2, 3)) on raw columns (degrees 2 and 3 only, the bias "
            "kept; a missing value refused), into Ridge",
            P,
            "spend",
            lambda: _ridge(_with("sex", ("poly", PolynomialFeatures((2, 3)), ["fare", "sibsp"]))),
            model_coef(0.5),
        ),
    ]
