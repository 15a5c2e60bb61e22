"""Linear classifiers scored as scikit-learn's LinearClassifierMixin, and LinearSVR/SGDRegressor.

LinearSVC, RidgeClassifier(CV), Perceptron, PassiveAggressiveClassifier and SGDClassifier all
predict through `LinearClassifierMixin`: decision = X @ coef_.T + intercept_ in float64; with one
row of coefficients (two classes) label = classes_[decision > 0] (a decision of exactly 0 goes to
classes_[0]), otherwise classes_[argmax(decision)] (the first maximum wins a tie, as numpy).

Only SGDClassifier with loss 'log_loss' or 'modified_huber' has predict_proba; the others are
label-only classifiers (their graph exposes the label and, for ensembles, the decision):

- 'log_loss' (`_predict_proba_lr`): p = expit(decision), scipy's 1 / (1 + exp(-x)); two
  classes [1 - p, p]; more, one-vs-rest normalised: p / p.sum(axis=1) (numpy's summation
  order), a row whose p are all 0 becoming uniform, as scikit-learn does;
- 'modified_huber': p = (clip(decision, -1, 1) + 1) / 2; two classes [1 - p, p]; more,
  p / p.sum(axis=1), a row of zeros becoming uniform.

LinearSVR and SGDRegressor predict X @ coef_ + intercept_. MatMul in float64 may add in another
order than numpy's BLAS: a few ulps, far inside the gate's tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import linear_model as lm
from sklearn.svm import LinearSVC, LinearSVR

from pipeport.export.converters import _special
from pipeport.export.converters._members import numpy_row_sum
from pipeport.export.converters._outputs import (
    argmax_labels,
    binary_probabilities,
    threshold_labels,
)
from pipeport.export.converters.linear import _decision
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register

_PROBA_LOSSES = ("log_loss", "modified_huber")


def _rows(model: Any) -> int:
    """Rows of coefficients (RidgeClassifier keeps a binary model's as one vector)."""
    coef = np.asarray(model.coef_)
    return 1 if coef.ndim == 1 else int(coef.shape[0])


def _has_proba(model: Any) -> bool:
    return isinstance(model, lm.SGDClassifier) and model.loss in _PROBA_LOSSES


def _ovr_normalised(g: Graph, p: str, n_classes: int) -> str:
    """p / p.sum(axis=1), a row summing to exactly 0 set to 1 / n_classes (scikit-learn sets
    its p to 1 and its sum to n_classes)."""
    total = numpy_row_sum(g, p, n_classes)
    zero = g.op("Equal", [total, _special.scalar(g, 0.0)], "all_zero")
    p = g.op("Where", [zero, _special.scalar(g, 1.0), p], "proba")
    total = g.op("Where", [zero, _special.scalar(g, float(n_classes)), total], "proba_sum")
    return str(g.op("Div", [p, total], "probabilities"))


def _probabilities(model: Any, g: Graph, decision: str) -> str:
    n_classes = len(model.classes_)
    if model.loss == "log_loss":
        p = _special.expit(g, decision)
    else:  # modified_huber: (clip(decision, -1, 1) + 1) / 2
        clipped = g.op(
            "Clip",
            [decision, _special.scalar(g, -1.0), _special.scalar(g, 1.0)],
            "clipped",
        )
        p = g.op(
            "Div",
            [g.op("Add", [clipped, _special.scalar(g, 1.0)]), _special.scalar(g, 2.0)],
            "huber_p",
        )
    if n_classes == 2:
        return binary_probabilities(g, p)
    return _ovr_normalised(g, p, n_classes)


def convert_linear_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    decision = _decision(model, cols, g, where)
    if _rows(model) == 1:
        label = lambda: threshold_labels(g, model.classes_, decision, 0.0)  # noqa: E731
    else:
        label = lambda: argmax_labels(g, model.classes_, decision)  # noqa: E731
    if _has_proba(model):
        return ModelOutputs(
            label=label,
            probabilities=lambda: _probabilities(model, g, decision),
            decision=decision,
        )
    return ModelOutputs(label=label, decision=decision)


def convert_linear_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    return {"prediction": _decision(model, cols, g, where)}


def _check_classifier(model: Any) -> str | None:
    binarizer = getattr(model, "_label_binarizer", None)
    if binarizer is not None and str(getattr(binarizer, "y_type_", "")).startswith("multilabel"):
        return "it is a multilabel classifier; pipeport exports one label per row"
    rows = _rows(model)
    n_classes = len(model.classes_)
    if rows != (1 if n_classes == 2 else n_classes):
        return f"it has {rows} rows of coefficients for {n_classes} classes"
    return None


def _check_regressor(model: Any) -> str | None:
    if np.asarray(model.coef_).ndim > 1 and np.asarray(model.coef_).shape[0] > 1:
        return "it predicts several targets; pipeport exports one prediction per row"
    return None


LINEAR_CLASSIFIERS = (
    LinearSVC,
    lm.RidgeClassifier,
    lm.RidgeClassifierCV,
    lm.Perceptron,
    lm.PassiveAggressiveClassifier,
    lm.SGDClassifier,
)

register(
    Converter(
        classes=LINEAR_CLASSIFIERS,
        role="classifier",
        convert=convert_linear_classifier,
        check=_check_classifier,
        family="linear models",
        accepts="binary and multiclass (one-vs-rest or crammer_singer), every loss, penalty and "
        "fitting parameter; the label alone (and the decision function, for ensembles), "
        "except SGDClassifier(loss='log_loss' or 'modified_huber'), which has predict_proba",
        exactness="float64 MatMul + intercept; label = decision > 0 or the first argmax, as "
        "LinearClassifierMixin; SGD probabilities with scipy's expit or the clipped "
        "modified-Huber formula, normalised in numpy's summation order",
    )
)
register(
    Converter(
        classes=(LinearSVR, lm.SGDRegressor),
        role="regressor",
        convert=convert_linear_regressor,
        check=_check_regressor,
        family="linear models",
        accepts="every loss, penalty and fitting parameter",
        exactness="float64 MatMul + intercept",
    )
)
