"""MLPClassifier and MLPRegressor in float64: scikit-learn's forward pass, layer by layer.

Each layer is `activation @ coefs_[i] + intercepts_[i]`, then the hidden activation (relu,
tanh, logistic, identity) and, after the last, the output activation (softmax, logistic or
identity). Binary classifiers stack [1 - p, p] and label p > 0.5, as LabelBinarizer does;
multiclass ones take the argmax.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor

from pipeport.export.converters import _special
from pipeport.export.converters._outputs import (
    argmax_labels,
    binary_probabilities,
    outputs,
    threshold_labels,
)
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register

_ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "logistic": "expit", "identity": None}


def _forward(model: Any, cols: list[Col], g: Graph, where: str) -> str:
    a = g.matrix(cols, where, model)
    last = len(model.coefs_) - 1
    for i, (coef, intercept) in enumerate(zip(model.coefs_, model.intercepts_, strict=True)):
        a = g.op("MatMul", [a, g.const(np.asarray(coef, np.float64), "weights")], "layer")
        a = g.op("Add", [a, g.const(np.asarray(intercept, np.float64).reshape(1, -1), "bias")])
        name = model.activation if i < last else model.out_activation_
        if name == "softmax":
            a = g.op("Softmax", [a], "softmax", axis=1)
        elif name == "logistic":  # scipy's expit, not onnxruntime's Sigmoid (_special.expit)
            a = _special.expit(g, a)
        else:
            op = _ACTIVATIONS[name]
            if op is not None:
                a = g.op(op, [a], name)
    return a


def convert_mlp_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    y = _forward(model, cols, g, where)
    if model.n_outputs_ == 1:
        return outputs(threshold_labels(g, model.classes_, y, 0.5), binary_probabilities(g, y))
    return outputs(argmax_labels(g, model.classes_, y), y)


def convert_mlp_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    return {"prediction": _forward(model, cols, g, where)}


def _check(model: Any) -> str | None:
    if model.activation not in _ACTIVATIONS:
        return f"activation={model.activation!r} is not one pipeport knows"
    if isinstance(model, MLPRegressor) and model.n_outputs_ != 1:
        return "it predicts several targets; pipeport exports one prediction per row"
    if isinstance(model, MLPClassifier) and model.out_activation_ not in ("softmax", "logistic"):
        return f"its output activation {model.out_activation_!r} is not supported"
    if (
        isinstance(model, MLPClassifier)
        and model.out_activation_ == "logistic"
        and model.n_outputs_ > 1
    ):
        return "it is a multilabel classifier; pipeport exports one label per row"
    return None


register(
    Converter(
        classes=(MLPClassifier,),
        role="classifier",
        convert=convert_mlp_classifier,
        check=_check,
        family="neural networks",
        accepts="every activation (relu, tanh, logistic, identity), any layers; binary and "
        "multiclass",
        exactness="float64 forward pass as scikit-learn's _forward_pass_fast",
    )
)
register(
    Converter(
        classes=(MLPRegressor,),
        role="regressor",
        convert=convert_mlp_regressor,
        check=_check,
        family="neural networks",
        accepts="every activation, any layers; one target",
        exactness="float64 forward pass as scikit-learn's _forward_pass_fast",
    )
)
