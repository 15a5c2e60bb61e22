"""Steps with no exact ONNX conversion are refused with a message that names the step (its path
in the pipeline), its class, and what to use instead. Pipelines built by hand."""

from __future__ import annotations

import export_testkit as kit
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from pipeport.export.errors import UnsupportedStepError
from pipeport.export.onnx_export import to_onnx
from pipeport.research.steps import MissingCategory

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]


@pytest.fixture(scope="module")
def penguin_frame() -> pd.DataFrame:
    return pd.read_csv(kit.PENGUINS)


def _numeric(*steps):
    return Pipeline(
        list(steps) or [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )


def _categorical(*steps):
    return Pipeline(
        list(steps)
        or [
            ("missing", MissingCategory()),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )


def _fit(frame, numeric, categorical, model=None):
    pipeline = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [("numeric", numeric, NUMERIC), ("categorical", categorical, ["island", "sex"])]
                ),
            ),
            ("model", model or LogisticRegression(max_iter=1000)),
        ]
    )
    return pipeline.fit(frame, frame["species"])


def _refusal(pipeline, frame) -> str:
    with pytest.raises(UnsupportedStepError) as info:
        to_onnx(pipeline, frame, "refused", generated_rows=10)
    return str(info.value)


def test_function_transformer_is_refused_naming_step_class_and_alternative(penguin_frame):
    pipeline = _fit(
        penguin_frame,
        _numeric(("impute", SimpleImputer()), ("log", FunctionTransformer(np.log1p))),
        _categorical(),
    )
    message = _refusal(pipeline, penguin_frame)
    assert "'preprocess.numeric.log'" in message
    assert "FunctionTransformer" in message
    assert "use a supported step" in message


def test_hist_gradient_boosting_with_categorical_features_is_refused(penguin_frame):
    # columns 3.. of the encoded matrix are the one-hot island/sex indicators
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features=[3, 4, 5])
    pipeline = _fit(penguin_frame, _numeric(), _categorical(), model)
    assert np.any(pipeline[-1].is_categorical_)
    message = _refusal(pipeline, penguin_frame)
    assert "'model'" in message and "HistGradientBoostingClassifier" in message
    assert "categorical_features" in message and "one-hot encode" in message


@pytest.mark.parametrize("strategy", ["most_frequent", "constant"])
def test_simple_imputer_on_strings_is_refused(penguin_frame, strategy):
    imputer = SimpleImputer(strategy=strategy, fill_value="missing")
    pipeline = _fit(
        penguin_frame,
        _numeric(),
        _categorical(
            ("impute", imputer),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ),
    )
    message = _refusal(pipeline, penguin_frame)
    assert "'preprocess.categorical.impute'" in message
    assert "SimpleImputer" in message and "MissingCategory" in message


def test_one_hot_encoder_that_errors_on_unknown_categories_is_refused(penguin_frame):
    pipeline = _fit(
        penguin_frame,
        _numeric(),
        _categorical(
            ("missing", MissingCategory()),
            ("onehot", OneHotEncoder(handle_unknown="error", sparse_output=False)),
        ),
    )
    message = _refusal(pipeline, penguin_frame)
    assert "'preprocess.categorical.onehot'" in message
    assert "OneHotEncoder" in message and "handle_unknown='ignore'" in message
