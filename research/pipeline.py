"""The scikit-learn Pipeline pipeport trains: raw columns in, predictions out.

    preprocess (ColumnTransformer)
      numeric:     SimpleImputer(median) -> StandardScaler
      categorical: MissingCategory       -> OneHotEncoder(handle_unknown="ignore")
    select (SelectKBest, optional)
    model

Every step has an ONNX converter that computes in float64, so the exported graph agrees with this
pipeline to rounding (see docs/support.md).
"""

from __future__ import annotations

from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectKBest, f_classif, f_regression
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipeport.research.config import TrainConfig
from pipeport.research.estimators import make_estimator
from pipeport.research.steps import MissingCategory


def build_preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(
            (
                "numeric",
                Pipeline(
                    [
                        # keep_empty_features: a column that is all missing in training still
                        # has a slot (imputed to 0) instead of silently shifting the others.
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("missing", MissingCategory()),
                        (
                            "onehot",
                            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                        ),
                    ]
                ),
                categorical,
            )
        )
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def build_pipeline(config: TrainConfig, n_features_out: int | None = None) -> Pipeline:
    """The unfitted pipeline for a config."""
    model = make_estimator(
        config.model.estimator, config.model.task, config.model.params, config.split.seed
    )
    if config.model.target_transform is not None:
        model = _target_transformed(model, config.model.target_transform)
    if config.steps:
        from pipeport.research.feature_steps import build_step

        return Pipeline(
            [
                (step.name, build_step(step, config.model.task, config.split.seed))
                for step in config.steps
            ]
            + [("model", model)]
        )
    steps: list[tuple[str, Any]] = [
        (
            "preprocess",
            build_preprocessor(list(config.features.numeric), list(config.features.categorical)),
        )
    ]
    k = config.features.select_k_best
    if k is not None:
        score = f_classif if config.model.task == "classification" else f_regression
        # k larger than the number of encoded columns keeps them all (SelectKBest would raise)
        k_eff = k if n_features_out is None else min(k, n_features_out)
        steps.append(("select", SelectKBest(score_func=score, k=k_eff)))
    steps.append(("model", model))
    return Pipeline(steps)


def _target_transformed(model: Any, name: str) -> Any:
    """The model fitted on func(y), predicting inverse_func(prediction)."""
    import numpy as np
    from sklearn.compose import TransformedTargetRegressor

    from pipeport.research.feature_steps import TARGET_TRANSFORMS

    func, inverse = TARGET_TRANSFORMS[name]
    return TransformedTargetRegressor(
        regressor=model, func=getattr(np, func), inverse_func=getattr(np, inverse)
    )
