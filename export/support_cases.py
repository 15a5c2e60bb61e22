"""The pipelines docs/support.md measures, one per row: a step and its parameters, on data of
every dtype pandas produces, inside the structures users write.

Each case builds an unfitted pipeline and names its target; `corrupt` changes one learned value
of the step the row is about, in place. tests/export/test_export_support_cases.py proves each
case exports through the gate and that the corrupted copy's graph is caught disagreeing with the
original pipeline; `python -m pipeport.export.support_matrix` measures each on 10,000 generated
rows for the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector, make_column_transformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.feature_selection import (
    SelectFromModel,
    SelectKBest,
    SelectPercentile,
    VarianceThreshold,
    f_classif,
)
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)
from sklearn.tree import DecisionTreeClassifier

REPO = Path(__file__).resolve().parents[1]
PENGUINS = REPO / "data" / "penguins.csv"

#: The columns of `people`, by what pandas makes of them.
NUMBERS = ["age", "fare"]  # float64 with NaN, float64
INTS = ["pclass", "sibsp"]  # int64
TEXT = ["sex", "embarked", "title"]  # str, object with NaN, str with rare labels
CATEGORY = ["deck", "grade"]  # category of text with NaN, category of integers
BOOLS = ["alone", "vip"]  # bool, object booleans with NaN


@cache
def people(n: int = 700, seed: int = 0) -> pd.DataFrame:
    """A Titanic-like table with every dtype pandas produces (deterministic)."""
    rng = np.random.default_rng(seed)

    def sometimes_missing(values: np.ndarray, rate: float) -> list[Any]:
        return [np.nan if rng.random() < rate else v for v in values.tolist()]

    titles = rng.choice(
        ["Mr", "Mrs", "Miss", "Master", "Dr", "Rev", "Col"],
        n,
        p=[0.5, 0.2, 0.18, 0.06, 0.03, 0.02, 0.01],
    )
    frame = pd.DataFrame(
        {
            "pclass": rng.integers(1, 4, n),
            "sex": pd.Series(rng.choice(["male", "female"], n), dtype="str"),
            "age": sometimes_missing(rng.uniform(0.5, 80, n).round(1), 0.2),
            "embarked": pd.Series(
                sometimes_missing(rng.choice(["S", "C", "Q"], n), 0.05), dtype=object
            ),
            "fare": rng.gamma(2.0, 20.0, n).round(2),
            "deck": pd.Series(sometimes_missing(rng.choice(list("ABCDEF"), n), 0.4)).astype(
                "category"
            ),
            "grade": pd.Series(rng.integers(1, 5, n)).astype("category"),
            "alone": rng.random(n) < 0.5,
            "vip": pd.Series(sometimes_missing(rng.random(n) < 0.1, 0.3), dtype=object),
            "sibsp": rng.integers(0, 6, n),
            "title": pd.Series(titles, dtype="str"),
            "name": pd.Series([f"passenger {i}" for i in range(n)], dtype="str"),
        }
    )
    score = (
        (frame["sex"] == "female") * 1.5
        - (frame["pclass"] - 2) * 0.8
        - frame["age"].fillna(30) / 40
        + rng.normal(0, 0.7, n)
    )
    frame["survived"] = (score > 0).astype(int)
    frame["town"] = np.where(
        frame["fare"] > 45, "Cherbourg", np.where(score > 0.3, "Queenstown", "Southampton")
    )
    frame["spend"] = frame["fare"] * 3 + frame["sibsp"] * 10 + rng.normal(0, 5, n)
    return frame


@cache
def penguins() -> pd.DataFrame:
    return pd.read_csv(PENGUINS)


@dataclass(frozen=True)
class Case:
    id: str
    what: str  # the docs row: the step, its parameters and the data it reads
    data: str  # "people" or "penguins"
    target: str
    build: Callable[[], Any]
    corrupt: Callable[[Any], None]
    columns: tuple[str, ...] | None = None  # the raw columns it takes (default: all features)

    def frame(self) -> pd.DataFrame:
        return people() if self.data == "people" else penguins()

    def features(self) -> pd.DataFrame:
        if self.columns is not None:
            return self.frame()[list(self.columns)]
        targets = {"survived", "town", "spend"} if self.data == "people" else {"species"}
        frame = self.frame()
        return frame.drop(columns=[c for c in targets if c in frame.columns])

    def fit(self) -> Any:
        frame = self.frame()
        rows = frame if self.data == "people" else frame.dropna(subset=[self.target])
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.build().fit(self.features().loc[rows.index], rows[self.target])


# -- corruptions: one learned value of the step the row is about ----------------------------------


def _step(pipeline: Any, path: str) -> Any:
    step = pipeline
    for name in path.split("__"):
        if isinstance(step, Pipeline):
            step = step.named_steps[name]
        elif isinstance(step, ColumnTransformer):
            step = step.named_transformers_[name]
        elif isinstance(step, FeatureUnion):
            step = dict(step.transformer_list)[name]
        else:
            raise KeyError(path)
    return step


def swap_categories(path: str, feature: int = 0) -> Callable[[Any], None]:
    def corrupt(pipeline: Any) -> None:
        categories = _step(pipeline, path).categories_[feature]
        categories[[0, 1]] = categories[[1, 0]]

    return corrupt


def shift(path: str, attribute: str, delta: float, index: Any = 0) -> Callable[[Any], None]:
    def corrupt(pipeline: Any) -> None:
        values = getattr(_step(pipeline, path), attribute)
        values[index] = values[index] + delta

    return corrupt


def replace_statistic(path: str, index: int, value: Any) -> Callable[[Any], None]:
    def corrupt(pipeline: Any) -> None:
        _step(pipeline, path).statistics_[index] = value

    return corrupt


def other_support(path: str) -> Callable[[Any], None]:
    """Select other columns: the scores of the best and the worst swap."""

    def corrupt(pipeline: Any) -> None:
        step = _step(pipeline, path)
        scores = step.scores_
        best, worst = int(np.nanargmax(scores)), int(np.nanargmin(scores))
        scores[[best, worst]] = scores[[worst, best]]

    return corrupt


def model_coef(delta: float = 0.5) -> Callable[[Any], None]:
    def corrupt(pipeline: Any) -> None:
        model = pipeline[-1]
        model.coef_.flat[0] += delta

    return corrupt


# -- the cases ------------------------------------------------------------------------------------


def _numbers() -> Pipeline:
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler())


def _logistic(pre: Any) -> Pipeline:
    return Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=2000))])


#: Modules that add cases of their own (a converter family each), through their `cases()`.
CASE_MODULES: list[str] = [
    "pipeport.export.support_cases_functions",
    "pipeport.export.support_cases_numeric",
    "pipeport.export.support_cases_features",
    "pipeport.export.support_cases_ensembles",
    "pipeport.export.support_cases_feature_engine",
    "pipeport.export.support_cases_boosting",
    "pipeport.export.support_cases_models",
]
#: The heading docs/support.md gives each module's cases.
SECTIONS = {
    "pipeport.export.support_cases": "Structures, encoders, imputers, scalers, selection",
    "pipeport.export.support_cases_functions": "Numpy functions and target transforms",
    "pipeport.export.support_cases_numeric": "Quantiles, power transforms, bins, splines",
    "pipeport.export.support_cases_features": (
        "KNN and iterative imputation, decomposition, normalisation, polynomials"
    ),
    "pipeport.export.support_cases_ensembles": (
        "Ensembles, calibration, native categorical boosting"
    ),
    "pipeport.export.support_cases_feature_engine": "feature-engine",
    "pipeport.export.support_cases_boosting": "LightGBM and XGBoost",
    "pipeport.export.support_cases_models": (
        "More scikit-learn models: SVMs, SGD, naive Bayes, GLMs, kernel ridge, IsolationForest"
    ),
}


def sections() -> list[tuple[str, list[Case]]]:
    """The cases by docs/support.md section: the core ones, then each module's."""
    import importlib

    out = [(SECTIONS[__name__], core_cases())]
    for name in CASE_MODULES:
        out.append((SECTIONS.get(name, name), list(importlib.import_module(name).cases())))
    return out


def cases() -> list[Case]:
    """Every support case: the core ones here, then each module's of CASE_MODULES."""
    import importlib

    out = core_cases()
    for name in CASE_MODULES:
        out.extend(importlib.import_module(name).cases())
    ids = [c.id for c in out]
    if len(set(ids)) != len(ids):
        raise ValueError(
            f"two support cases share an id: {sorted(i for i in ids if ids.count(i) > 1)}"
        )
    return out


def core_cases() -> list[Case]:
    P, PG = "people", "penguins"
    one_hot = "pre__cat"
    penguin_numbers = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    return [
        # -- structure --------------------------------------------------------------------------
        Case(
            "make-pipeline-no-column-transformer",
            "make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()) on an "
            "all-numeric frame (no ColumnTransformer)",
            PG,
            "species",
            lambda: Pipeline(
                [
                    ("pre", make_pipeline(SimpleImputer(), StandardScaler())),
                    ("model", LogisticRegression(max_iter=2000)),
                ]
            ),
            shift("pre__standardscaler", "mean_", 1.0),
            columns=("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"),
        ),
        Case(
            "columns-by-position-and-mask",
            "ColumnTransformer: columns by position and by boolean mask, remainder='drop'",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), [2, 4]),
                        (
                            "cat",
                            OneHotEncoder(handle_unknown="ignore"),
                            [c == "sex" for c in people().columns[:12]],
                        ),
                    ]
                )
            ),
            swap_categories(one_hot),
        ),
        Case(
            "columns-by-selector",
            "make_column_selector(dtype_include=..., pattern=...), remainder='passthrough'",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), make_column_selector(dtype_include="float")),
                        (
                            "cat",
                            OneHotEncoder(handle_unknown="ignore"),
                            make_column_selector(pattern="^(sex|title)$"),
                        ),
                        ("drop", "drop", ["name", "embarked", "deck", "grade", "vip"]),
                    ],
                    remainder="passthrough",
                )
            ),
            swap_categories(one_hot),
        ),
        Case(
            "remainder-estimator-and-explicit-passthrough",
            "remainder=<a Pipeline>, an explicit 'passthrough' entry, make_column_transformer "
            "names",
            P,
            "spend",
            lambda: Pipeline(
                [
                    (
                        "pre",
                        make_column_transformer(
                            ("passthrough", ["sibsp", "alone"]),
                            (OneHotEncoder(handle_unknown="ignore"), ["embarked", "pclass"]),
                            ("drop", ["name", "title", "deck", "grade", "vip", "sex"]),
                            remainder=make_pipeline(SimpleImputer(), RobustScaler()),
                        ),
                    ),
                    ("model", Ridge()),
                ]
            ),
            shift("pre__remainder__robustscaler", "center_", 5.0),
        ),
        Case(
            "feature-union-and-weights",
            "FeatureUnion (StandardScaler, MinMaxScaler(clip=True), MissingIndicator) and "
            "transformer_weights",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        (
                            "num",
                            make_pipeline(
                                SimpleImputer(),
                                FeatureUnion(
                                    [
                                        ("std", StandardScaler()),
                                        ("minmax", MinMaxScaler(clip=True)),
                                    ],
                                    transformer_weights={"minmax": 2.0},
                                ),
                            ),
                            NUMBERS,
                        ),
                        ("missing", MissingIndicator(features="all"), ["age"]),
                    ]
                )
            ),
            model_coef(),
        ),
        Case(
            "set-output-pandas-nested",
            "set_output(transform='pandas'), nested Pipelines",
            P,
            "town",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", make_pipeline(_numbers()), NUMBERS),
                        (
                            "cat",
                            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                            ["sex", "embarked"],
                        ),
                    ]
                )
            ).set_output(transform="pandas"),
            shift("pre__num__pipeline__standardscaler", "mean_", 1.0),
        ),
        # -- OneHotEncoder ----------------------------------------------------------------------
        Case(
            "onehot-ignore-every-dtype",
            "OneHotEncoder(handle_unknown='ignore') on str, object with NaN, category (text and "
            "integers), bool, object booleans with NaN and int64 columns; NaN learned as a "
            "category",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), NUMBERS),
                        (
                            "cat",
                            OneHotEncoder(handle_unknown="ignore"),
                            TEXT + CATEGORY + BOOLS + INTS,
                        ),
                    ]
                )
            ),
            swap_categories(one_hot, 1),
        ),
        Case(
            "onehot-error",
            "OneHotEncoder(handle_unknown='error'): unseen values and missing values refused in "
            "every runtime",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), NUMBERS),
                        ("cat", OneHotEncoder(), ["pclass", "sex", "alone"]),
                    ]
                )
            ),
            swap_categories(one_hot, 1),
        ),
        Case(
            "onehot-infrequent",
            "OneHotEncoder(handle_unknown='infrequent_if_exist', min_frequency=20, drop='first')",
            P,
            "town",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), NUMBERS),
                        (
                            "cat",
                            OneHotEncoder(
                                handle_unknown="infrequent_if_exist", min_frequency=20, drop="first"
                            ),
                            ["title", "deck", "sibsp"],
                        ),
                    ]
                )
            ),
            swap_categories(one_hot, 1),
        ),
        Case(
            "onehot-max-categories-if-binary",
            "OneHotEncoder(max_categories=4, drop='if_binary', handle_unknown='ignore')",
            P,
            "survived",
            lambda: Pipeline(
                [
                    (
                        "pre",
                        ColumnTransformer(
                            [
                                ("num", SimpleImputer(), NUMBERS),
                                (
                                    "cat",
                                    OneHotEncoder(
                                        max_categories=4, drop="if_binary", handle_unknown="ignore"
                                    ),
                                    ["title", "sex", "vip", "embarked"],
                                ),
                            ]
                        ),
                    ),
                    ("model", RandomForestClassifier(n_estimators=30, random_state=0)),
                ]
            ),
            swap_categories(one_hot, 1),
        ),
        Case(
            "onehot-drop-array",
            "OneHotEncoder(drop=[...]) (a category per column), explicit categories",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), NUMBERS),
                        (
                            "cat",
                            OneHotEncoder(
                                categories=[["S", "C", "Q"], ["female", "male"]],
                                drop=["Q", "male"],
                                handle_unknown="ignore",
                            ),
                            ["embarked", "sex"],
                        ),
                    ]
                )
            ),
            swap_categories(one_hot),
        ),
        # -- OrdinalEncoder ---------------------------------------------------------------------
        Case(
            "ordinal-explicit-order-unknown-value",
            "OrdinalEncoder(categories=[explicit order], handle_unknown='use_encoded_value', "
            "unknown_value=-1, encoded_missing_value=-2)",
            P,
            "survived",
            lambda: Pipeline(
                [
                    (
                        "pre",
                        ColumnTransformer(
                            [
                                (
                                    "cat",
                                    OrdinalEncoder(
                                        categories=[
                                            ["S", "Q", "C"],
                                            ["Mr", "Master", "Miss", "Mrs"],
                                        ],
                                        handle_unknown="use_encoded_value",
                                        unknown_value=-1,
                                        encoded_missing_value=-2,
                                    ),
                                    ["embarked", "title"],
                                ),
                                ("num", "passthrough", NUMBERS),
                            ]
                        ),
                    ),
                    ("model", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
                ]
            ),
            swap_categories(one_hot, 1),
        ),
        Case(
            "ordinal-nan-unknown-infrequent",
            "OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=NaN, "
            "min_frequency=15) on text, category and booleans",
            P,
            "spend",
            lambda: Pipeline(
                [
                    (
                        "pre",
                        ColumnTransformer(
                            [
                                (
                                    "cat",
                                    OrdinalEncoder(
                                        handle_unknown="use_encoded_value",
                                        unknown_value=np.nan,
                                        min_frequency=15,
                                    ),
                                    ["title", "deck", "vip", "grade"],
                                ),
                                ("num", "passthrough", ["fare", "sibsp"]),
                            ]
                        ),
                    ),
                    ("model", HistGradientBoostingRegressor(max_iter=30, random_state=0)),
                ]
            ),
            swap_categories(one_hot),
        ),
        # -- TargetEncoder ----------------------------------------------------------------------
        Case(
            "target-binary",
            "TargetEncoder, binary target",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), NUMBERS),
                        ("cat", TargetEncoder(random_state=0), ["title", "deck", "pclass"]),
                    ]
                )
            ),
            _shift_encoding(one_hot),
        ),
        Case(
            "target-multiclass",
            "TargetEncoder, multiclass target (one column per class)",
            P,
            "town",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), NUMBERS),
                        ("cat", TargetEncoder(random_state=0), ["title", "embarked", "vip"]),
                    ]
                )
            ),
            _shift_encoding(one_hot),
        ),
        Case(
            "target-continuous",
            "TargetEncoder, continuous target",
            P,
            "spend",
            lambda: Pipeline(
                [
                    (
                        "pre",
                        ColumnTransformer(
                            [
                                ("num", SimpleImputer(), NUMBERS),
                                ("cat", TargetEncoder(random_state=0), ["title", "sex", "deck"]),
                            ]
                        ),
                    ),
                    ("model", Ridge()),
                ]
            ),
            _shift_encoding(one_hot),
        ),
        # -- imputers ---------------------------------------------------------------------------
        Case(
            "impute-text-most-frequent",
            "SimpleImputer(strategy='most_frequent') on text, then OneHotEncoder",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), NUMBERS),
                        (
                            "cat",
                            make_pipeline(
                                SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(handle_unknown="ignore"),
                            ),
                            ["embarked", "deck"],
                        ),
                    ]
                )
            ),
            replace_statistic("pre__cat__simpleimputer", 0, "Q"),
        ),
        Case(
            "impute-text-constant",
            "SimpleImputer(strategy='constant', fill_value='missing') on text, then "
            "OneHotEncoder(handle_unknown='error')",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), NUMBERS),
                        (
                            "cat",
                            make_pipeline(
                                SimpleImputer(strategy="constant", fill_value="missing"),
                                OneHotEncoder(),
                            ),
                            ["embarked"],
                        ),
                    ]
                )
            ),
            replace_statistic("pre__cat__simpleimputer", 0, "S"),
        ),
        Case(
            "impute-ints-and-booleans",
            "SimpleImputer(strategy='most_frequent') on int and boolean columns",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        ("num", _numbers(), NUMBERS),
                        (
                            "flags",
                            make_pipeline(
                                SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(handle_unknown="ignore"),
                            ),
                            ["vip", "pclass"],
                        ),
                    ]
                )
            ),
            replace_statistic("pre__flags__simpleimputer", 1, 1),
        ),
        Case(
            "impute-numbers-every-strategy",
            "SimpleImputer mean, median, most_frequent, constant on numbers, add_indicator=True",
            P,
            "spend",
            lambda: Pipeline(
                [
                    (
                        "pre",
                        ColumnTransformer(
                            [
                                (
                                    "mean",
                                    SimpleImputer(strategy="mean", add_indicator=True),
                                    ["age"],
                                ),
                                ("median", SimpleImputer(strategy="median"), ["fare"]),
                                ("frequent", SimpleImputer(strategy="most_frequent"), ["sibsp"]),
                                (
                                    "constant",
                                    SimpleImputer(strategy="constant", fill_value=-1),
                                    ["pclass"],
                                ),
                            ]
                        ),
                    ),
                    ("model", Ridge()),
                ]
            ),
            replace_statistic("pre__mean", 0, 50.0),
        ),
        Case(
            "missing-indicator",
            "MissingIndicator(features='missing-only') beside an imputer",
            P,
            "survived",
            lambda: _logistic(
                FeatureUnion(
                    [
                        ("values", ColumnTransformer([("num", SimpleImputer(), ["age", "fare"])])),
                        (
                            "flags",
                            ColumnTransformer(
                                [("ind", MissingIndicator(error_on_new=False), ["age", "fare"])]
                            ),
                        ),
                    ]
                )
            ),
            _other_indicator("pre__flags__ind"),
        ),
        Case(
            "no-imputer-missing-refused",
            "a pipeline without an imputer (StandardScaler -> LogisticRegression): missing values "
            "refused in every runtime, as scikit-learn raises",
            P,
            "survived",
            lambda: _logistic(
                ColumnTransformer([("num", StandardScaler(), ["fare", "sibsp", "pclass"])])
            ),
            shift("pre__num", "mean_", 1.0),
        ),
        # -- scalers and selection ----------------------------------------------------------------
        Case(
            "scalers",
            "StandardScaler(with_mean=False), MinMaxScaler, MaxAbsScaler, RobustScaler",
            PG,
            "species",
            lambda: _logistic(
                ColumnTransformer(
                    [
                        (
                            "std",
                            make_pipeline(SimpleImputer(), StandardScaler(with_mean=False)),
                            ["bill_length_mm"],
                        ),
                        (
                            "minmax",
                            make_pipeline(SimpleImputer(), MinMaxScaler()),
                            ["bill_depth_mm"],
                        ),
                        (
                            "maxabs",
                            make_pipeline(SimpleImputer(), MaxAbsScaler()),
                            ["flipper_length_mm"],
                        ),
                        (
                            "robust",
                            make_pipeline(SimpleImputer(), RobustScaler(quantile_range=(10, 90))),
                            ["body_mass_g"],
                        ),
                        ("island", OneHotEncoder(handle_unknown="ignore"), ["island"]),
                    ]
                )
            ),
            shift("pre__robust__robustscaler", "scale_", 100.0),
        ),
        Case(
            "selectors",
            "SelectKBest, SelectPercentile, VarianceThreshold, SelectFromModel (any get_support())",
            PG,
            "species",
            lambda: Pipeline(
                [
                    (
                        "pre",
                        ColumnTransformer(
                            [
                                ("num", _numbers(), penguin_numbers),
                                (
                                    "cat",
                                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                    ["island", "sex"],
                                ),
                            ]
                        ),
                    ),
                    ("variance", VarianceThreshold(0.01)),
                    ("percentile", SelectPercentile(f_classif, percentile=90)),
                    ("kbest", SelectKBest(f_classif, k=5)),
                    (
                        "from_model",
                        SelectFromModel(
                            RandomForestClassifier(n_estimators=10, random_state=0),
                            threshold=-np.inf,
                            max_features=4,
                        ),
                    ),
                    ("model", DecisionTreeClassifier(random_state=0)),
                ]
            ),
            other_support("kbest"),
        ),
    ]


def _shift_encoding(path: str) -> Callable[[Any], None]:
    def corrupt(pipeline: Any) -> None:
        encodings = _step(pipeline, path).encodings_
        encodings[0][0] = encodings[0][0] + 0.1

    return corrupt


def _other_indicator(path: str) -> Callable[[Any], None]:
    """Flag the other column as missing (age and fare have missing values only in age)."""

    def corrupt(pipeline: Any) -> None:
        indicator = _step(pipeline, path)
        indicator.features_ = np.asarray([1 - int(indicator.features_[0])])

    return corrupt
