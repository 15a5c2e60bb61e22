"""Support cases for feature-engine's transformers: feature-engine Pipelines on the people and
penguins tables, one per transformer and important parameter, and the house-price course's
pipeline (categorical imputation, missing indicators, mean imputation, a temporal difference, a
log, a binarizer, a label mapping, rare-label grouping, ordinal encoding by the target, min-max
scaling, Lasso). Each `corrupt` changes one learned value of the step the row is about (an
`imputer_dict_` entry, an `encoder_dict_` value, a bin edge, a lambda, a cap) or, for a step that
learns nothing, the parameter it applies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from feature_engine.creation import CyclicalFeatures, MathFeatures, RelativeFeatures
from feature_engine.discretisation import (
    ArbitraryDiscretiser,
    EqualFrequencyDiscretiser,
    EqualWidthDiscretiser,
)
from feature_engine.encoding import (
    CountFrequencyEncoder,
    MeanEncoder,
    OneHotEncoder,
    OrdinalEncoder,
    RareLabelEncoder,
    WoEEncoder,
)
from feature_engine.imputation import (
    AddMissingIndicator,
    ArbitraryNumberImputer,
    CategoricalImputer,
    EndTailImputer,
    MeanMedianImputer,
)
from feature_engine.outliers import ArbitraryOutlierCapper, Winsorizer
from feature_engine.pipeline import Pipeline
from feature_engine.selection import (
    DropConstantFeatures,
    DropCorrelatedFeatures,
    DropDuplicateFeatures,
    DropFeatures,
    SelectBySingleFeaturePerformance,
    SmartCorrelatedSelection,
)
from feature_engine.transformation import (
    BoxCoxTransformer,
    LogCpTransformer,
    LogTransformer,
    PowerTransformer,
    ReciprocalTransformer,
    YeoJohnsonTransformer,
)
from feature_engine.wrappers import SklearnTransformerWrapper
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, f_regression
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.preprocessing import Binarizer, MinMaxScaler, StandardScaler
from sklearn.preprocessing import OneHotEncoder as SklearnOneHotEncoder
from sklearn.preprocessing import OrdinalEncoder as SklearnOrdinalEncoder

from pipeport.export.support_cases import Case

Corrupt = Callable[[Any], None]
P, PG = "people", "penguins"
#: people's columns by kind, and the penguins' measurements
NUMBERS = ("age", "fare", "sibsp", "pclass")
PENGUIN_NUMBERS = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")


def _step(pipeline: Any, name: str) -> Any:
    step = pipeline.named_steps[name]
    return step.transformer_ if isinstance(step, SklearnTransformerWrapper) else step


def _change(name: str, change: Callable[[Any], None]) -> Corrupt:
    def corrupt(pipeline: Any) -> None:
        change(_step(pipeline, name))

    return corrupt


def _add(name: str, attribute: str, key: Any, delta: float) -> Corrupt:
    """step.<attribute>[key] += delta (a dict of learned numbers, or a list of edges)."""

    def change(step: Any) -> None:
        values = getattr(step, attribute)
        values[key] = values[key] + delta

    return _change(name, change)


def _add_edge(name: str, variable: str, index: int, delta: float) -> Corrupt:
    """One inner bin edge of a variable moves by delta."""

    def change(step: Any) -> None:
        step.binner_dict_[variable][index] += delta

    return _change(name, change)


def _swap_codes(name: str, variable: str) -> Corrupt:
    """Two learned values of a variable's encoding change places."""

    def change(step: Any) -> None:
        mapping = step.encoder_dict_[variable]
        a, b = list(mapping)[:2]
        mapping[a], mapping[b] = mapping[b], mapping[a]

    return _change(name, change)


def _other_drops(step: Any) -> None:
    """A selector drops another column in place of its first (the same number of columns)."""
    dropped = list(step.features_to_drop_)
    kept = [f for f in step.feature_names_in_ if f not in dropped]
    step.features_to_drop_ = [kept[0], *dropped[1:]]


def _renaming(name: str, change: Callable[[Any], None]) -> Corrupt:
    """`change` the step, which renames some of its output columns; the steps after it (and the
    model) then read those columns under the new names, as if fitted that way."""

    def corrupt(pipeline: Any) -> None:
        step = pipeline.named_steps[name]
        old = [str(n) for n in step.get_feature_names_out()]
        change(step)
        new = [str(n) for n in step.get_feature_names_out()]
        renamed = dict(zip(old, new, strict=True))
        after = [s for n, s in pipeline.steps][[n for n, _s in pipeline.steps].index(name) + 1 :]
        for later in after:
            names = getattr(later, "feature_names_in_", None)
            if names is not None:
                new_names = [renamed.get(str(n), str(n)) for n in names]
                later.feature_names_in_ = (
                    np.asarray(new_names, dtype=object)
                    if isinstance(names, np.ndarray)
                    else new_names
                )

    return corrupt


def _set(name: str, attribute: str, value: Any) -> Corrupt:
    return _change(name, lambda step: setattr(step, attribute, value))


def _logistic() -> LogisticRegression:
    return LogisticRegression(max_iter=3000)


def _age() -> MeanMedianImputer:
    return MeanMedianImputer(imputation_method="median", variables=["age"])


def cases() -> list[Case]:
    return (
        _imputation()
        + _transformation()
        + _discretisation()
        + _outliers()
        + (_encoding() + _creation() + _selection() + _wrappers() + [_house_prices()])
    )


def _imputation() -> list[Case]:
    return [
        Case(
            "fe-mean-median-imputer",
            "feature-engine MeanMedianImputer('mean')",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("impute", MeanMedianImputer(imputation_method="mean", variables=["age"])),
                    ("model", _logistic()),
                ]
            ),
            _add("impute", "imputer_dict_", "age", 15.0),
            columns=NUMBERS,
        ),
        Case(
            "fe-arbitrary-number-imputer",
            "feature-engine ArbitraryNumberImputer (imputer_dict per column)",
            PG,
            "species",
            lambda: Pipeline(
                [
                    (
                        "impute",
                        ArbitraryNumberImputer(
                            imputer_dict={"bill_length_mm": -1, "bill_depth_mm": 99.5}
                        ),
                    ),
                    ("rest", MeanMedianImputer(variables=["flipper_length_mm", "body_mass_g"])),
                    ("model", _logistic()),
                ]
            ),
            _add("impute", "imputer_dict_", "bill_length_mm", 30.0),
            columns=PENGUIN_NUMBERS,
        ),
        Case(
            "fe-end-tail-imputer",
            "feature-engine EndTailImputer('gaussian', tail='right', fold=2) on every numeric "
            "column",
            P,
            "survived",
            lambda: Pipeline(
                [
                    (
                        "impute",
                        EndTailImputer(imputation_method="gaussian", tail="right", fold=2),
                    ),
                    ("model", _logistic()),
                ]
            ),
            _add("impute", "imputer_dict_", "age", -40.0),
            columns=NUMBERS,
        ),
        Case(
            "fe-categorical-imputer-missing",
            "feature-engine CategoricalImputer('missing') on text and a category column, then "
            "OrdinalEncoder('arbitrary'); unseen values refused (NaN then refused by the model)",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("impute", CategoricalImputer(variables=["embarked", "deck"])),
                    ("age", _age()),
                    (
                        "encode",
                        OrdinalEncoder(
                            encoding_method="arbitrary", variables=["embarked", "deck", "sex"]
                        ),
                    ),
                    ("model", _logistic()),
                ]
            ),
            _change("impute", lambda s: s.imputer_dict_.update(embarked="S")),
            columns=("age", "fare", "pclass", "sex", "embarked", "deck"),
        ),
        Case(
            "fe-categorical-imputer-frequent-booleans",
            "feature-engine CategoricalImputer('frequent', ignore_format=True) on an object column "
            "of booleans (pandas re-infers it as bool), then OrdinalEncoder(ignore_format=True)",
            P,
            "survived",
            lambda: Pipeline(
                [
                    (
                        "impute",
                        CategoricalImputer(
                            imputation_method="frequent", variables=["vip"], ignore_format=True
                        ),
                    ),
                    ("age", _age()),
                    (
                        "encode",
                        OrdinalEncoder(variables=["vip", "alone"], ignore_format=True),
                    ),
                    ("model", _logistic()),
                ]
            ),
            _change("impute", lambda s: s.imputer_dict_.update(vip=True)),
            columns=("age", "fare", "pclass", "alone", "vip"),
        ),
        Case(
            "fe-add-missing-indicator",
            "feature-engine AddMissingIndicator(missing_only=True) over every column (<column>_na "
            "appended), then imputers",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("indicate", AddMissingIndicator()),
                    ("age", _age()),
                    ("impute", CategoricalImputer(variables=["embarked"])),
                    ("encode", CountFrequencyEncoder(variables=["embarked"])),
                    ("model", _logistic()),
                ]
            ),
            _renaming("indicate", lambda s: s.variables_.__setitem__(0, "fare")),
            columns=("age", "fare", "pclass", "embarked"),
        ),
    ]


def _transformation() -> list[Case]:
    return [
        Case(
            "fe-log-transformer",
            "feature-engine LogTransformer (base 'e' on fare, base '10' on the imputed age): "
            "a value <= 0 refused in every runtime",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("log", LogTransformer(variables=["fare"])),
                    ("log10", LogTransformer(base="10", variables=["age"])),
                    ("model", Ridge()),
                ]
            ),
            _set("log", "base", "10"),
            columns=NUMBERS,
        ),
        Case(
            "fe-log-cp-transformer",
            "feature-engine LogCpTransformer(C='auto') on columns holding 0: log(x + C), "
            "x + C <= 0 refused",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("log", LogCpTransformer(variables=["sibsp", "fare"])),
                    ("model", Ridge()),
                ]
            ),
            _add("log", "C_", "sibsp", 2.0),
            columns=NUMBERS,
        ),
        Case(
            "fe-reciprocal-transformer",
            "feature-engine ReciprocalTransformer (1 / x; feature-engine raises on 0: rows left "
            "out and reported)",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("reciprocal", ReciprocalTransformer(variables=["fare", "pclass"])),
                    ("model", Ridge()),
                ]
            ),
            _set("reciprocal", "variables_", ["fare"]),
            columns=NUMBERS,
        ),
        Case(
            "fe-power-transformer",
            "feature-engine PowerTransformer(exp=0.5): np.power; a negative value gives NaN, "
            "which the model refuses: refused in every runtime",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("power", PowerTransformer(exp=0.5, variables=["fare", "age"])),
                    ("model", Ridge()),
                ]
            ),
            _set("power", "exp", 0.6),
            columns=NUMBERS,
        ),
        Case(
            "fe-box-cox-transformer",
            "feature-engine BoxCoxTransformer on the penguins' measurements (lambda_dict_): a "
            "value <= 0 refused",
            PG,
            "species",
            lambda: Pipeline(
                [
                    ("impute", MeanMedianImputer()),
                    ("boxcox", BoxCoxTransformer()),
                    ("scale", SklearnTransformerWrapper(StandardScaler())),
                    ("model", _logistic()),
                ]
            ),
            _add("boxcox", "lambda_dict_", "body_mass_g", 0.3),
            columns=PENGUIN_NUMBERS,
        ),
        Case(
            "fe-yeo-johnson-transformer",
            "feature-engine YeoJohnsonTransformer (lambda_dict_) on columns of every sign",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("yeojohnson", YeoJohnsonTransformer(variables=["fare", "age", "sibsp"])),
                    ("model", Ridge()),
                ]
            ),
            _add("yeojohnson", "lambda_dict_", "fare", 0.2),
            columns=NUMBERS,
        ),
    ]


def _discretisation() -> list[Case]:
    return [
        Case(
            "fe-equal-width-discretiser",
            "feature-engine EqualWidthDiscretiser(bins=6) into a random forest",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("bins", EqualWidthDiscretiser(bins=6, variables=["age", "fare"])),
                    ("model", RandomForestClassifier(n_estimators=20, random_state=0)),
                ]
            ),
            _add_edge("bins", "age", 2, 9.0),
            columns=NUMBERS,
        ),
        Case(
            "fe-equal-frequency-discretiser-object",
            "feature-engine EqualFrequencyDiscretiser(q=5, return_object=True), then "
            "OrdinalEncoder('ordered') of the bins",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    (
                        "bins",
                        EqualFrequencyDiscretiser(
                            q=5, return_object=True, variables=["age", "fare"]
                        ),
                    ),
                    ("encode", OrdinalEncoder(variables=["age", "fare"])),
                    ("model", Ridge()),
                ]
            ),
            _add_edge("bins", "fare", 2, 6.0),
            columns=NUMBERS,
        ),
        Case(
            "fe-arbitrary-discretiser-boundaries",
            "feature-engine ArbitraryDiscretiser(return_boundaries=True, errors='raise'): the "
            "intervals as text, one-hot encoded; values outside the edges refused",
            P,
            "spend",
            lambda: Pipeline(
                [
                    (
                        "bins",
                        ArbitraryDiscretiser(
                            binning_dict={"fare": [0, 15, 30, 60, 120, 400]},
                            return_boundaries=True,
                            errors="raise",
                        ),
                    ),
                    ("encode", OneHotEncoder(variables=["fare"])),
                    ("model", Ridge()),
                ]
            ),
            _change("bins", lambda s: s.binner_dict_.update(fare=[0, 15, 40, 60, 120, 400])),
            columns=("fare", "sibsp", "pclass"),
        ),
    ]


def _outliers() -> list[Case]:
    return [
        Case(
            "fe-winsorizer-gaussian-both-indicators",
            "feature-engine Winsorizer(capping_method='gaussian', tail='both', "
            "add_indicators=True)",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    (
                        "cap",
                        Winsorizer(
                            capping_method="gaussian",
                            tail="both",
                            fold=1.5,
                            add_indicators=True,
                            variables=["fare", "age"],
                        ),
                    ),
                    ("model", Ridge()),
                ]
            ),
            _add("cap", "right_tail_caps_", "fare", -20.0),
            columns=NUMBERS,
        ),
        Case(
            "fe-winsorizer-iqr-mad-quantiles",
            "feature-engine Winsorizer: iqr (right), mad (left), quantiles (both, "
            "missing_values='ignore') on the penguins",
            PG,
            "species",
            lambda: Pipeline(
                [
                    (
                        "quantiles",
                        Winsorizer(
                            capping_method="quantiles",
                            tail="both",
                            fold=0.1,
                            missing_values="ignore",
                            variables=["flipper_length_mm"],
                        ),
                    ),
                    ("impute", MeanMedianImputer()),
                    (
                        "iqr",
                        Winsorizer(capping_method="iqr", fold=0.5, variables=["bill_length_mm"]),
                    ),
                    (
                        "mad",
                        Winsorizer(
                            capping_method="mad", tail="left", fold=1, variables=["bill_depth_mm"]
                        ),
                    ),
                    ("scale", SklearnTransformerWrapper(StandardScaler())),
                    ("model", _logistic()),
                ]
            ),
            _add("mad", "left_tail_caps_", "bill_depth_mm", 1.5),
            columns=PENGUIN_NUMBERS,
        ),
        Case(
            "fe-arbitrary-outlier-capper",
            "feature-engine ArbitraryOutlierCapper (max_capping_dict, min_capping_dict)",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    (
                        "cap",
                        ArbitraryOutlierCapper(
                            max_capping_dict={"fare": 90, "age": 70},
                            min_capping_dict={"age": 10},
                        ),
                    ),
                    ("model", Ridge()),
                ]
            ),
            _add("cap", "right_tail_caps_", "fare", -30.0),
            columns=NUMBERS,
        ),
    ]


def _encoding() -> list[Case]:
    text = ("age", "fare", "pclass", "sex", "title", "embarked")
    return [
        Case(
            "fe-one-hot-encoder",
            "feature-engine OneHotEncoder: top_categories=3 on title, drop_last_binary on sex; "
            "an unseen value is all zeros",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("top", OneHotEncoder(top_categories=3, variables=["title"])),
                    ("binary", OneHotEncoder(drop_last_binary=True, variables=["sex"])),
                    ("model", _logistic()),
                ]
            ),
            _renaming("top", lambda s: s.encoder_dict_["title"].__setitem__(0, "Dr")),
            columns=("age", "fare", "pclass", "sex", "title"),
        ),
        Case(
            "fe-one-hot-encoder-numbers",
            "feature-engine OneHotEncoder(ignore_format=True, drop_last=True) on int64 and bool "
            "columns",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    (
                        "encode",
                        OneHotEncoder(
                            drop_last=True, ignore_format=True, variables=["pclass", "alone"]
                        ),
                    ),
                    ("model", _logistic()),
                ]
            ),
            _renaming("encode", lambda s: s.encoder_dict_["pclass"].reverse()),
            columns=("age", "fare", "pclass", "alone"),
        ),
        Case(
            "fe-ordinal-encoder-ordered",
            "feature-engine OrdinalEncoder('ordered' by the target, unseen='raise'): unseen "
            "values refused in every runtime",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("impute", CategoricalImputer(variables=["embarked"])),
                    (
                        "encode",
                        OrdinalEncoder(variables=["sex", "title", "embarked"], unseen="raise"),
                    ),
                    ("model", _logistic()),
                ]
            ),
            _swap_codes("encode", "title"),
            columns=text,
        ),
        Case(
            "fe-ordinal-encoder-arbitrary-encode",
            "feature-engine OrdinalEncoder('arbitrary', unseen='encode', missing_values='ignore', "
            "ignore_format=True) on int64 and category columns",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    (
                        "encode",
                        OrdinalEncoder(
                            encoding_method="arbitrary",
                            unseen="encode",
                            missing_values="ignore",
                            ignore_format=True,
                            variables=["pclass", "grade", "deck"],
                        ),
                    ),
                    ("model", _logistic()),
                ]
            ),
            _swap_codes("encode", "deck"),
            columns=("age", "fare", "pclass", "grade", "deck"),
        ),
        Case(
            "fe-rare-label-encoder",
            "feature-engine RareLabelEncoder(tol=0.05, n_categories=4, replace_with='Other'), "
            "then OrdinalEncoder('ordered'): unseen values become 'Other'",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    (
                        "rare",
                        RareLabelEncoder(
                            tol=0.05, n_categories=4, replace_with="Other", variables=["title"]
                        ),
                    ),
                    ("encode", OrdinalEncoder(variables=["title", "sex"])),
                    ("model", _logistic()),
                ]
            ),
            _change("rare", lambda s: s.encoder_dict_["title"].remove("Master")),
            columns=("age", "fare", "pclass", "sex", "title"),
        ),
        Case(
            "fe-count-frequency-encoder",
            "feature-engine CountFrequencyEncoder ('count' on title, 'frequency' with "
            "unseen='encode' on embarked after CategoricalImputer('frequent'))",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("impute", CategoricalImputer(imputation_method="frequent")),
                    ("count", CountFrequencyEncoder(variables=["title", "sex"])),
                    (
                        "frequency",
                        CountFrequencyEncoder(
                            encoding_method="frequency", unseen="encode", variables=["embarked"]
                        ),
                    ),
                    ("model", _logistic()),
                ]
            ),
            _add_code("count", "title", 25),
            columns=text,
        ),
        Case(
            "fe-mean-encoder",
            "feature-engine MeanEncoder(smoothing='auto') with missing_values='ignore', then "
            "ArbitraryNumberImputer on the encoded NaN",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    (
                        "encode",
                        MeanEncoder(
                            smoothing="auto",
                            missing_values="ignore",
                            variables=["title", "sex", "embarked"],
                        ),
                    ),
                    ("fill", ArbitraryNumberImputer(arbitrary_number=0.5, variables=["embarked"])),
                    ("model", _logistic()),
                ]
            ),
            _add_code("encode", "title", 0.2),
            columns=text,
        ),
        Case(
            "fe-woe-encoder",
            "feature-engine WoEEncoder (binary target)",
            P,
            "survived",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("encode", WoEEncoder(variables=["title", "sex"])),
                    ("model", _logistic()),
                ]
            ),
            _add_code("encode", "title", 0.5),
            columns=("age", "fare", "pclass", "sex", "title"),
        ),
    ]


def _add_code(name: str, variable: str, delta: float) -> Corrupt:
    """The first learned value of a variable's encoding moves by delta."""

    def change(step: Any) -> None:
        mapping = step.encoder_dict_[variable]
        first = next(iter(mapping))
        mapping[first] = mapping[first] + delta

    return _change(name, change)


def _creation() -> list[Case]:
    return [
        Case(
            "fe-math-features",
            "feature-engine MathFeatures(func=[sum, mean, prod, max, min, std, var, median], "
            "new_variables_names)",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    (
                        "math",
                        MathFeatures(
                            variables=["age", "fare", "sibsp"],
                            func=["sum", "mean", "prod", "max", "min", "std", "var", "median"],
                        ),
                    ),
                    ("model", Ridge()),
                ]
            ),
            _set("math", "variables", ["age", "fare", "pclass"]),
            columns=NUMBERS,
        ),
        Case(
            "fe-math-features-missing-ignore",
            "feature-engine MathFeatures(missing_values='ignore', drop_original=True): pandas "
            "skips missing values (mean, std, median, max over columns with NaN), then imputation",
            P,
            "spend",
            lambda: Pipeline(
                [
                    (
                        "math",
                        MathFeatures(
                            variables=["age", "fare", "sibsp"],
                            func=["mean", "std", "median", "max"],
                            new_variables_names=["m", "s", "med", "top"],
                            missing_values="ignore",
                            drop_original=True,
                        ),
                    ),
                    ("fill", MeanMedianImputer(variables=["m", "s", "med", "top"])),
                    ("model", Ridge()),
                ]
            ),
            _set("math", "func", ["mean", "std", "median", "min"]),
            columns=NUMBERS,
        ),
        Case(
            "fe-relative-features",
            "feature-engine RelativeFeatures(func=[sub, add, mul, div, truediv, floordiv, mod], "
            "fill_value=0) against two references",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    (
                        "relative",
                        RelativeFeatures(
                            variables=["fare", "age"],
                            reference=["sibsp", "pclass"],
                            func=["sub", "add", "mul", "div", "truediv", "floordiv", "mod"],
                            fill_value=0,
                        ),
                    ),
                    ("model", Ridge()),
                ]
            ),
            _set("relative", "fill_value", 7),
            columns=NUMBERS,
        ),
        Case(
            "fe-cyclical-features",
            "feature-engine CyclicalFeatures (learned max_values_, drop_original=True)",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("cycle", CyclicalFeatures(variables=["sibsp", "pclass"], drop_original=True)),
                    ("model", Ridge()),
                ]
            ),
            _add("cycle", "max_values_", "sibsp", 2.0),
            columns=NUMBERS,
        ),
    ]


def _selection() -> list[Case]:
    return [
        Case(
            "fe-drop-duplicate-correlated-constant",
            "feature-engine DropDuplicateFeatures (identical missing indicators), "
            "DropCorrelatedFeatures(threshold=0.8), DropConstantFeatures(tol=0.99), DropFeatures",
            PG,
            "species",
            lambda: Pipeline(
                [
                    ("indicate", AddMissingIndicator()),
                    ("impute", MeanMedianImputer()),
                    ("duplicate", DropDuplicateFeatures()),
                    ("correlated", DropCorrelatedFeatures(threshold=0.8)),
                    ("constant", DropConstantFeatures(tol=0.99)),
                    ("drop", DropFeatures(features_to_drop=["bill_depth_mm"])),
                    ("model", _logistic()),
                ]
            ),
            _renaming("drop", _other_drops),
            columns=PENGUIN_NUMBERS,
        ),
        Case(
            "fe-smart-correlated-single-feature",
            "feature-engine SmartCorrelatedSelection(selection_method='variance') and "
            "SelectBySingleFeaturePerformance(scoring='accuracy', threshold=0.75)",
            PG,
            "species",
            lambda: Pipeline(
                [
                    ("impute", MeanMedianImputer()),
                    (
                        "smart",
                        SmartCorrelatedSelection(threshold=0.8, selection_method="variance"),
                    ),
                    (
                        "single",
                        SelectBySingleFeaturePerformance(
                            estimator=LogisticRegression(max_iter=2000),
                            scoring="accuracy",
                            cv=2,
                            threshold=0.75,
                        ),
                    ),
                    ("model", _logistic()),
                ]
            ),
            _renaming("single", _other_drops),
            columns=PENGUIN_NUMBERS,
        ),
    ]


def _wrappers() -> list[Case]:
    return [
        Case(
            "fe-sklearn-transformer-wrapper",
            "feature-engine SklearnTransformerWrapper around StandardScaler, Binarizer, "
            "OneHotEncoder (appended) and SelectKBest (drops)",
            P,
            "spend",
            lambda: Pipeline(
                [
                    ("age", _age()),
                    ("scale", SklearnTransformerWrapper(StandardScaler(), variables=["fare"])),
                    ("binarize", SklearnTransformerWrapper(Binarizer(), variables=["sibsp"])),
                    (
                        "onehot",
                        SklearnTransformerWrapper(
                            SklearnOneHotEncoder(sparse_output=False, handle_unknown="ignore"),
                            variables=["sex", "title"],
                        ),
                    ),
                    (
                        "select",
                        SklearnTransformerWrapper(
                            SelectKBest(f_regression, k=2), variables=["age", "fare", "pclass"]
                        ),
                    ),
                    ("model", Ridge()),
                ]
            ),
            _add_array("scale", "mean_", 0, 5.0),
            columns=("age", "fare", "sibsp", "pclass", "sex", "title"),
        ),
    ]


def _add_array(name: str, attribute: str, index: int, delta: float) -> Corrupt:
    def change(step: Any) -> None:
        getattr(step, attribute)[index] += delta

    return _change(name, change)


QUALITY = ["Missing", "Q", "C", "S"]  # a label mapping, as the course's Po < Fa < TA < Gd < Ex


def _house_prices() -> Case:
    return Case(
        "fe-house-prices-course",
        "the house-price course's pipeline on people: CategoricalImputer('missing'), "
        "AddMissingIndicator, MeanMedianImputer('mean'), a temporal difference (RelativeFeatures "
        "sub, then DropFeatures of the reference), LogTransformer, a Binarizer and a label "
        "mapping (SklearnTransformerWrapper), RareLabelEncoder, OrdinalEncoder('ordered'), "
        "MinMaxScaler, Lasso",
        P,
        "spend",
        lambda: Pipeline(
            [
                ("missing_imputation", CategoricalImputer(variables=["embarked", "deck"])),
                ("missing_indicator", AddMissingIndicator(variables=["age"])),
                ("mean_imputation", MeanMedianImputer(imputation_method="mean", variables=["age"])),
                (
                    "elapsed_time",
                    RelativeFeatures(variables=["age"], reference=["sibsp"], func=["sub"]),
                ),
                ("drop_features", DropFeatures(features_to_drop=["age"])),
                ("log", LogTransformer(variables=["fare"])),
                (
                    "binarizer",
                    SklearnTransformerWrapper(Binarizer(threshold=1), variables=["sibsp"]),
                ),
                (
                    "mapper_qual",
                    SklearnTransformerWrapper(
                        SklearnOrdinalEncoder(
                            categories=[QUALITY],
                            handle_unknown="use_encoded_value",
                            unknown_value=-1,
                        ),
                        variables=["embarked"],
                    ),
                ),
                (
                    "rare_label_encoder",
                    RareLabelEncoder(tol=0.05, n_categories=1, variables=["title", "deck"]),
                ),
                (
                    "categorical_encoder",
                    OrdinalEncoder(encoding_method="ordered", variables=["title", "deck", "sex"]),
                ),
                ("scaler", SklearnTransformerWrapper(MinMaxScaler())),
                ("Lasso", Lasso(alpha=0.001, random_state=0, max_iter=20_000)),
            ]
        ),
        _add("mean_imputation", "imputer_dict_", "age", 20.0),
        columns=("age", "fare", "sibsp", "pclass", "sex", "title", "embarked", "deck"),
    )
