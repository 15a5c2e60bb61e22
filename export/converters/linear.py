"""Linear models in float64: X @ coef_ + intercept_, then scikit-learn's link.

LogisticRegression: two classes, p1 = expit(decision) and [1 - p1, p1], label = decision > 0;
more classes, softmax(decision), label = argmax(decision). Linear regressors: X @ coef_ +
intercept_. MatMul in float64 may sum in another order than numpy's BLAS: differences of a few
ulps, far inside the gate's tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import linear_model as lm

from pipeport.export.converters import _special
from pipeport.export.converters._outputs import (
    argmax_labels,
    binary_probabilities,
    threshold_labels,
)
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register


def _decision(model: Any, cols: list[Col], g: Graph, where: str) -> str:
    X = g.matrix(cols, where, model)
    coef = np.asarray(model.coef_, np.float64)
    coef_t = coef.reshape(-1, 1) if coef.ndim == 1 else coef.T
    scores = g.op("MatMul", [X, g.const(coef_t, "coef")], "dot")
    intercept = np.asarray(model.intercept_, np.float64).reshape(1, -1)
    return g.op("Add", [scores, g.const(intercept, "intercept")], "decision")


def convert_logistic_regression(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    decision = _decision(model, cols, g, where)
    if len(model.classes_) <= 2:
        return ModelOutputs(
            label=lambda: threshold_labels(g, model.classes_, decision, 0.0),
            probabilities=lambda: binary_probabilities(g, _special.expit(g, decision)),
            decision=decision,
        )
    return ModelOutputs(
        label=lambda: argmax_labels(g, model.classes_, decision),
        probabilities=lambda: g.op("Softmax", [decision], "probabilities", axis=1),
        decision=decision,
    )


def convert_linear_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    return {"prediction": _decision(model, cols, g, where)}


def _check_single_output(model: Any) -> str | None:
    if np.asarray(model.coef_).ndim > 1 and np.asarray(model.coef_).shape[0] > 1:
        return "it predicts several targets; pipeport exports one prediction per row"
    return None


def _check_logistic(model: Any) -> str | None:
    if len(model.classes_) > 2 and np.asarray(model.coef_).shape[0] != len(model.classes_):
        return "its coefficients are one-vs-rest, which pipeport does not export yet"
    return None


LINEAR_REGRESSORS = (
    lm.LinearRegression,
    lm.Ridge,
    lm.RidgeCV,
    lm.Lasso,
    lm.LassoCV,
    lm.ElasticNet,
    lm.ElasticNetCV,
    lm.Lars,
    lm.LarsCV,
    lm.LassoLars,
    lm.LassoLarsCV,
    lm.LassoLarsIC,
    lm.OrthogonalMatchingPursuit,
    lm.OrthogonalMatchingPursuitCV,
    lm.BayesianRidge,
    lm.ARDRegression,
    lm.HuberRegressor,
    lm.QuantileRegressor,
    lm.TheilSenRegressor,
)

register(
    Converter(
        classes=(lm.LogisticRegression, lm.LogisticRegressionCV),
        role="classifier",
        convert=convert_logistic_regression,
        check=_check_logistic,
        family="linear models",
        accepts="binary and multinomial (every solver, penalty and C)",
        exactness="float64 MatMul + intercept, then expit or softmax as scikit-learn",
    )
)
register(
    Converter(
        classes=LINEAR_REGRESSORS,
        role="regressor",
        convert=convert_linear_regressor,
        check=_check_single_output,
        family="linear models",
        accepts="one target (every fitting parameter)",
        exactness="float64 MatMul + intercept",
    )
)
