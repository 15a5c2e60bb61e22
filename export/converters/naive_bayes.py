"""GaussianNB, MultinomialNB, ComplementNB and BernoulliNB: scikit-learn's joint log likelihood,
then its predict_proba, in float64 and in its order of operations.

The joint log likelihood (jll), per class:

- GaussianNB: log(class_prior_) + (-0.5 sum(log(2 pi var_)) - 0.5 sum((X - theta_)**2 / var_)),
  the row sums in numpy's pairwise order; the per-class constants computed by numpy at export,
  as scikit-learn computes them;
- MultinomialNB: X @ feature_log_prob_.T + class_log_prior_; ComplementNB: X @
  feature_log_prob_.T (its prior only with one class);
- BernoulliNB: X binarized (X > binarize, unless binarize is None), then X @ (flp - neg).T +
  (class_log_prior_ + neg.sum(axis=1)), neg = log(1 - exp(flp)) computed by numpy at export.

label = classes_[argmax(jll)] (the first maximum). predict_proba = exp(jll - logsumexp(jll)),
with scikit-learn's own `_logsumexp`: the row's maxima set aside and counted (m), s = sum of
exp(jll - max) over the rest (numpy's order), s / m, then log1p(s) + log(m) + max. log1p is
Kahan's form (_special.log1p, a few ulps); Exp and Log are within 2 ulps of libm's, so a
probability is within a few ulps of scikit-learn's relative to the row's jll.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.naive_bayes import BernoulliNB, ComplementNB, GaussianNB, MultinomialNB

from pipeport.export.converters import _special
from pipeport.export.converters._members import _pairwise, numpy_row_sum
from pipeport.export.converters._outputs import argmax_labels
from pipeport.export.graph import DOUBLE, Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register


def _gaussian_jll(model: Any, X: str, g: Graph) -> str:
    theta = np.asarray(model.theta_, np.float64)
    var = np.asarray(model.var_, np.float64)
    n_classes, n_features = theta.shape
    const = np.array(
        [-0.5 * np.sum(np.log(2.0 * np.pi * var[i, :])) for i in range(n_classes)], np.float64
    )
    # [N, 1, d] - [1, K, d] -> [N, K, d]
    x3 = g.op("Unsqueeze", [X, g.const(np.array([1], np.int64), "axis1")], "x3")
    diff = g.op("Sub", [x3, g.const(theta[np.newaxis], "theta")], "nb_diff")
    scaled = g.op(
        "Div", [g.op("Mul", [diff, diff], "nb_square"), g.const(var[np.newaxis], "var")], "nb_z"
    )
    columns = [
        g.op(
            "Slice",
            [
                scaled,
                g.const(np.array([j], np.int64), "start"),
                g.const(np.array([j + 1], np.int64), "end"),
                g.const(np.array([2], np.int64), "axis2"),
            ],
            "nb_term",
        )
        for j in range(n_features)
    ]
    total = _pairwise(g, columns)  # [N, K, 1], numpy's sum(axis=1) of each class's [N, d]
    total = g.op("Squeeze", [total, g.const(np.array([2], np.int64), "axis2")], "nb_sum")
    n_ij = g.op(
        "Sub",
        [g.const(const.reshape(1, -1), "nb_const"), g.op("Mul", [_special.scalar(g, 0.5), total])],
        "nb_nij",
    )
    log_prior = np.log(np.asarray(model.class_prior_, np.float64)).reshape(1, -1)
    return str(g.op("Add", [g.const(log_prior, "log_prior"), n_ij], "jll"))


def _linear_jll(model: Any, X: str, g: Graph) -> str:
    flp = np.asarray(model.feature_log_prob_, np.float64)
    prior = np.asarray(model.class_log_prior_, np.float64)
    if isinstance(model, BernoulliNB):
        if model.binarize is not None:
            above = g.op("Greater", [X, _special.scalar(g, float(model.binarize))], "binarized")
            X = g.op("Cast", [above], "binarized", to=DOUBLE)
        neg = np.log(1 - np.exp(flp))
        weights, offset = (flp - neg).T, prior + neg.sum(axis=1)
    elif isinstance(model, ComplementNB):
        weights, offset = flp.T, (prior if len(model.classes_) == 1 else None)
    else:
        weights, offset = flp.T, prior
    jll = g.op("MatMul", [X, g.const(np.ascontiguousarray(weights), "log_prob")], "jll")
    if offset is not None:
        jll = g.op("Add", [jll, g.const(offset.reshape(1, -1), "log_prior")], "jll")
    return str(jll)


def logsumexp_proba(g: Graph, jll: str, n_classes: int) -> str:
    """exp(jll - _logsumexp(jll, axis=1)), scikit-learn's `_logsumexp` step for step."""
    axis1 = g.const(np.array([1], np.int64), "axis1")
    top = g.op("ReduceMax", [jll, axis1], "jll_max", keepdims=1)
    is_top = g.op("Equal", [jll, top], "is_max")
    m = numpy_row_sum(g, g.op("Cast", [is_top], "is_max", to=DOUBLE), n_classes)
    rest = g.op("Where", [is_top, _special.scalar(g, -np.inf), jll], "jll_rest")
    finite = g.op(
        "Not", [g.op("Or", [g.op("IsInf", [top]), g.op("IsNaN", [top])], "nonfinite")], "finite"
    )
    shift = g.op("Where", [finite, top, _special.scalar(g, 0.0)], "shift")
    s = numpy_row_sum(g, g.op("Exp", [g.op("Sub", [rest, shift])], "lse_exp"), n_classes)
    s = g.op(
        "Where",
        [g.op("Equal", [s, _special.scalar(g, 0.0)]), s, g.op("Div", [s, m])],
        "lse_s",
    )
    out = g.op("Add", [_special.log1p(g, s), g.op("Log", [m], "log_m")], "lse")
    out = g.op("Add", [out, top], "logsumexp")
    return str(g.op("Exp", [g.op("Sub", [jll, out], "log_proba")], "probabilities"))


def convert_naive_bayes(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    X = g.matrix(cols, where, model)
    jll = _gaussian_jll(model, X, g) if isinstance(model, GaussianNB) else _linear_jll(model, X, g)
    n_classes = len(model.classes_)
    return ModelOutputs(
        label=lambda: argmax_labels(g, model.classes_, jll),
        probabilities=lambda: logsumexp_proba(g, jll, n_classes),
    )


register(
    Converter(
        classes=(GaussianNB, MultinomialNB, ComplementNB, BernoulliNB),
        role="classifier",
        convert=convert_naive_bayes,
        family="naive Bayes",
        accepts="every parameter (priors, var_smoothing, alpha, fit_prior, ComplementNB's norm, "
        "BernoulliNB's binarize threshold or None); binary and multiclass",
        exactness="the joint log likelihood in scikit-learn's order (row sums in numpy's "
        "pairwise order, per-class constants computed by numpy), then its _logsumexp: a few ulps",
    )
)
