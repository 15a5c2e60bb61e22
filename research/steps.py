"""Pipeline steps of our own, each with an ONNX converter in export/converters/.

They exist so that the saved scikit-learn pipeline takes the raw DataFrame exactly as
`pandas.read_csv` returns it, and so that the ONNX graph sees exactly what scikit-learn sees.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipeport.contract import MISSING_CATEGORY, normalise_category

# The rules live in the raw-row contract: MissingCategory makes in scikit-learn exactly what every
# runtime feeds the graph for a categorical column.
__all__ = ["MISSING_CATEGORY", "MissingCategory", "normalise_category"]


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
