"""Pipeline steps of our own, each with an ONNX converter in export/converters/.

They exist so that the saved scikit-learn pipeline takes the raw DataFrame exactly as
`pandas.read_csv` returns it, and so that the ONNX graph sees exactly what scikit-learn sees.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

#: What a missing categorical value becomes, in scikit-learn and in the ONNX graph alike.
#: Clients feed it for a missing value in a string tensor. pandas.read_csv turns an empty field
#: into NaN, so the empty string can never be a real category read from a CSV file.
MISSING_CATEGORY = ""


def normalise_category(value: Any) -> str:
    """The string form of one raw categorical value.

    True -> "True", 3 -> "3", 3.0 -> "3" (an integer column that pandas widened to float because
    it has missing values must give the same strings as without them), NaN/None -> the sentinel.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING_CATEGORY
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return MISSING_CATEGORY
        if math.isfinite(value) and float(value).is_integer():
            return str(int(value))
        return repr(float(value))
    return str(value)


class MissingCategory(TransformerMixin, BaseEstimator):
    """Categorical columns -> strings, with every missing value mapped to one sentinel.

    Why not SimpleImputer(strategy="constant")? It does not convert to ONNX on string columns
    holding NaN, it keeps mixed types (3 and "3" would differ), and booleans would reach the
    encoder as bools. This step normalises every value with `normalise_category`, so the encoder
    after it only ever sees strings, and the ONNX graph (which receives strings) agrees.
    """

    def fit(self, X: Any, y: Any = None) -> MissingCategory:
        frame = pd.DataFrame(X)
        self.n_features_in_ = frame.shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        frame = pd.DataFrame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"MissingCategory was fitted on {self.n_features_in_} columns, got {frame.shape[1]}"
            )
        out = np.empty(frame.shape, dtype=object)
        for j in range(frame.shape[1]):
            out[:, j] = [normalise_category(v) for v in frame.iloc[:, j].tolist()]
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        if input_features is not None:
            return np.asarray(input_features, dtype=object)
        if hasattr(self, "feature_names_in_"):
            return self.feature_names_in_
        return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
