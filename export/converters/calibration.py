"""CalibratedClassifierCV (method "sigmoid" and "isotonic", ensemble True and False), as
scikit-learn's `_CalibratedClassifier.predict_proba` computes it.

Per calibrated classifier (one with ensemble=False, one per fold with ensemble=True):

1. The estimator's response, `_get_response_values(..., ["decision_function",
   "predict_proba"])`: its decision function where it has one, else its probabilities; with two
   classes a single column (the decision, or the probability of classes_[1]).
2. Each column through its calibrator, into the column of its class (the estimator's classes,
   positioned in the ensemble's; a class the estimator never saw stays 0):
   - sigmoid: `expit(-(a_ * T + b_))`;
   - isotonic: `np.clip(T, X_min_, X_max_)`, then `np.interp(T, X_thresholds_, y_thresholds_)`
     (scipy's interp1d delegates to np.interp for float64), built by the QuantileTransformer
     converter's numpy-exact interp.
3. Two classes: p0 = 1.0 - p1. More: divided by the row's sum (numpy's pairwise order), or
   1 / K where that sum is 0.
4. Values in (1, 1 + 1e-5] become 1.0.

The calibrated classifiers' probabilities are added one after the other and divided by their
number; the label is classes_[argmax], the first maximum (an isotonic plateau ties often).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.preprocessing import LabelEncoder

from pipeport.export.converters import _special
from pipeport.export.converters._members import (
    chain_sum,
    column,
    convert_member,
    member_output,
    numpy_row_sum,
)
from pipeport.export.converters._outputs import argmax_labels
from pipeport.export.converters.quantile import interp
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register


def _response(est: Any, outputs: ModelOutputs, g: Graph, path: str, n_classes: int) -> str:
    """`_get_response_values(est, X, ["decision_function", "predict_proba"])`, [N, 1] or [N, k]."""
    why = "calibration"
    if hasattr(est, "decision_function"):
        return member_output(outputs, "decision", est, path, why)
    proba = member_output(outputs, "probabilities", est, path, why)
    if n_classes == 2:  # the positive class, classes_[-1]
        return column(g, proba, 1, "positive_proba")
    return proba


def _calibrate(g: Graph, calibrator: Any, T: str) -> str:
    """calibrator.predict on an [N, 1] column."""
    if isinstance(calibrator, _SigmoidCalibration):
        a = g.const(np.array(float(calibrator.a_)), "sigmoid_a")
        b = g.const(np.array(float(calibrator.b_)), "sigmoid_b")
        z = g.op("Add", [g.op("Mul", [a, T], "a_t"), b], "a_t_b")
        return _special.expit(g, g.op("Neg", [z], "minus"))
    low = g.const(np.array(float(calibrator.X_min_)), "x_min")
    high = g.const(np.array(float(calibrator.X_max_)), "x_max")
    clipped = g.op("Clip", [T, low, high], "clipped")
    xp = np.asarray(calibrator.X_thresholds_, np.float64).reshape(1, -1)
    fp = np.asarray(calibrator.y_thresholds_, np.float64).reshape(1, -1)
    return interp(g, clipped, xp, fp, "isotonic")


def _calibrated_proba(
    cc: Any, outputs: ModelOutputs, g: Graph, path: str, classes: np.ndarray
) -> str:
    """One `_CalibratedClassifier.predict_proba`: [N, K]."""
    n_classes = len(classes)
    est = cc.estimator
    predictions = _response(est, outputs, g, path, n_classes)
    positions = LabelEncoder().fit(classes).transform(est.classes_)
    columns: dict[int, str] = {}
    for j, (class_idx, calibrator) in enumerate(zip(positions, cc.calibrators, strict=False)):
        if n_classes == 2:
            class_idx += 1  # binary: the single column is classes_[1]'s
        columns[int(class_idx)] = _calibrate(g, calibrator, column(g, predictions, j, "response"))
    if n_classes == 2:
        p1 = columns[1]
        p0 = g.op("Sub", [g.const(np.array(1.0), "one"), p1], "p0")
        proba = g.op("Concat", [p0, p1], "calibrated", axis=1)
    else:
        zero = None
        parts = []
        for k in range(n_classes):
            if k in columns:
                parts.append(columns[k])
            else:
                if zero is None:
                    any_column = columns[next(iter(columns))]
                    zero = g.op("Mul", [any_column, g.const(np.array(0.0), "zero")], "absent")
                parts.append(zero)
        raw = g.op("Concat", parts, "calibrated", axis=1)
        denominator = numpy_row_sum(g, raw, n_classes)
        is_zero = g.op("Equal", [denominator, g.const(np.array(0.0), "zero")], "no_mass")
        divided = g.op("Div", [raw, denominator], "normalised")
        uniform = g.const(np.array(1 / n_classes), "uniform")
        proba = g.op("Where", [is_zero, uniform, divided], "normalised")
    one = g.const(np.array(1.0), "one")
    over = g.op(
        "And",
        [
            g.op("Greater", [proba, one], "above_one"),
            g.op("LessOrEqual", [proba, g.const(np.array(1.0 + 1e-5), "one_plus")], "near_one"),
        ],
        "just_above_one",
    )
    return g.op("Where", [over, one, proba], "calibrated_proba")


def convert_calibrated_classifier(
    model: Any, cols: list[Col], g: Graph, where: str
) -> ModelOutputs:
    from pipeport.export.structure import join

    classes = np.asarray(model.classes_)
    members = []
    for i, cc in enumerate(model.calibrated_classifiers_):
        single = len(model.calibrated_classifiers_) == 1
        path = join(where, "estimator" if single else f"calibrated_classifiers_[{i}]")
        members.append((cc, path, convert_member(cc.estimator, cols, g, path)))

    def probabilities() -> str:
        probas = [_calibrated_proba(cc, out, g, path, classes) for cc, path, out in members]
        total = chain_sum(g, probas, "calibrated_sum")
        if len(probas) == 1:
            return total
        n = g.const(np.array(float(len(probas))), "n_calibrated")
        return g.op("Div", [total, n], "calibrated_mean")

    built = ModelOutputs(probabilities=probabilities)
    return ModelOutputs(
        label=lambda: argmax_labels(g, model.classes_, built["probabilities"]),
        probabilities=lambda: built["probabilities"],
    )


def convert_frozen(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    """FrozenEstimator (how scikit-learn calibrates a prefit model): the model it wraps."""
    from pipeport.export.structure import join

    return convert_member(model.estimator, cols, g, join(where, "estimator"))


def _check(model: Any) -> str | None:
    if model.method not in ("sigmoid", "isotonic"):
        return (
            f"method={model.method!r} is not one pipeport exports; use method='sigmoid' or "
            "'isotonic'"
        )
    classes = np.asarray(model.classes_)
    for cc in model.calibrated_classifiers_:
        for calibrator in cc.calibrators:
            if not isinstance(calibrator, (_SigmoidCalibration, IsotonicRegression)):
                return f"its calibrator {type(calibrator).__name__} is not one pipeport knows"
        seen = np.asarray(cc.estimator.classes_)
        if len(classes) == 2 and len(seen) != 2:
            return "one of its estimators was fitted on one class only"
        if not np.isin(seen, classes).all():
            return "one of its estimators knows classes the calibrated classifier does not"
    return None


register(
    Converter(
        classes=(CalibratedClassifierCV,),
        role="classifier",
        convert=convert_calibrated_classifier,
        check=_check,
        family="ensembles",
        accepts="method 'sigmoid' and 'isotonic', ensemble True and False (or 'auto'), any cv, "
        "two classes or more, any exportable classifier or Pipeline as the estimator (its "
        "decision_function where it has one, else predict_proba, as scikit-learn picks)",
        exactness="the estimator's graph, expit(-(a T + b)) or np.clip + np.interp operation "
        "for operation, p0 = 1 - p1 or numpy's row sum and its zero rule, the (1, 1 + 1e-5] "
        "clip, the calibrated classifiers' mean; first maximum",
    )
)
register(
    Converter(
        classes=(FrozenEstimator,),
        role="classifier",
        convert=convert_frozen,
        family="ensembles",
        accepts="a fitted classifier or regressor (or Pipeline) that pipeport exports, e.g. "
        "CalibratedClassifierCV(FrozenEstimator(model)) for a prefit model",
        exactness="the wrapped model's graph",
    )
)
