"""The feature-engineering steps a training config can list (`[[steps]]`), by name.

Each step is a feature-engine transformer where feature-engine has one, and a scikit-learn
transformer otherwise (wrapped in feature-engine's SklearnTransformerWrapper so that it, too,
works on named DataFrame columns and passes the others through). Steps run in order on the raw
DataFrame, may create columns (`<column>_na`, `YrSold_sub_YearBuilt`, ...) that later steps use,
and every one has an exact ONNX converter.

What pipeport sets for you (and you may still override): feature-engine's encoders and
CategoricalImputer get `ignore_format=True`, because with pandas 3 a column read from a CSV can
be numeric or boolean (or become int64 again after an imputer) and they would otherwise refuse it;
seeded steps get the config's `[split] seed`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from pipeport.research.errors import ConfigError

#: The steps, by family, for --help and error messages.
FAMILIES = (
    "imputation",
    "transformation",
    "discretisation",
    "outliers",
    "encoding",
    "creation",
    "selection",
    "scaling",
)


@dataclass(frozen=True)
class StepKind:
    name: str
    family: str
    #: "module:Class" of the transformer (imported when used).
    target: str
    #: parameters pipeport sets unless the config does
    defaults: dict[str, Any] = field(default_factory=dict)
    #: scikit-learn transformers are wrapped to apply to `columns` and keep the rest
    wrapped: bool = False
    #: a parameter that takes the task's score function (SelectKBest)
    score_function: bool = False
    #: a parameter that takes an estimator of the task (SelectFromModel)
    estimator: bool = False
    help: str = ""

    def cls(self) -> type:
        import importlib

        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]

    def accepted(self) -> list[str]:
        names = [p for p in inspect.signature(self.cls()).parameters if p != "variables"]
        if self.score_function:
            names.remove("score_func")
        if self.estimator:
            names.remove("estimator")
            names += ["alpha", "C"]  # of the selection model (Lasso, or L1 logistic regression)
        return sorted(names)


def _fe(module: str, name: str) -> str:
    return f"feature_engine.{module}:{name}"


_ENCODER_DEFAULTS = {"ignore_format": True}

STEPS: dict[str, StepKind] = {
    s.name: s
    for s in (
        # -- imputation
        StepKind(
            "mean_median_imputer",
            "imputation",
            _fe("imputation", "MeanMedianImputer"),
            help="imputation_method mean|median",
        ),
        StepKind(
            "arbitrary_number_imputer",
            "imputation",
            _fe("imputation", "ArbitraryNumberImputer"),
            help="arbitrary_number",
        ),
        StepKind(
            "end_tail_imputer",
            "imputation",
            _fe("imputation", "EndTailImputer"),
            help="imputation_method gaussian|iqr|max, tail right|left, fold",
        ),
        StepKind(
            "categorical_imputer",
            "imputation",
            _fe("imputation", "CategoricalImputer"),
            defaults=_ENCODER_DEFAULTS,
            help="imputation_method missing (fill_value) | frequent",
        ),
        StepKind(
            "add_missing_indicator",
            "imputation",
            _fe("imputation", "AddMissingIndicator"),
            help="adds <column>_na columns",
        ),
        # -- transformation
        StepKind(
            "log_transformer",
            "transformation",
            _fe("transformation", "LogTransformer"),
            help="base e|10; values must be > 0",
        ),
        StepKind(
            "log_cp_transformer",
            "transformation",
            _fe("transformation", "LogCpTransformer"),
            help="log(x + C), C auto|number",
        ),
        StepKind(
            "reciprocal_transformer",
            "transformation",
            _fe("transformation", "ReciprocalTransformer"),
            help="1 / x",
        ),
        StepKind(
            "power_transformer",
            "transformation",
            _fe("transformation", "PowerTransformer"),
            help="x ** exp",
        ),
        StepKind(
            "box_cox_transformer",
            "transformation",
            _fe("transformation", "BoxCoxTransformer"),
            help="values must be > 0",
        ),
        StepKind(
            "yeo_johnson_transformer",
            "transformation",
            _fe("transformation", "YeoJohnsonTransformer"),
        ),
        # -- discretisation
        StepKind(
            "equal_width_discretiser",
            "discretisation",
            _fe("discretisation", "EqualWidthDiscretiser"),
            help="bins",
        ),
        StepKind(
            "equal_frequency_discretiser",
            "discretisation",
            _fe("discretisation", "EqualFrequencyDiscretiser"),
            help="q",
        ),
        StepKind(
            "arbitrary_discretiser",
            "discretisation",
            _fe("discretisation", "ArbitraryDiscretiser"),
            help="binning_dict",
        ),
        # -- outliers
        StepKind(
            "winsorizer",
            "outliers",
            _fe("outliers", "Winsorizer"),
            help="capping_method gaussian|iqr|quantiles|mad, tail, fold",
        ),
        StepKind(
            "arbitrary_outlier_capper",
            "outliers",
            _fe("outliers", "ArbitraryOutlierCapper"),
            help="max_capping_dict, min_capping_dict",
        ),
        # -- encoding
        StepKind(
            "one_hot_encoder",
            "encoding",
            _fe("encoding", "OneHotEncoder"),
            defaults=_ENCODER_DEFAULTS,
            help="top_categories, drop_last",
        ),
        StepKind(
            "ordinal_encoder",
            "encoding",
            _fe("encoding", "OrdinalEncoder"),
            defaults=_ENCODER_DEFAULTS,
            help="encoding_method ordered (by target)|arbitrary",
        ),
        StepKind(
            "rare_label_encoder",
            "encoding",
            _fe("encoding", "RareLabelEncoder"),
            defaults=_ENCODER_DEFAULTS,
            help="tol, n_categories, replace_with",
        ),
        StepKind(
            "count_frequency_encoder",
            "encoding",
            _fe("encoding", "CountFrequencyEncoder"),
            defaults=_ENCODER_DEFAULTS,
            help="encoding_method count|frequency",
        ),
        StepKind(
            "mean_encoder",
            "encoding",
            _fe("encoding", "MeanEncoder"),
            defaults=_ENCODER_DEFAULTS,
            help="target mean encoding, smoothing",
        ),
        StepKind(
            "value_mapping",
            "encoding",
            "sklearn.preprocessing:OrdinalEncoder",
            wrapped=True,
            defaults={"handle_unknown": "use_encoded_value", "unknown_value": -1},
            help="categories = [[lowest, ..., highest]] per column, e.g. Po < Fa < TA < Gd "
            "< Ex; unknown values -1",
        ),
        # -- creation
        StepKind(
            "math_features",
            "creation",
            _fe("creation", "MathFeatures"),
            help="func sum|mean|prod|max|min|std over the columns, new_variables_names",
        ),
        StepKind(
            "relative_features",
            "creation",
            _fe("creation", "RelativeFeatures"),
            help="func sub|div|add|mul|... against reference columns, e.g. YrSold - YearBuilt",
        ),
        StepKind(
            "cyclical_features",
            "creation",
            _fe("creation", "CyclicalFeatures"),
            help="sin/cos of periodic columns (months, hours)",
        ),
        # -- selection
        StepKind(
            "drop_features", "selection", _fe("selection", "DropFeatures"), help="features_to_drop"
        ),
        StepKind(
            "drop_constant_features",
            "selection",
            _fe("selection", "DropConstantFeatures"),
            help="tol",
        ),
        StepKind(
            "drop_correlated_features",
            "selection",
            _fe("selection", "DropCorrelatedFeatures"),
            help="threshold, method",
        ),
        StepKind(
            "select_k_best",
            "selection",
            "sklearn.feature_selection:SelectKBest",
            wrapped=True,
            score_function=True,
            help="k (scored by f_classif / f_regression)",
        ),
        StepKind(
            "select_from_model",
            "selection",
            "sklearn.feature_selection:SelectFromModel",
            wrapped=True,
            estimator=True,
            help="Lasso (regression) or L1 logistic regression (classification); "
            "alpha or C, threshold, max_features",
        ),
        # -- scaling
        StepKind(
            "standard_scaler", "scaling", "sklearn.preprocessing:StandardScaler", wrapped=True
        ),
        StepKind("min_max_scaler", "scaling", "sklearn.preprocessing:MinMaxScaler", wrapped=True),
        StepKind("robust_scaler", "scaling", "sklearn.preprocessing:RobustScaler", wrapped=True),
        StepKind(
            "binarizer",
            "scaling",
            "sklearn.preprocessing:Binarizer",
            wrapped=True,
            help="threshold: x > threshold -> 1",
        ),
    )
}

#: `[model] target_transform`: (func, inverse_func) of a TransformedTargetRegressor.
TARGET_TRANSFORMS: dict[str, tuple[str, str]] = {
    "log": ("log", "exp"),
    "log1p": ("log1p", "expm1"),
    "sqrt": ("sqrt", "square"),
}


@dataclass(frozen=True)
class StepConfig:
    name: str
    kind: str
    columns: tuple[str, ...] | None  # None: the transformer's own default (every suitable column)
    params: dict[str, Any]


_STEP_KEYS = {"name", "transformer", "columns", "params"}


def parse_steps(raw: Any, task: str) -> tuple[StepConfig, ...]:
    """`[[steps]]` -> typed steps, every mistake named with its step number and the choices."""
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise ConfigError("[[steps]] must be an array of tables ([[steps]] blocks)")
    out: list[StepConfig] = []
    names: set[str] = set()
    for i, table in enumerate(raw, start=1):
        where = f"[[steps]] #{i}"
        for key in table:
            if key not in _STEP_KEYS:
                hint = get_close_matches(key, _STEP_KEYS, n=1)
                raise ConfigError(
                    f"unknown key '{key}' in {where}."
                    + (f" Did you mean '{hint[0]}'?" if hint else "")
                    + f" Valid keys: {', '.join(sorted(_STEP_KEYS))}."
                )
        kind = table.get("transformer")
        if not isinstance(kind, str) or kind not in STEPS:
            hint = get_close_matches(str(kind), STEPS, n=1)
            raise ConfigError(
                f"{where}: unknown transformer {kind!r}."
                + (f" Did you mean '{hint[0]}'?" if hint else "")
                + " Valid transformers: "
                + "; ".join(
                    f"{family}: {', '.join(n for n, s in STEPS.items() if s.family == family)}"
                    for family in FAMILIES
                )
            )
        name = table.get("name", f"{i}_{kind}")
        if not isinstance(name, str) or not name or "__" in name:
            raise ConfigError(f"{where}: name must be a non-empty string without '__'")
        if name in names:
            raise ConfigError(f"{where}: two steps are named {name!r}")
        names.add(name)
        columns = table.get("columns")
        if columns is not None and (
            not isinstance(columns, list)
            or not columns
            or not all(isinstance(c, str) and c for c in columns)
        ):
            raise ConfigError(f"{where} ({kind}): columns must be a non-empty list of names")
        params = table.get("params", {})
        if not isinstance(params, dict):
            raise ConfigError(f"{where} ({kind}): params must be a table")
        spec = STEPS[kind]
        accepted = spec.accepted()
        for p in params:
            if p not in accepted:
                hint = get_close_matches(p, accepted, n=1)
                raise ConfigError(
                    f"{where} ({kind}): '{p}' is not a parameter of {spec.cls().__name__}."
                    + (f" Did you mean '{hint[0]}'?" if hint else "")
                    + f" Valid parameters: {', '.join(accepted)}"
                    + (" (the columns go in `columns`)" if p == "variables" else "")
                )
        step = StepConfig(name, kind, tuple(columns) if columns else None, dict(params))
        problem = _construct_problem(step, task)
        if problem:
            raise ConfigError(f"{where} ({kind}): invalid parameters: {problem}")
        out.append(step)
    return tuple(out)


def _construct_problem(step: StepConfig, task: str) -> str | None:
    """None when the transformer accepts the parameters, else its own message."""
    try:
        transformer = build_step(step, task, seed=0)
        inner = getattr(transformer, "transformer", transformer)
        if hasattr(inner, "_parameter_constraints"):  # scikit-learn's own value checks
            inner._validate_params()
    except (ValueError, TypeError) as exc:
        return str(exc).splitlines()[0]
    return None


def build_step(step: StepConfig, task: str, seed: int) -> Any:
    """The unfitted transformer of one config step."""
    spec = STEPS[step.kind]
    cls = spec.cls()
    accepted = set(inspect.signature(cls).parameters)
    kwargs: dict[str, Any] = {k: v for k, v in spec.defaults.items() if k in accepted}
    if "random_state" in accepted:
        kwargs["random_state"] = seed
    kwargs.update(step.params)
    if spec.score_function:
        from sklearn.feature_selection import f_classif, f_regression

        kwargs["score_func"] = f_classif if task == "classification" else f_regression
    if spec.estimator:
        kwargs["estimator"] = _selection_model(task, kwargs, seed)
    if spec.wrapped:
        from feature_engine.wrappers import SklearnTransformerWrapper

        params = {k: v for k, v in kwargs.items() if k not in ("alpha", "C")}
        return SklearnTransformerWrapper(
            transformer=cls(**params), variables=list(step.columns) if step.columns else None
        )
    if step.columns:
        kwargs["variables"] = list(step.columns)
    return cls(**kwargs)


def _selection_model(task: str, kwargs: dict[str, Any], seed: int) -> Any:
    from sklearn.linear_model import Lasso, LogisticRegression

    if task == "regression":
        return Lasso(alpha=kwargs.pop("alpha", 0.001), random_state=seed, max_iter=10_000)
    return LogisticRegression(
        C=kwargs.pop("C", 1.0), l1_ratio=1.0, solver="liblinear", random_state=seed
    )


def steps_help() -> str:
    """Every step name with what it takes, for docs and --help."""
    lines = []
    for family in FAMILIES:
        lines.append(f"{family}:")
        for name, spec in STEPS.items():
            if spec.family == family:
                lines.append(f"  {name:<28} {spec.target.split(':')[1]}  {spec.help}".rstrip())
    return "\n".join(lines)


StepBuilder = Callable[[StepConfig, str, int], Any]
