"""XGBoost's classifier for any class labels, as pipeport's `xgboost` estimator trains it.

Since 2.0, XGBClassifier takes only the labels 0..K-1 (it raises on "Adelie" or on {3, 7, 11}),
while every scikit-learn classifier, and LightGBM's, takes any labels and returns them from
predict. pipeport's training data has labels of every kind, so its `xgboost` classifier encodes
them first, as scikit-learn's classifiers do (sorted, `classes_`), and maps predict's index back.
The model itself is XGBClassifier's: pipeport's exporter converts it as such, with these labels.

Imported only when a config asks for the `xgboost` estimator (it needs the boosting extra).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.preprocessing import LabelEncoder
from xgboost import XGBClassifier


class LabelledXGBClassifier(XGBClassifier):
    """XGBClassifier whose fit takes any class labels and whose predict returns them."""

    def fit(self, X: Any, y: Any, **kwargs: Any) -> LabelledXGBClassifier:
        encoder = LabelEncoder().fit(np.asarray(y))
        # XGBClassifier.fit checks the encoded labels against classes_ (0..K-1): the labels
        # become classes_ once it has fitted
        self.__dict__.pop("labels_", None)
        super().fit(X, encoder.transform(np.asarray(y)), **kwargs)
        self.labels_ = encoder.classes_
        return self

    @property
    def classes_(self) -> np.ndarray:
        labels: np.ndarray | None = self.__dict__.get("labels_")
        if labels is None:
            indices: np.ndarray = XGBClassifier.classes_.fget(self)  # type: ignore[attr-defined]
            return indices
        return labels

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        """classes_[XGBClassifier.predict(X)]: its index (p > 0.5, or the first maximum)."""
        index = np.asarray(super().predict(X, **kwargs), dtype=np.int64)
        return np.asarray(self.classes_[index])
