"""Training configs with feature-engineering steps ([[steps]]): validation errors name the step
and the valid choices; each step the config builds, once fitted, transforms exactly as the
feature-engine (or scikit-learn) transformer built by hand with the same parameters; and a
many-step config trains end to end, with clear errors when a step cannot run."""

from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeport.export.support_cases import people
from pipeport.research.config import load_config
from pipeport.research.errors import ConfigError, DataError
from pipeport.research.feature_steps import STEPS
from pipeport.research.pipeline import build_pipeline
from pipeport.research.train import train

HEADER = """
name = "steps-test"
[data]
path = "people.csv"
target = "{target}"
[model]
task = "{task}"
estimator = "{estimator}"
{model_extra}
[split]
seed = 0
"""


def _toml(value: Any) -> str:
    return (
        json.dumps(value)
        if not isinstance(value, dict)
        else ("{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }")
    )


def project(
    tmp_path: Path,
    steps: list[dict[str, Any]],
    *,
    features: str = "",
    target: str = "spend",
    task: str = "regression",
    estimator: str = "ridge",
    model_extra: str = "",
) -> Path:
    frame = people().drop(columns=["survived", "town"] if target == "spend" else ["spend"])
    frame.to_csv(tmp_path / "people.csv", index=False)
    text = HEADER.format(target=target, task=task, estimator=estimator, model_extra=model_extra)
    text += features
    for step in steps:
        text += "\n[[steps]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in step.items())
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("steps", "extra", "needle"),
    [
        ([{"transformer": "mean_median_inputer"}], "", "Did you mean 'mean_median_imputer'?"),
        ([{"transformer": "nope"}], "", "encoding: one_hot_encoder"),
        ([{"transformer": "log_transformer", "params": {"bas": "10"}}], "", "Did you mean 'base'?"),
        ([{"transformer": "log_transformer", "params": {"variables": ["x"]}}], "", "`columns`"),
        (
            [{"transformer": "mean_median_imputer", "params": {"imputation_method": "mode"}}],
            "",
            "[[steps]] #1 (mean_median_imputer): invalid parameters",
        ),
        ([{"transformer": "winsorizer", "columns": "fare"}], "", "non-empty list of names"),
        ([{"transformer": "binarizer", "colums": ["fare"]}], "", "Did you mean 'columns'?"),
        (
            [{"transformer": "binarizer", "name": "b"}, {"transformer": "binarizer", "name": "b"}],
            "",
            "two steps are named 'b'",
        ),
        ([{"transformer": "binarizer"}], '[features]\nnumeric = ["fare"]\n', "simple form"),
        (
            [{"transformer": "binarizer"}],
            '[features]\ninclude = ["fare"]\nexclude = ["age"]\n',
            "include or exclude, not both",
        ),
    ],
)
def test_step_mistakes_name_the_step_and_the_choices(tmp_path, steps, extra, needle):
    with pytest.raises(ConfigError) as caught:
        load_config(project(tmp_path, steps, features=extra))
    assert needle in str(caught.value)


def test_target_transform_is_checked(tmp_path):
    simple = '[features]\nnumeric = ["fare"]\n'
    with pytest.raises(ConfigError, match="choose one of: log, log1p, sqrt"):
        load_config(project(tmp_path, [], features=simple, model_extra='target_transform = "log2"'))
    with pytest.raises(ConfigError, match="regression only"):
        load_config(
            project(
                tmp_path,
                [],
                target="survived",
                task="classification",
                estimator="logistic_regression",
                features=simple,
                model_extra='target_transform = "log"',
            )
        )


#: One config per step kind, and the transformer built by hand with the same parameters.
NUMBERS = ["fare", "sibsp", "pclass"]  # no missing values: these selectors raise on NaN
CASES: dict[str, tuple[list[str] | None, dict[str, Any]]] = {
    "mean_median_imputer": (["age"], {"imputation_method": "median"}),
    "arbitrary_number_imputer": (["age"], {"arbitrary_number": -1}),
    "end_tail_imputer": (["age"], {"imputation_method": "iqr", "tail": "right"}),
    "categorical_imputer": (["embarked"], {"imputation_method": "missing"}),
    "add_missing_indicator": (["age", "embarked"], {}),
    "log_transformer": (["fare"], {}),
    "log_cp_transformer": (["sibsp"], {"C": 1}),
    "reciprocal_transformer": (["fare"], {}),
    "power_transformer": (["fare"], {"exp": 0.5}),
    "box_cox_transformer": (["fare"], {}),
    "yeo_johnson_transformer": (["sibsp"], {}),
    "equal_width_discretiser": (["fare"], {"bins": 5}),
    "equal_frequency_discretiser": (["fare"], {"q": 4}),
    "arbitrary_discretiser": (None, {"binning_dict": {"fare": [-1e9, 10, 50, 1e9]}}),
    "winsorizer": (["fare"], {"capping_method": "iqr", "tail": "both", "fold": 1.5}),
    "arbitrary_outlier_capper": (None, {"max_capping_dict": {"fare": 100}}),
    "one_hot_encoder": (["title"], {"top_categories": 3}),
    "ordinal_encoder": (["title"], {"encoding_method": "ordered"}),
    "rare_label_encoder": (["title"], {"tol": 0.05}),
    "count_frequency_encoder": (["title"], {}),
    "mean_encoder": (["title"], {}),
    "value_mapping": (["sex"], {"categories": [["male", "female"]]}),
    "math_features": (["fare", "sibsp"], {"func": ["sum", "mean"]}),
    "relative_features": (["fare"], {"reference": ["sibsp"], "func": ["sub"]}),
    "cyclical_features": (["pclass"], {}),
    "drop_features": (None, {"features_to_drop": ["name"]}),
    "drop_constant_features": (NUMBERS, {"tol": 0.999}),
    "drop_correlated_features": (NUMBERS, {"threshold": 0.9}),
    "select_k_best": (NUMBERS, {"k": 2}),
    "select_from_model": (["fare", "sibsp", "pclass"], {"alpha": 0.01}),
    "standard_scaler": (["fare", "age"], {}),
    "min_max_scaler": (["fare", "age"], {}),
    "robust_scaler": (["fare", "age"], {}),
    "binarizer": (["sibsp"], {"threshold": 1}),
}


def test_every_step_kind_has_a_case():
    assert set(CASES) == set(STEPS)


def _by_hand(kind: str, columns: list[str] | None, params: dict[str, Any]) -> Any:
    spec = STEPS[kind]
    kwargs = {**spec.defaults, **params}
    cls = spec.cls()
    if spec.wrapped:
        from feature_engine.wrappers import SklearnTransformerWrapper
        from sklearn.feature_selection import f_regression
        from sklearn.linear_model import Lasso

        if spec.score_function:
            kwargs["score_func"] = f_regression
        if spec.estimator:
            kwargs = {
                "estimator": Lasso(alpha=kwargs.pop("alpha"), random_state=0, max_iter=10_000)
            }
        return SklearnTransformerWrapper(cls(**kwargs), variables=columns)
    if columns is not None:
        kwargs["variables"] = columns
    if "random_state" in inspect.signature(cls).parameters:
        kwargs["random_state"] = 0
    return cls(**kwargs)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_the_fitted_step_transforms_as_the_transformer_built_by_hand(tmp_path, kind):
    columns, params = CASES[kind]
    step: dict[str, Any] = {"transformer": kind, "params": params}
    if columns is not None:
        step["columns"] = columns
    config = load_config(project(tmp_path, [step]))
    pipeline = build_pipeline(config)
    frame = pd.read_csv(tmp_path / "people.csv")
    X, y = frame.drop(columns=["spend"]), frame["spend"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = pipeline[0].fit(X, y).transform(X)
        theirs = _by_hand(kind, columns, params).fit(X, y).transform(X)
    pd.testing.assert_frame_equal(ours, theirs)


HOUSE_STEPS = [
    {
        "transformer": "categorical_imputer",
        "columns": ["embarked", "deck"],
        "params": {"imputation_method": "missing", "fill_value": "Missing"},
    },
    {"transformer": "add_missing_indicator", "columns": ["age"]},
    {
        "transformer": "mean_median_imputer",
        "columns": ["age"],
        "params": {"imputation_method": "mean"},
    },
    {
        "transformer": "relative_features",
        "columns": ["fare"],
        "params": {"reference": ["sibsp"], "func": ["sub"]},
    },
    {"transformer": "log_transformer", "columns": ["fare"]},
    {
        "transformer": "value_mapping",
        "columns": ["deck"],
        "params": {"categories": [["Missing", "A", "B", "C", "D", "E", "F"]]},
    },
    {
        "transformer": "rare_label_encoder",
        "columns": ["title", "embarked"],
        "params": {"tol": 0.05},
    },
    {
        "transformer": "ordinal_encoder",
        "columns": ["title", "embarked", "sex"],
        "params": {"encoding_method": "ordered"},
    },
    {"transformer": "min_max_scaler"},
]


def test_a_course_style_config_trains_and_records_its_steps(tmp_path):
    features = (
        '[features]\ninclude = ["age", "fare", "sibsp", "embarked", "deck", "title", "sex"]\n'
    )
    config = load_config(
        project(
            tmp_path,
            HOUSE_STEPS,
            features=features,
            estimator="lasso",
            model_extra='target_transform = "log"\n[model.params]\nalpha = 0.001',
        )
    )
    result = train(config, tmp_path / "out", log=lambda _m: None)
    assert type(result.pipeline[-1]).__name__ == "TransformedTargetRegressor"
    manifest = json.loads((tmp_path / "out" / "train_manifest.json").read_text())
    assert [s["class"] for s in manifest["steps"]] == [
        "CategoricalImputer",
        "AddMissingIndicator",
        "MeanMedianImputer",
        "RelativeFeatures",
        "LogTransformer",
        "SklearnTransformerWrapper",
        "RareLabelEncoder",
        "OrdinalEncoder",
        "SklearnTransformerWrapper",
    ]
    assert {f["name"] for f in manifest["features"]} == {
        "age",
        "fare",
        "sibsp",
        "embarked",
        "deck",
        "title",
        "sex",
    }
    assert np.isfinite(result.metrics["rmse"])


def test_text_reaching_the_model_names_the_columns_and_the_fix(tmp_path):
    features = '[features]\ninclude = ["age", "fare", "title"]\n'
    config = load_config(
        project(
            tmp_path,
            [{"transformer": "mean_median_imputer", "columns": ["age"]}],
            features=features,
        )
    )
    with pytest.raises(DataError) as caught:
        train(config, tmp_path / "out", log=lambda _m: None)
    assert "'title'" in str(caught.value) and "one_hot_encoder" in str(caught.value)


def test_a_step_that_fails_is_named(tmp_path):
    features = '[features]\ninclude = ["age", "fare"]\n'
    config = load_config(
        project(
            tmp_path,
            [{"name": "logs", "transformer": "log_transformer", "columns": ["age"]}],
            features=features,
        )
    )
    with pytest.raises(DataError) as caught:
        train(config, tmp_path / "out", log=lambda _m: None)
    assert "step 'logs' (LogTransformer) failed" in str(caught.value)


def test_the_bundled_house_price_config_is_valid():
    config = load_config(Path(__file__).resolve().parents[2] / "configs" / "house-prices.toml")
    assert len(config.steps) == 15 and config.model.target_transform == "log"


def test_docs_and_help_list_every_step_and_estimator():
    import subprocess
    import sys

    from pipeport.research.estimators import ESTIMATORS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "configs.md").read_text()
    help_text = subprocess.run(
        [sys.executable, "-m", "pipeport", "train", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in STEPS:
        assert f"`{name}`" in docs, name
        assert f"  {name} " in help_text, name
    for name in ESTIMATORS:
        assert f"  {name} " in help_text, name
