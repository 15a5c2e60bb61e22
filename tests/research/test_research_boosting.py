"""The `lightgbm` and `xgboost` estimators of a training config: found, seeded, their parameters
checked by the libraries themselves at config time, any class labels for XGBoost, and a clear
message naming the extra to install when the library is missing."""

from __future__ import annotations

import pickle
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeport.research.config import load_config
from pipeport.research.errors import ConfigError
from pipeport.research.estimators import ESTIMATORS, make_estimator, valid_params

BOOSTING = [("lightgbm", "classification"), ("lightgbm", "regression")] + [
    ("xgboost", "classification"),
    ("xgboost", "regression"),
]


def _config(config_helpers: Any, estimator: str, task: str, **params: Any) -> dict[str, Any]:
    return config_helpers.base_config(
        task=task, estimator=estimator, params=params or None, target="target"
    )


@pytest.mark.parametrize(("estimator", "task"), BOOSTING)
def test_a_boosting_config_loads_and_builds_a_seeded_single_thread_model(
    write_project, config_helpers, estimator, task
):
    config = load_config(write_project(_config(config_helpers, estimator, task)))
    model = make_estimator(estimator, task, config.model.params, seed=7)
    params = model.get_params()
    assert params["random_state"] == 7
    assert params["n_jobs"] == 1
    if estimator == "lightgbm":
        assert params["verbose"] == -1


@pytest.mark.parametrize(
    ("estimator", "task", "params", "named"),
    [
        ("lightgbm", "classification", {"num_leaves": 1}, "num_leaves"),
        ("lightgbm", "regression", {"max_depth": "deep"}, "max_depth"),
        ("lightgbm", "regression", {"objective": "nope"}, "nope"),
        ("xgboost", "classification", {"max_depth": -2}, "max_depth"),
        ("xgboost", "regression", {"objective": "reg:nope"}, "reg:nope"),
        ("xgboost", "regression", {"learning_rate": "x"}, "learning_rate"),
        ("lightgbm", "classification", {"n_estimators": 0}, "n_estimators"),
        ("xgboost", "regression", {"n_estimators": -5}, "n_estimators"),
    ],
)
def test_a_bad_parameter_value_is_refused_with_the_librarys_own_message(
    write_project, config_helpers, estimator, task, params, named
):
    with pytest.raises(ConfigError) as caught:
        load_config(write_project(_config(config_helpers, estimator, task, **params)))
    message = str(caught.value)
    assert message.startswith("[model.params] invalid value for ")
    assert named in message


@pytest.mark.parametrize(
    ("estimator", "task", "params"),
    [
        ("lightgbm", "classification", {"objective": "multiclassova", "num_leaves": 7}),
        ("lightgbm", "regression", {"objective": "poisson", "reg_alpha": 0.5}),
        ("lightgbm", "regression", {"objective": "tweedie"}),
        ("xgboost", "classification", {"max_depth": 3, "base_score": 0.4}),
        ("xgboost", "regression", {"objective": "count:poisson", "max_bin": 64}),
        ("xgboost", "regression", {"objective": "reg:logistic"}),
    ],
)
def test_good_parameter_values_pass_the_librarys_check(
    write_project, config_helpers, estimator, task, params
):
    config = load_config(write_project(_config(config_helpers, estimator, task, **params)))
    assert config.model.params == params


def test_a_misspelt_parameter_suggests_the_right_one(write_project, config_helpers):
    with pytest.raises(ConfigError) as caught:
        load_config(
            write_project(_config(config_helpers, "lightgbm", "classification", num_leave=7))
        )
    assert "'num_leave' is not a parameter of LGBMClassifier. Did you mean 'num_leaves'?" in str(
        caught.value
    )


@pytest.mark.parametrize(("estimator", "task"), BOOSTING)
def test_parameters_are_the_named_ones_not_a_catch_all(estimator, task):
    names = valid_params(ESTIMATORS[estimator].cls_for(task))
    assert "kwargs" not in names
    assert {"n_estimators", "learning_rate", "max_depth", "random_state", "n_jobs"} <= set(names)


@pytest.mark.parametrize(
    ("estimator", "package"), [("lightgbm", "lightgbm"), ("xgboost", "xgboost")]
)
def test_a_missing_library_names_the_extra_to_install(
    monkeypatch, write_project, config_helpers, capsys, estimator, package
):
    path = write_project(_config(config_helpers, estimator, "classification"))
    monkeypatch.setitem(sys.modules, package, None)  # `import package` raises ImportError
    monkeypatch.delitem(sys.modules, "pipeport.research.boosting", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"estimator '{estimator}' needs the Python package {package}, which is not installed; "
        "install pipeport's boosting extra: pip install 'pipeport[boosting]'"
    )
    from pipeport import cli

    assert cli.main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'pipeport[boosting]'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "labels",
    [
        ["Adelie", "Chinstrap", "Gentoo"],
        [3, 7, 11],
        [False, True],
        ["no", "yes"],
    ],
    ids=["text", "integers", "booleans", "two-texts"],
)
def test_the_xgboost_classifier_takes_any_labels_and_predicts_them(labels):
    cls = ESTIMATORS["xgboost"].cls_for("classification")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    index = np.digitize(X[:, 0] + rng.normal(0, 0.3, 300), [-0.4, 0.4][: len(labels) - 1])
    y = (
        np.asarray(labels, dtype=object)[index]
        if isinstance(labels[0], str)
        else (np.asarray(labels)[index])
    )
    model = make_estimator("xgboost", "classification", {"n_estimators": 10}, seed=0).fit(X, y)
    assert type(model) is cls
    assert list(model.classes_) == sorted(labels)
    proba = model.predict_proba(X)
    predicted = model.predict(X)
    if len(labels) == 2:  # XGBClassifier's rule: the second class where p > 0.5
        expected = np.where(proba[:, 1] > 0.5, model.classes_[1], model.classes_[0])
    else:
        expected = model.classes_[np.argmax(proba, axis=1)]
    assert list(predicted) == list(expected)
    assert set(pd.unique(predicted)) <= set(labels)
    again = pickle.loads(pickle.dumps(model))
    assert list(again.predict(X)) == list(predicted)
    assert np.array_equal(again.predict_proba(X), proba)
