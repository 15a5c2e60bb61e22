"""AdaBoostClassifier (SAMME) and AdaBoostRegressor, as scikit-learn 1.9 predicts.

AdaBoostClassifier.decision_function (its members are fitted on the original labels):

    pred = sum(np.where(member.predict(X) == classes_, w, -1 / (K - 1) * w) for each member)
    pred /= estimator_weights_.sum()
    two classes: pred[:, 0] *= -1; pred.sum(axis=1)  -> p1 - p0, [N, 1]

in member order; label = classes_[decision > 0] for two classes, classes_[argmax] (the first
maximum) otherwise; predict_proba = softmax([-d, d] / 2) for two classes, softmax(d / (K - 1))
otherwise. The constants w and -1 / (K - 1) * w are computed as Python computes them, and the
divisor is numpy's own `estimator_weights_.sum()`.

AdaBoostRegressor predicts the weighted median of its members' predictions
(`_get_median_predict`): it sorts each row's predictions, accumulates the members' weights in
that order (`np.cumsum`) and returns the first prediction whose cumulative weight reaches half
of the row's total. The graph sorts without a sort: a member's rank is how many predictions are
smaller, plus how many equal ones come before it (a stable order), its weight goes to that
position (Gather), CumSum accumulates them in that order as numpy does, and ArgMax finds the
first position at or above half. Tied predictions have equal values, so the order of tied
members cannot change the value returned (the cumulative weight at the end of a run of ties adds
the same weights whatever the order); it can change only the last bit of that sum, which would
matter only if it landed within an ulp of half the total. numpy's argsort does not order ties
stably (on this machine not even for four values: its SIMD sort), so scikit-learn's own tie order
depends on the CPU; the graph uses the stable order. Exact, then, wherever ties cannot move a
bit: no tied predictions, tied members of equal weight, or weights whose partial sums are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.ensemble import AdaBoostClassifier, AdaBoostRegressor

from pipeport.export.converters._members import (
    chain_sum,
    column,
    convert_member,
    final_classes,
    member_output,
)
from pipeport.export.converters._outputs import (
    argmax_labels,
    class_values,
    classes_are_integers,
    threshold_labels,
)
from pipeport.export.graph import DOUBLE, INT64, Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register


def _members(model: Any, cols: list[Col], g: Graph, where: str) -> list[tuple[Any, str, Any]]:
    from pipeport.export.structure import join

    out = []
    for i, est in enumerate(model.estimators_):
        path = join(where, f"estimators_[{i}]")
        out.append((est, path, convert_member(est, cols, g, path)))
    return out


def _axis(g: Graph, k: int) -> str:
    return g.const(np.array([k], np.int64), f"axis{k}")


def convert_adaboost_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    members = _members(model, cols, g, where)
    n_classes = int(model.n_classes_)
    integers = classes_are_integers(model.classes_)
    table = np.asarray(
        class_values(model.classes_), dtype=np.int64 if integers else object
    ).reshape(1, -1)

    def decision() -> str:
        terms = []
        for (est, path, out), w in zip(members, model.estimator_weights_, strict=False):
            label = member_output(out, "label", est, path, "the boosted vote")
            predicted = g.op("Unsqueeze", [label, _axis(g, 1)], "member_label")
            agrees = g.op("Equal", [predicted, g.const(table, "classes")], "agrees")
            other = -1 / (n_classes - 1) * w  # as scikit-learn writes it
            weight = g.const(np.array(float(w)), "w")
            terms.append(
                g.op("Where", [agrees, weight, g.const(np.array(float(other)), "w")], "boost_term")
            )
        pred = chain_sum(g, terms, "boost_sum")
        total = float(model.estimator_weights_.sum())
        pred = g.op("Div", [pred, g.const(np.array(total), "weights_sum")], "boost_pred")
        if n_classes == 2:  # (-p0) + p1
            return g.op("Sub", [column(g, pred, 1), column(g, pred, 0)], "decision")
        return pred

    built = ModelOutputs(decision=decision)

    def probabilities() -> str:
        d = built["decision"]
        if n_classes == 2:
            half = g.op("Div", [d, g.const(np.array(2.0), "two")], "half")
            scores = g.op("Concat", [g.op("Neg", [half], "minus_half"), half], "scores", axis=1)
        else:
            scores = g.op("Div", [d, g.const(np.array(float(n_classes - 1)), "k_minus_1")])
        return g.op("Softmax", [scores], "probabilities", axis=1)

    def label() -> str:
        if n_classes == 2:
            return threshold_labels(g, model.classes_, built["decision"], 0.0)
        return argmax_labels(g, model.classes_, built["decision"])

    outputs: dict[str, str | Callable[[], str]] = {
        "label": label,
        "probabilities": probabilities,
        "decision": lambda: built["decision"],
    }
    return ModelOutputs(**outputs)


def convert_adaboost_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    members = _members(model, cols, g, where)

    def prediction() -> str:
        predictions = [
            member_output(out, "prediction", est, path, "the weighted median")
            for est, path, out in members
        ]
        return weighted_median(g, predictions, np.asarray(model.estimator_weights_[: len(members)]))

    return ModelOutputs(prediction=prediction)


def weighted_median(g: Graph, predictions: list[str], weights: np.ndarray) -> str:
    """[N, 1]: `_get_median_predict` on the members' [N, 1] predictions (module docstring)."""
    n = len(predictions)
    P = predictions[0] if n == 1 else g.op("Concat", predictions, "member_predictions", axis=1)
    row = g.op("Unsqueeze", [P, _axis(g, 1)], "p_k")  # [N, 1, E]: P[k] along the last axis
    col = g.op("Unsqueeze", [P, _axis(g, 2)], "p_j")  # [N, E, 1]: P[j] along the middle axis
    before = np.tril(np.ones((n, n), dtype=bool), k=-1).reshape(1, n, n)  # k < j
    ahead = g.op(
        "Or",
        [
            g.op("Less", [row, col], "smaller"),
            g.op("And", [g.op("Equal", [row, col], "tied"), g.const(before, "earlier")]),
        ],
        "ahead",
    )
    rank = g.op(  # [N, E]: the position of member j in the sorted row
        "ReduceSum", [g.op("Cast", [ahead], "ahead", to=INT64), _axis(g, 2)], "rank", keepdims=0
    )
    at = g.op(  # [N, E(j), E(r)]: member j is at position r
        "Equal",
        [
            g.op("Unsqueeze", [rank, _axis(g, 2)], "rank"),
            g.const(np.arange(n, dtype=np.int64).reshape(1, 1, n), "positions"),
        ],
        "at",
    )
    order = g.op(  # [N, E]: argsort, the member at each position
        "ArgMax", [g.op("Cast", [at], "at", to=DOUBLE)], "argsort", axis=1, keepdims=0
    )
    sorted_weights = g.op(
        "Gather", [g.const(np.asarray(weights, np.float64), "member_weights"), order], "sorted_w"
    )
    cdf = g.op("CumSum", [sorted_weights, g.const(np.array(1, np.int64), "axis")], "weight_cdf")
    half = g.op(
        "Mul", [g.const(np.array(0.5), "half"), column(g, cdf, n - 1, "weight_total")], "half"
    )
    reached = g.op("Cast", [g.op("GreaterOrEqual", [cdf, half], "reached")], "reached", to=DOUBLE)
    position = g.op("ArgMax", [reached], "median_position", axis=1, keepdims=1)
    member = g.op("GatherElements", [order, position], "median_member", axis=1)
    return g.op("GatherElements", [P, member], "weighted_median", axis=1)


def _check_classifier(model: Any) -> str | None:
    if int(model.n_classes_) < 2:
        return "it was fitted on one class"
    if getattr(model, "algorithm", "SAMME") not in ("SAMME", "deprecated"):
        return f"algorithm={model.algorithm!r} is not SAMME"
    integers = classes_are_integers(model.classes_)
    for est in model.estimators_:
        if classes_are_integers(final_classes(est)) != integers:
            return "a member's class labels are not of the ensemble's type (integers vs text)"
    return None


def _check_regressor(model: Any) -> str | None:
    if not len(model.estimators_):
        return "it has no estimators"
    return None


register(
    Converter(
        classes=(AdaBoostClassifier,),
        role="classifier",
        convert=convert_adaboost_classifier,
        check=_check_classifier,
        family="ensembles",
        accepts="SAMME (scikit-learn 1.9's only algorithm), any exportable classifier or Pipeline "
        "as the estimator, learning_rate, two classes or more, integer or text labels",
        exactness="the members' labels compared with classes_, weighted as scikit-learn's "
        "np.where in member order, / numpy's sum of the weights; the label from the decision "
        "(> 0, or the first maximum), probabilities by softmax as scikit-learn",
    )
)
register(
    Converter(
        classes=(AdaBoostRegressor,),
        role="regressor",
        convert=convert_adaboost_regressor,
        check=_check_regressor,
        family="ensembles",
        accepts="any exportable regressor or Pipeline as the estimator, every loss "
        "(linear, square, exponential: fit only), learning_rate",
        exactness="the weighted median without a sort: ranks by comparison (ties in member "
        "order), weights gathered into that order, CumSum as np.cumsum, first position at or "
        "above half the total; tied predictions of unequal weights could move the last bit of a "
        "cumulative weight (numpy's own tie order is its SIMD sort's)",
    )
)
