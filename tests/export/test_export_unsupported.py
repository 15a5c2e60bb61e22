"""What pipeport still refuses, and how: the message names the user's step (its scikit-learn
parameter path), its class, why, and what to do, in the user's terms: never one of pipeport's
internal classes. Pipelines built by hand."""

from __future__ import annotations

import re

import export_testkit as kit
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import pipeport
from pipeport.export.onnx_export import to_onnx

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
#: Names of pipeport internals a refusal must never show a user.
INTERNAL = re.compile(r"\b(Col|Graph|RawColumn|Block|Converter|Conversion|FeatureTable)\b")


@pytest.fixture(scope="module")
def penguin_frame() -> pd.DataFrame:
    return pd.read_csv(kit.PENGUINS)


def _refusal(pipeline, frame) -> str:
    with pytest.raises(pipeport.UnsupportedStepError) as info:
        to_onnx(pipeline, frame, "refused", generated_rows=10)
    message = str(info.value)
    assert not INTERNAL.search(message), message
    return message


def _fit(frame, *steps):
    return make_pipeline(*steps).fit(frame, frame["species"])


class YearsSince(TransformerMixin, BaseEstimator):
    """A user's own transformer, with no converter registered."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return 2026 - np.asarray(X, dtype=float)


def test_function_transformer_with_a_function_names_the_step_and_the_extension_point(
    penguin_frame,
):
    pipeline = _fit(
        penguin_frame,
        ColumnTransformer(
            [("numeric", make_pipeline(SimpleImputer(), FunctionTransformer(np.cbrt)), NUMERIC)]
        ),
        LogisticRegression(max_iter=500),
    )
    message = _refusal(pipeline, penguin_frame)
    assert "'columntransformer__numeric__functiontransformer'" in message
    assert "FunctionTransformer" in message and "cbrt" in message
    assert "pipeport.register_converter" in message


def test_passthrough_is_never_reported_as_a_function_transformer(penguin_frame):
    """A fitted ColumnTransformer holds "passthrough" as an identity FunctionTransformer: it
    exports, and so the only refusal here is the user's own class."""
    pipeline = _fit(
        penguin_frame.dropna(),
        ColumnTransformer([("keep", "passthrough", ["year"]), ("mine", YearsSince(), ["year"])]),
        LogisticRegression(max_iter=500),
    )
    message = _refusal(pipeline, penguin_frame.dropna())
    assert "'columntransformer__mine'" in message and "YearsSince" in message
    assert "is a FunctionTransformer" not in message
    assert "pipeport.register_converter" in message


def test_calibration_by_temperature_is_refused(penguin_frame):
    frame = penguin_frame.dropna()
    model = CalibratedClassifierCV(
        HistGradientBoostingClassifier(max_iter=5), method="temperature", cv=3
    )
    pipeline = Pipeline([("model", model)]).fit(frame[NUMERIC], frame["species"])
    message = _refusal(pipeline, frame[NUMERIC])
    assert "'model'" in message and "CalibratedClassifierCV" in message
    assert "method='temperature'" in message and "'sigmoid' or 'isotonic'" in message


def test_a_pipeline_ending_with_a_transformer_is_refused(penguin_frame):
    pipeline = make_pipeline(SimpleImputer(), StandardScaler()).fit(penguin_frame[NUMERIC])
    message = _refusal(pipeline, penguin_frame[NUMERIC])
    assert "'standardscaler'" in message
    assert "a classifier, a regressor or an outlier detector" in message


def test_a_text_column_read_as_numbers_is_refused_naming_column_and_step(penguin_frame):
    frame = penguin_frame.assign(code=penguin_frame["year"].astype(str))
    pipeline = _fit(
        frame,
        ColumnTransformer([("num", SimpleImputer(), ["code", *NUMERIC])]),
        LogisticRegression(max_iter=500),
    )
    message = _refusal(pipeline, frame)
    assert "'columntransformer__num'" in message and "'code'" in message
    assert "text" in message


def test_a_datetime_column_is_refused_with_what_to_do(penguin_frame):
    frame = penguin_frame.dropna().assign(
        when=pd.to_datetime(penguin_frame.dropna()["year"].astype(str))
    )
    pipeline = _fit(
        frame,
        ColumnTransformer([("dates", OneHotEncoder(handle_unknown="ignore"), ["when"])]),
        LogisticRegression(max_iter=500),
    )
    message = _refusal(pipeline, frame)
    assert "'when'" in message and "dates" in message


def test_an_unfitted_pipeline_is_refused(penguin_frame):
    message = _refusal(make_pipeline(StandardScaler(), LogisticRegression()), penguin_frame)
    assert "not fitted" in message


class Celsius(TransformerMixin, BaseEstimator):
    """A user's own class as a pipeline's first step, which records nothing of what it was
    fitted on (no n_features_in_, no feature_names_in_): scikit-learn's Pipeline then has
    neither, although it is fitted."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return (np.asarray(X, dtype=float) - 32.0) / 1.8


def test_an_own_class_first_is_refused_by_name_not_called_unfitted(penguin_frame):
    frame = penguin_frame.dropna()
    pipeline = make_pipeline(Celsius(), LogisticRegression(max_iter=500))
    unfitted = _refusal(pipeline, frame[NUMERIC])
    assert "is not fitted" in unfitted
    pipeline.fit(frame[NUMERIC], frame["species"])
    assert not hasattr(pipeline, "n_features_in_")
    message = _refusal(pipeline, frame[NUMERIC])
    assert "is not fitted" not in message
    assert "'celsius'" in message and "Celsius" in message
    assert "pipeport.register_converter" in message


def test_an_own_class_first_exports_once_its_converter_is_registered(penguin_frame):
    class Fahrenheit(Celsius):  # its own class: the registration stays with this test
        pass

    def convert(step, ctx):
        columns = ctx.numbers(NUMERIC)
        shifted = ctx.op("Sub", [columns, ctx.const(np.array([[32.0]]))])
        # one divisor per column, not a scalar: onnxruntime folds a Div or Mul by a scalar
        # constant beside a MatMul into the MatMul's float32 alpha (docs/converters.md)
        divisor = ctx.const(np.full((1, len(NUMERIC)), 1.8))
        return ctx.result(ctx.op("Div", [shifted, divisor]), NUMERIC)

    pipeport.register_converter(Fahrenheit, convert)
    frame = penguin_frame.dropna()
    pipeline = make_pipeline(Fahrenheit(), LogisticRegression(max_iter=500))
    pipeline.fit(frame[NUMERIC], frame["species"])
    model = to_onnx(pipeline, frame[NUMERIC], "fahrenheit", generated_rows=200)
    assert [i.name for i in model.graph.input] == NUMERIC
