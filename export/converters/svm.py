"""SVC, NuSVC, SVR and NuSVR: libsvm's prediction (scikit-learn's svm.cpp), step for step.

Kernels linear, poly, rbf and sigmoid, every gamma ('scale' and 'auto' resolve to the fitted
`_gamma`), between each row and the support vectors as libsvm's `k_function` computes them
(_kernels.libsvm_kernel; a model fitted on sparse features, whose libsvm skips the zeros,
adds the same terms). Then, with libsvm's coefficients (`_dual_coef_`, `_intercept_`):

- SVR, NuSVR: sum of coef * k(x, sv) + intercept.
- SVC, NuSVC: one decision value per pair of classes i < j (in libsvm's order), from the
  coefficients of the support vectors of i and of j; the label is libsvm's vote: the pair's
  decision > 0 votes for i, otherwise for j, and the first class with the most votes wins (also
  with probability=True: scikit-learn's predict is the vote, not the probabilities' argmax).
  break_ties=True (ovr, more than two classes) takes the argmax of the ovr decision function.
- decision_function (for ensembles and calibration): two classes, minus libsvm's value;
  'ovo', the pairs' values; 'ovr', scikit-learn's `_ovr_decision_function` (votes plus the
  summed confidences, x / (3 (|x| + 1))), summed in the pairs' order.
- probability=True: each pair's Platt sigmoid in libsvm's stable form (exp(-f) / (1 + exp(-f))
  for f = dec * probA + probB >= 0, else 1 / (1 + exp(f))), clamped to [1e-7, 1 - 1e-7], then
  libsvm's `multiclass_probability` (Wu, Lin and Weng's coupling; libsvm uses it for two classes
  too): an ONNX Loop of at most max(100, k) sweeps, each row stopping, as in libsvm, at the first
  sweep whose largest |Qp[t] - pQp| is below 0.005 / k; every sum in libsvm's order.

onnxruntime's float64 Exp and Tanh are within 2 ulps of libm's and MatMul adds the support
vectors' terms in another order: decision values differ by a few ulps, probabilities by a few
ulps more (the coupling stops where libsvm stops unless a row's error sits within ulps of eps).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import helper
from sklearn.svm import SVC, SVR, NuSVC, NuSVR

from pipeport.export.converters._kernels import libsvm_kernel
from pipeport.export.converters._members import chain_sum, column
from pipeport.export.converters._outputs import argmax_labels
from pipeport.export.converters._special import scalar
from pipeport.export.graph import BOOL, DOUBLE, INT64, Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register

_KERNELS = ("linear", "poly", "rbf", "sigmoid")
_MIN_PROB = 1e-7


def _dense(values: Any) -> np.ndarray:
    return np.asarray(values.toarray() if hasattr(values, "toarray") else values, np.float64)


def _kernel(model: Any, cols: list[Col], g: Graph, where: str) -> str:
    X = g.matrix(cols, where, model)
    return libsvm_kernel(
        g,
        X,
        _dense(model.support_vectors_),
        model.kernel,
        float(model._gamma),
        float(model.coef0),
        int(model.degree),
    )


def _pairs(n_classes: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]


def _pair_coefficients(model: Any) -> np.ndarray:
    """[n_SV, n_pairs]: pair (i, j) weighs class i's support vectors by sv_coef[j - 1] and class
    j's by sv_coef[i] (libsvm's svm_predict_values), every other support vector by 0."""
    dual = _dense(model._dual_coef_)
    n_support = np.asarray(model._n_support, np.int64)
    start = np.concatenate([[0], np.cumsum(n_support)[:-1]])
    pairs = _pairs(len(n_support))
    weights = np.zeros((dual.shape[1], len(pairs)))
    for p, (i, j) in enumerate(pairs):
        si, sj = start[i], start[j]
        weights[si : si + n_support[i], p] = dual[j - 1, si : si + n_support[i]]
        weights[sj : sj + n_support[j], p] = dual[i, sj : sj + n_support[j]]
    return weights


def convert_svr(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    K = _kernel(model, cols, g, where)
    coef = _dense(model._dual_coef_).reshape(-1, 1)
    total = g.op("MatMul", [K, g.const(coef, "sv_coef")], "sv_sum")
    intercept = np.asarray(model._intercept_, np.float64).reshape(1, 1)
    return {"prediction": g.op("Add", [total, g.const(intercept, "intercept")], "prediction")}


def _votes(g: Graph, dec: str, n_classes: int) -> str:
    """[N, K] float64: libsvm's votes, dec > 0 for i, otherwise for j."""
    pairs = _pairs(n_classes)
    to_i = np.zeros((len(pairs), n_classes))
    to_j = np.zeros((len(pairs), n_classes))
    for p, (i, j) in enumerate(pairs):
        to_i[p, i] = 1.0
        to_j[p, j] = 1.0
    positive = g.op("Cast", [g.op("Greater", [dec, scalar(g, 0.0)])], "for_i", to=DOUBLE)
    other = g.op("Sub", [scalar(g, 1.0), positive], "for_j")
    return str(
        g.op(
            "Add",
            [
                g.op("MatMul", [positive, g.const(to_i, "votes_i")]),
                g.op("MatMul", [other, g.const(to_j, "votes_j")]),
            ],
            "votes",
        )
    )


def _ovr_decision(g: Graph, dec: str, n_classes: int) -> str:
    """scikit-learn's _ovr_decision_function(dec < 0, -dec, n_classes)."""
    pairs = _pairs(n_classes)
    negative = g.op("Cast", [g.op("Less", [dec, scalar(g, 0.0)])], "ovr_j", to=DOUBLE)
    chosen_i = g.op("Sub", [scalar(g, 1.0), negative], "ovr_i")
    vote_cols: list[list[str]] = [[] for _ in range(n_classes)]
    confidence: list[str] = [scalar(g, 0.0)] * n_classes
    for p, (i, j) in enumerate(pairs):
        d = column(g, dec, p, "pair_dec")
        # sum_of_confidences[:, i] -= -dec; sum_of_confidences[:, j] += -dec
        confidence[i] = g.op("Add", [confidence[i], d], "confidence")
        confidence[j] = g.op("Sub", [confidence[j], d], "confidence")
        vote_cols[i].append(column(g, chosen_i, p, "ovr_vote"))
        vote_cols[j].append(column(g, negative, p, "ovr_vote"))
    out = []
    for k in range(n_classes):
        votes = chain_sum(g, vote_cols[k], "ovr_votes")
        c = confidence[k]
        scaled = g.op(
            "Div",
            [
                c,
                g.op(
                    "Mul",
                    [scalar(g, 3.0), g.op("Add", [g.op("Abs", [c]), scalar(g, 1.0)])],
                    "ovr_den",
                ),
            ],
            "ovr_conf",
        )
        out.append(g.op("Add", [votes, scaled], "ovr"))
    return str(g.op("Concat", out, "decision", axis=1))


def _sigmoid_predict(g: Graph, dec: str, a: np.ndarray, b: np.ndarray) -> str:
    """libsvm's sigmoid_predict for every pair, clamped to [1e-7, 1 - 1e-7]."""
    f = g.op(
        "Add",
        [g.op("Mul", [dec, g.const(a.reshape(1, -1), "prob_a")]), g.const(b.reshape(1, -1))],
        "fApB",
    )
    one = scalar(g, 1.0)
    e_neg = g.op("Exp", [g.op("Neg", [f])], "platt_e")
    upper = g.op("Div", [e_neg, g.op("Add", [one, e_neg])], "platt_pos")
    lower = g.op("Div", [one, g.op("Add", [one, g.op("Exp", [f], "platt_e")])], "platt_neg")
    p = g.op("Where", [g.op("GreaterOrEqual", [f, scalar(g, 0.0)]), upper, lower], "platt")
    p = g.op("Max", [p, scalar(g, _MIN_PROB)], "platt")
    return str(g.op("Min", [p, scalar(g, 1 - _MIN_PROB)], "pairwise_prob"))


def _coupling(g: Graph, dec: str, model: Any, n_classes: int) -> str:
    """libsvm's multiclass_probability(k, r, p) for every row: [N, k]."""
    k = n_classes
    r_pairs = _sigmoid_predict(
        g, dec, np.asarray(model._probA, np.float64), np.asarray(model._probB, np.float64)
    )
    r: dict[tuple[int, int], str] = {}
    for pair, (i, j) in enumerate(_pairs(k)):
        r[i, j] = column(g, r_pairs, pair, "r")
        r[j, i] = g.op("Sub", [scalar(g, 1.0), r[i, j]], "r")
    Q: dict[tuple[int, int], str] = {}
    for t in range(k):
        diagonal = [g.op("Mul", [r[j, t], r[j, t]], "q_tt") for j in range(k) if j != t]
        Q[t, t] = chain_sum(g, diagonal, "q_tt")
        for j in range(t + 1, k):
            Q[t, j] = g.op("Neg", [g.op("Mul", [r[j, t], r[t, j]])], "q_tj")
            Q[j, t] = Q[t, j]

    # the loop body: (iteration, condition, p [N, k], done [N, 1]) -> (condition, p, done)
    names = {key: g.name(key) for key in ("iter", "cond", "p_in", "done_in")}
    saved, g.nodes = g.nodes, []
    p = [column(g, names["p_in"], t, "p") for t in range(k)]
    Qp = [
        chain_sum(g, [g.op("Mul", [Q[t, j], p[j]], "qp") for j in range(k)], "qp") for t in range(k)
    ]
    pQp = chain_sum(g, [g.op("Mul", [p[t], Qp[t]], "pqp") for t in range(k)], "pqp")
    errors = [g.op("Abs", [g.op("Sub", [Qp[t], pQp])], "error") for t in range(k)]
    max_error = errors[0]
    for e in errors[1:]:
        max_error = g.op("Max", [max_error, e], "max_error")
    converged = g.op("Less", [max_error, scalar(g, 0.005 / k)], "converged")
    done = g.op("Or", [names["done_in"], converged], "done")
    one, two = scalar(g, 1.0), scalar(g, 2.0)
    for t in range(k):
        diff = g.op("Div", [g.op("Sub", [pQp, Qp[t]]), Q[t, t]], "diff")
        p[t] = g.op("Add", [p[t], diff], "p")
        one_plus = g.op("Add", [one, diff], "one_plus_diff")
        inner = g.op(
            "Add",
            [g.op("Mul", [diff, Q[t, t]]), g.op("Mul", [two, Qp[t]])],
            "pqp_inner",
        )
        pQp = g.op("Add", [pQp, g.op("Mul", [diff, inner])], "pqp")
        pQp = g.op("Div", [g.op("Div", [pQp, one_plus]), one_plus], "pqp")
        for j in range(k):
            Qp[j] = g.op(
                "Div", [g.op("Add", [Qp[j], g.op("Mul", [diff, Q[t, j]])]), one_plus], "qp"
            )
            p[j] = g.op("Div", [p[j], one_plus], "p")
    updated = g.op("Concat", p, "p_updated", axis=1)
    p_out = g.op("Where", [done, names["p_in"], updated], "p_out")
    all_done = g.op(
        "ReduceMin",
        [g.op("Cast", [done], "done_int", to=INT64)],
        "all_done",
        keepdims=0,
    )
    cond_out = g.op("Equal", [all_done, g.const(np.array(0, np.int64), "zero_int")], "cond_out")
    done_out = g.op("Identity", [done], "done_out")
    body_nodes, g.nodes = g.nodes, saved
    body = helper.make_graph(
        body_nodes,
        g.name("coupling_body"),
        [
            helper.make_tensor_value_info(names["iter"], INT64, []),
            helper.make_tensor_value_info(names["cond"], BOOL, []),
            helper.make_tensor_value_info(names["p_in"], DOUBLE, [None, k]),
            helper.make_tensor_value_info(names["done_in"], BOOL, [None, 1]),
        ],
        [
            helper.make_tensor_value_info(cond_out, BOOL, []),
            helper.make_tensor_value_info(p_out, DOUBLE, [None, k]),
            helper.make_tensor_value_info(done_out, BOOL, [None, 1]),
        ],
    )
    rows = g.op(
        "Slice",
        [
            g.op("Shape", [dec], "dec_shape"),
            g.const(np.array([0], np.int64), "start"),
            g.const(np.array([1], np.int64), "end"),
        ],
        "rows",
    )
    start_p = g.op(
        "Expand",
        [
            g.const(np.full((1, k), 1.0 / k), "p_start"),
            g.op("Concat", [rows, g.const(np.array([k], np.int64), "width")], "p_shape", axis=0),
        ],
        "p_start",
    )
    start_done = g.op(
        "Expand",
        [
            g.const(np.zeros((1, 1), bool), "not_done"),
            g.op("Concat", [rows, g.const(np.array([1], np.int64), "one")], "done_shape", axis=0),
        ],
        "done_start",
    )
    probabilities, _ = g.op(
        "Loop",
        [
            g.const(np.array(max(100, k), np.int64), "max_iter"),
            g.const(np.array(True), "true"),
            start_p,
            start_done,
        ],
        "coupling",
        outputs=2,
        body=body,
    )
    return str(probabilities)


def convert_svc(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    K = _kernel(model, cols, g, where)
    n_classes = len(model.classes_)
    weights = _pair_coefficients(model)
    sums = g.op("MatMul", [K, g.const(weights, "sv_coef")], "sv_sum")
    intercept = np.asarray(model._intercept_, np.float64).reshape(1, -1)
    dec = g.op("Add", [sums, g.const(intercept, "intercept")], "pair_decision")

    def decision() -> str:
        if n_classes == 2:
            return str(g.op("Neg", [dec], "decision"))
        if model.decision_function_shape == "ovr":
            return _ovr_decision(g, dec, n_classes)
        return str(dec)

    built = ModelOutputs(decision=decision)

    def label() -> str:
        if model.break_ties and model.decision_function_shape == "ovr" and n_classes > 2:
            return argmax_labels(g, model.classes_, built["decision"])
        return argmax_labels(g, model.classes_, _votes(g, dec, n_classes))

    outputs: dict[str, Any] = {"label": label, "decision": lambda: built["decision"]}
    if _has_probability(model):
        outputs["probabilities"] = lambda: _coupling(g, dec, model, n_classes)
    return ModelOutputs(**outputs)


def _has_probability(model: Any) -> bool:
    return bool(getattr(model, "_effective_probability", model.probability)) and (
        np.asarray(model._probA).size > 0
    )


def _check(model: Any) -> str | None:
    if callable(model.kernel) or model.kernel not in _KERNELS:
        kernel = "a callable" if callable(model.kernel) else repr(model.kernel)
        return (
            f"its kernel is {kernel}; pipeport exports the kernels 'linear', 'poly', 'rbf' and "
            "'sigmoid' (compute a precomputed kernel inside the pipeline with one of those)"
        )
    if (
        isinstance(model, (SVC, NuSVC))
        and model.break_ties
        and model.decision_function_shape == "ovo"
    ):
        return "break_ties=True needs decision_function_shape='ovr' (scikit-learn refuses it too)"
    return None


register(
    Converter(
        classes=(SVC, NuSVC),
        role="classifier",
        convert=convert_svc,
        check=_check,
        family="support vector machines",
        accepts="kernels 'linear', 'poly', 'rbf', 'sigmoid'; gamma 'scale', 'auto' or a number; "
        "any C, nu, degree, coef0, class_weight; decision_function_shape 'ovr' or 'ovo', "
        "break_ties; probability=True (binary and multiclass: libsvm's coupling); string or "
        "integer labels",
        exactness="libsvm's k_function and pairwise decision values in its order, its one-vs-one "
        "vote (first class wins a tie), its Platt sigmoid and pairwise coupling as an ONNX Loop",
    )
)
register(
    Converter(
        classes=(SVR, NuSVR),
        role="regressor",
        convert=convert_svr,
        check=_check,
        family="support vector machines",
        accepts="kernels 'linear', 'poly', 'rbf', 'sigmoid'; gamma 'scale', 'auto' or a number; "
        "any C, epsilon, nu, degree, coef0",
        exactness="libsvm's k_function in its order, then the support vectors' weighted sum",
    )
)
