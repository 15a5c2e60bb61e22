"""The estimators pipeport trains, by name, for the tasks scikit-learn has them for.

Each entry also says how to make it reproducible: which constructor parameters take the seed and
which fix the degree of parallelism. Every estimator here has an ONNX converter that export/
checks for parity.

LightGBM and XGBoost come with pipeport's optional `boosting` extra: their classes are named
("lightgbm:LGBMClassifier") and imported only when a config asks for them, so the registry and
every other estimator work without them, and a config that asks for one says which extra to
install.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import ensemble, linear_model, neighbors, neural_network, tree

from pipeport.research.errors import ConfigError

TASKS = ("classification", "regression")


@dataclass(frozen=True)
class EstimatorSpec:
    name: str
    #: the class, or "module:Class" for a class of an optional package (imported when used)
    classification: type | str | None
    regression: type | str | None
    #: defaults pipeport sets unless the config overrides them (e.g. max_iter for convergence)
    defaults: dict[str, dict[str, Any]]
    #: the pipeport extra that installs the estimator's package (None: scikit-learn's own)
    extra: str | None = None

    def has_task(self, task: str) -> bool:
        """Does the estimator exist for `task`? (Without importing an optional package.)"""
        return (self.classification if task == "classification" else self.regression) is not None

    def cls_for(self, task: str) -> type | None:
        """The class for `task`; ConfigError naming the extra to install when its package is
        not installed."""
        named = self.classification if task == "classification" else self.regression
        if named is None or isinstance(named, type):
            return named
        module, _, attribute = named.partition(":")
        try:
            cls: type = getattr(importlib.import_module(module), attribute)
        except ImportError as exc:
            package = (exc.name or module).split(".")[0]
            raise ConfigError(
                f"estimator '{self.name}' needs the Python package {package}, which is not "
                f"installed; install pipeport's {self.extra} extra: "
                f"pip install 'pipeport[{self.extra}]'"
            ) from None
        return cls


def _spec(
    name: str,
    clf: type | str | None,
    reg: type | str | None,
    extra: str | None = None,
    **defaults: dict[str, Any],
) -> EstimatorSpec:
    return EstimatorSpec(name, clf, reg, defaults, extra)


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
        # The boosting extra. verbose=-1: LightGBM prints a line per warning otherwise.
        _spec(
            "lightgbm",
            "lightgbm:LGBMClassifier",
            "lightgbm:LGBMRegressor",
            "boosting",
            classification={"verbose": -1},
            regression={"verbose": -1},
        ),
        # XGBClassifier takes only the labels 0..K-1: research.boosting encodes any labels.
        _spec(
            "xgboost",
            "pipeport.research.boosting:LabelledXGBClassifier",
            "xgboost:XGBRegressor",
            "boosting",
        ),
    )
}


def estimator_names(task: str | None = None) -> list[str]:
    """Names valid for `task` (all names when task is None), sorted for error messages."""
    return sorted(n for n, s in ESTIMATORS.items() if task is None or s.has_task(task))


def valid_params(cls: type) -> list[str]:
    """Constructor parameter names of an estimator class. Not a catch-all **kwargs (LightGBM and
    XGBoost take any name there, and a typo would pass silently): for such a class, the
    parameters its get_params reports (XGBClassifier's constructor names only `objective` and
    passes the others on to XGBModel's)."""
    parameters = inspect.signature(cls).parameters
    variadic = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    names = {name for name, p in parameters.items() if p.kind not in variadic}
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        names |= set(cls().get_params(deep=False))
    return sorted(names)


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
    """None when the library accepts the parameter values, else its message (e.g. a string
    where an int is required), so a bad value fails at config time, not in the middle of fit."""
    from sklearn.utils._param_validation import InvalidParameterError

    estimator = make_estimator(name, task, params, seed=0)
    if ESTIMATORS[name].extra is not None:
        return _library_check(estimator, task)
    try:
        estimator._validate_params()
    except InvalidParameterError as exc:
        return str(exc)
    return None


def _library_check(estimator: Any, task: str) -> str | None:
    """LightGBM and XGBoost check their parameter values when they fit (LightGBM's C++ config,
    XGBoost's parameter manager), so fit one tree on a tiny table and report what they raise.
    Two classes, or three for a multiclass objective; targets in (0, 1), which every regression
    objective accepts (poisson, gamma, tweedie, logistic, cross_entropy)."""
    rounds = estimator.get_params().get("n_estimators")
    if rounds is not None and (
        not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1
    ):
        return f"n_estimators must be a positive integer, got {rounds!r}"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    objective = str(estimator.get_params().get("objective") or "")
    n_classes = 3 if any(k in objective for k in ("multi", "softmax", "ova", "ovr")) else 2
    y = np.arange(60) % n_classes if task == "classification" else rng.uniform(0.05, 0.95, 60)
    probe = estimator.set_params(n_estimators=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe.fit(X, y)
    except Exception as exc:  # whatever the library raises for a bad value
        text = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {text[0] if text else ''}"
    return None
