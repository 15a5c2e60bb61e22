"""The estimators pipeport trains, by name, for the tasks scikit-learn has them for.

Each entry also says how to make it reproducible: which constructor parameters take the seed and
which fix the degree of parallelism. Every estimator here has an ONNX converter that export/
checks for parity.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from sklearn import ensemble, linear_model, neighbors, neural_network, tree

TASKS = ("classification", "regression")


@dataclass(frozen=True)
class EstimatorSpec:
    name: str
    classification: type | None
    regression: type | None
    #: defaults pipeport sets unless the config overrides them (e.g. max_iter for convergence)
    defaults: dict[str, dict[str, Any]]

    def cls_for(self, task: str) -> type | None:
        return self.classification if task == "classification" else self.regression


def _spec(
    name: str, clf: type | None, reg: type | None, **defaults: dict[str, Any]
) -> EstimatorSpec:
    return EstimatorSpec(name, clf, reg, defaults)


ESTIMATORS: dict[str, EstimatorSpec] = {
    s.name: s
    for s in (
        _spec(
            "logistic_regression",
            linear_model.LogisticRegression,
            None,
            classification={"max_iter": 1000},
        ),
        _spec("linear_regression", None, linear_model.LinearRegression),
        _spec("ridge", None, linear_model.Ridge),
        _spec("lasso", None, linear_model.Lasso),
        _spec("elastic_net", None, linear_model.ElasticNet),
        _spec("decision_tree", tree.DecisionTreeClassifier, tree.DecisionTreeRegressor),
        _spec("random_forest", ensemble.RandomForestClassifier, ensemble.RandomForestRegressor),
        _spec("extra_trees", ensemble.ExtraTreesClassifier, ensemble.ExtraTreesRegressor),
        _spec(
            "gradient_boosting",
            ensemble.GradientBoostingClassifier,
            ensemble.GradientBoostingRegressor,
        ),
        _spec(
            "hist_gradient_boosting",
            ensemble.HistGradientBoostingClassifier,
            ensemble.HistGradientBoostingRegressor,
        ),
        # Brute force: equidistant neighbours (duplicated training rows) are then ranked the way
        # the ONNX graph's TopK ranks them; kd_tree/ball_tree rank them by tree layout, and the
        # parity gate fails on such ties (measured on penguins body mass).
        _spec(
            "knn",
            neighbors.KNeighborsClassifier,
            neighbors.KNeighborsRegressor,
            classification={"algorithm": "brute"},
            regression={"algorithm": "brute"},
        ),
        _spec(
            "mlp",
            neural_network.MLPClassifier,
            neural_network.MLPRegressor,
            classification={"max_iter": 500},
            regression={"max_iter": 500},
        ),
    )
}


def estimator_names(task: str | None = None) -> list[str]:
    """Names valid for `task` (all names when task is None), sorted for error messages."""
    return sorted(n for n, s in ESTIMATORS.items() if task is None or s.cls_for(task) is not None)


def valid_params(cls: type) -> list[str]:
    """Constructor parameter names of an estimator class."""
    return sorted(inspect.signature(cls).parameters)


def make_estimator(name: str, task: str, params: dict[str, Any], seed: int) -> Any:
    """Construct the estimator with pipeport's reproducibility defaults.

    The seed goes to `random_state` unless the config sets it; `n_jobs` is 1 unless the config sets
    it, because parallel reductions may sum in a different order from one run to the next.
    """
    spec = ESTIMATORS[name]
    cls = spec.cls_for(task)
    assert cls is not None
    accepted = set(valid_params(cls))
    kwargs: dict[str, Any] = dict(spec.defaults.get(task, {}))
    if "random_state" in accepted:
        kwargs["random_state"] = seed
    # n_jobs only where it still does something (LogisticRegression deprecated it in 1.8).
    if "n_jobs" in accepted and not name.endswith("regression"):
        kwargs["n_jobs"] = 1
    kwargs.update(params)
    return cls(**kwargs)


def check_params(name: str, task: str, params: dict[str, Any]) -> str | None:
    """None when scikit-learn accepts the parameter values, else its message (e.g. a string
    where an int is required), so a bad value fails at config time, not in the middle of fit."""
    from sklearn.utils._param_validation import InvalidParameterError

    estimator = make_estimator(name, task, params, seed=0)
    try:
        estimator._validate_params()
    except InvalidParameterError as exc:
        return str(exc)
    return None
