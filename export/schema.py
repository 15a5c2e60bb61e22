"""What the exported graph takes: the raw columns of the pipeline, and their kinds.

A column is categorical when the transformer that receives it starts with MissingCategory or
OneHotEncoder, numeric otherwise. That is read from the fitted pipeline itself, so a pipeline
built by hand from our steps converts as well as one built by `pipeport train`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectKBest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
)
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipeport.export.converters.one_hot_encoder import _check_supported as check_one_hot_encoder
from pipeport.export.errors import UnsupportedStepError
from pipeport.research.estimators import ESTIMATORS
from pipeport.research.steps import MISSING_CATEGORY, MissingCategory

NUMERIC = "numeric"
CATEGORICAL = "categorical"

_TRANSFORMERS: tuple[type, ...] = (
    MissingCategory,
    SimpleImputer,
    StandardScaler,
    OneHotEncoder,
    SelectKBest,
)
_MODELS: tuple[type, ...] = tuple(
    cls
    for spec in ESTIMATORS.values()
    for cls in (spec.classification, spec.regression)
    if cls is not None
)
# Sanity: the linear/knn/mlp models are converted by skl2onnx itself (they compute in float64).
_SKL2ONNX_DOUBLE = (
    LogisticRegression,
    LinearRegression,
    Ridge,
    Lasso,
    ElasticNet,
    KNeighborsClassifier,
    KNeighborsRegressor,
    MLPClassifier,
    MLPRegressor,
)

_ADVICE = {
    "FunctionTransformer": "has no ONNX converter (its function is arbitrary Python); "
    "use a supported step (SimpleImputer, StandardScaler, research.steps.MissingCategory, "
    "OneHotEncoder) or transform the data before training",
}


@dataclass(frozen=True)
class RawInput:
    name: str  # raw column name, exactly as in the training data
    kind: str  # NUMERIC or CATEGORICAL
    categories: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class PipelineSchema:
    inputs: tuple[RawInput, ...]
    task: str  # "classification" or "regression"
    classes: tuple[Any, ...] = field(default=())
    estimator: str = ""


def _step_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def check_supported(pipeline: Any, path: str = "") -> None:
    """Raise UnsupportedStepError naming the first step we cannot convert exactly."""
    if isinstance(pipeline, Pipeline):
        for name, step in pipeline.steps:
            check_supported(step, _step_path(path, name))
        return
    if isinstance(pipeline, ColumnTransformer):
        for name, transformer, _cols in pipeline.transformers_:
            if transformer in ("drop", "passthrough"):
                if transformer == "passthrough":
                    raise UnsupportedStepError(
                        f"Step '{_step_path(path, name)}' is 'passthrough': raw columns would "
                        "reach the model unprocessed; give them an imputer/scaler or encoder"
                    )
                continue
            check_supported(transformer, _step_path(path, name))
        return
    cls = type(pipeline)
    where = path or "the model"
    if cls.__name__ in _ADVICE:
        raise UnsupportedStepError(
            f"Step '{where}' is a {cls.__name__}, which {_ADVICE[cls.__name__]}"
        )
    if isinstance(pipeline, _TRANSFORMERS + _MODELS):
        if cls.__name__.startswith("HistGradientBoosting"):
            categorical = getattr(pipeline, "is_categorical_", None)
            if categorical is not None and np.any(categorical):
                raise UnsupportedStepError(
                    f"Step '{where}' is a {cls.__name__} with categorical_features, which "
                    "converts silently wrong; one-hot encode categorical columns before it "
                    "(pipeport's preprocessing does) and leave categorical_features unset"
                )
        if isinstance(pipeline, SimpleImputer) and pipeline.add_indicator:
            raise UnsupportedStepError(
                f"Step '{where}' is a SimpleImputer with add_indicator=True, which pipeport "
                "cannot export; set add_indicator=False"
            )
        statistics = getattr(pipeline, "statistics_", None)
        if (
            isinstance(pipeline, SimpleImputer)
            and statistics is not None
            and any(
                isinstance(v, (str, bytes)) for v in np.asarray(statistics, dtype=object).ravel()
            )
        ):
            raise UnsupportedStepError(
                f"Step '{where}' is a SimpleImputer fitted on text (categorical) values, which "
                "pipeport cannot export: the graph would treat the column as numeric. Use "
                "research.steps.MissingCategory for categorical columns"
            )
        if isinstance(pipeline, OneHotEncoder) and hasattr(pipeline, "categories_"):
            try:
                check_one_hot_encoder(pipeline)
            except ValueError as exc:
                raise UnsupportedStepError(
                    f"Step '{where}' is a OneHotEncoder that pipeport cannot export: {exc}"
                ) from None
        return
    supported = sorted({c.__name__ for c in _TRANSFORMERS + _MODELS})
    raise UnsupportedStepError(
        f"Step '{where}' is a {cls.__module__}.{cls.__name__}, which pipeport cannot export "
        f"exactly. Supported steps: Pipeline, ColumnTransformer, {', '.join(supported)}."
    )


def _is_categorical(transformer: Any) -> bool:
    first = transformer.steps[0][1] if isinstance(transformer, Pipeline) else transformer
    return isinstance(first, (MissingCategory, OneHotEncoder))


def _encoder_categories(transformer: Any, column_index: int) -> tuple[str, ...]:
    steps = transformer.steps if isinstance(transformer, Pipeline) else [("", transformer)]
    for _name, step in steps:
        if isinstance(step, OneHotEncoder):
            cats = [str(c) for c in step.categories_[column_index]]
            return tuple(c for c in cats if c != MISSING_CATEGORY)
    return ()


def pipeline_schema(pipeline: Pipeline, sample: pd.DataFrame) -> PipelineSchema:
    """The raw inputs (in the pipeline's column order), task and classes of a fitted pipeline."""
    if not isinstance(pipeline, Pipeline) or not isinstance(
        pipeline.steps[0][1], ColumnTransformer
    ):
        raise UnsupportedStepError(
            "pipeport exports a Pipeline whose first step is a ColumnTransformer over named raw "
            "columns (as research.pipeline.build_pipeline makes); got "
            f"{type(pipeline).__name__}"
            + (
                f" starting with {type(pipeline.steps[0][1]).__name__}"
                if isinstance(pipeline, Pipeline)
                else ""
            )
        )
    check_supported(pipeline)
    preprocess: ColumnTransformer = pipeline.steps[0][1]
    kinds: dict[str, RawInput] = {}
    for _name, transformer, columns in preprocess.transformers_:
        if transformer == "drop":
            continue
        if not all(isinstance(c, str) for c in columns):
            raise UnsupportedStepError(
                "ColumnTransformer columns must be selected by name (strings), so the ONNX "
                f"inputs can carry the raw column names; got {columns!r}"
            )
        categorical = _is_categorical(transformer)
        for j, column in enumerate(columns):
            if categorical:
                kinds[column] = RawInput(column, CATEGORICAL, _encoder_categories(transformer, j))
            else:
                values = (
                    pd.to_numeric(sample[column], errors="coerce") if column in sample else None
                )
                finite = values.dropna() if values is not None else pd.Series(dtype=float)
                kinds[column] = RawInput(
                    column,
                    NUMERIC,
                    min=float(finite.min()) if len(finite) else None,
                    max=float(finite.max()) if len(finite) else None,
                )
    order = [str(c) for c in getattr(preprocess, "feature_names_in_", kinds.keys())]
    inputs = tuple(kinds[c] for c in order if c in kinds)
    model = pipeline.steps[-1][1]
    if hasattr(model, "classes_"):
        classes = tuple(c.item() if hasattr(c, "item") else c for c in model.classes_)
        return PipelineSchema(inputs, "classification", classes, type(model).__name__)
    return PipelineSchema(inputs, "regression", (), type(model).__name__)
