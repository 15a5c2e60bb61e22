"""KNeighborsClassifier and KNeighborsRegressor: skl2onnx's converter, spliced in, in float64.

skl2onnx computes the brute-force distances with the same expansion scikit-learn uses, in the
input's type; given a float64 input it stays in float64. Its graph is converted on its own (the
model alone, a float64 [N, n_features] input) and spliced into ours with every name prefixed.
"""

from __future__ import annotations

from typing import Any

import onnx
from onnx import compose
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from pipeport.export.graph import ML_OPSET, OPSET, Col, Graph
from pipeport.export.registry import Converter, register


def _rename_everywhere(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if i == old else i for i in node.input]
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _rename_everywhere(attribute.g, old, new)
            for sub in attribute.graphs:
                _rename_everywhere(sub, old, new)


def splice_skl2onnx(model: Any, cols: list[Col], g: Graph, where: str, hint: str) -> list[str]:
    """Convert `model` alone with skl2onnx (float64 input, no ZipMap) and add its graph to ours;
    returns its output tensor names."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common import _topology, utils
    from skl2onnx.common.data_types import DoubleTensorType

    X = g.matrix(cols, where, model)
    # skl2onnx names some values from process-global counters: reset them so the file does not
    # depend on what was converted before in this process.
    utils._unique_index["subgraph"] = 0
    _topology.Variable._UNIQUE_NUMBER_ = 0
    options = {id(model): {"zipmap": False}} if hasattr(model, "classes_") else None
    sub = convert_sklearn(
        model,
        initial_types=[("X", DoubleTensorType([None, len(cols)]))],
        options=options,
        target_opset={"": OPSET, "ai.onnx.ml": 3},
    )
    # "/" cannot appear in a graph input's name (letters, digits and "_"): no collision
    sub = compose.add_prefix(sub, g.name(hint) + "/")
    _rename_everywhere(sub.graph, sub.graph.input[0].name, X)
    g.nodes.extend(sub.graph.node)
    g.initializers.extend(sub.graph.initializer)
    for opset in sub.opset_import:
        if opset.domain not in ("", "ai.onnx.ml"):
            g.opsets[opset.domain] = opset.version
        elif opset.domain == "ai.onnx.ml":
            g.opsets["ai.onnx.ml"] = ML_OPSET
    return [o.name for o in sub.graph.output]


def convert_knn_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    label, probabilities = splice_skl2onnx(model, cols, g, where, "knn")
    return {"label": label, "probabilities": probabilities}


def convert_knn_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    (prediction,) = splice_skl2onnx(model, cols, g, where, "knn")
    return {"prediction": prediction}


def _check(model: Any) -> str | None:
    if model.effective_metric_ not in ("euclidean", "minkowski") or (
        model.effective_metric_ == "minkowski" and model.effective_metric_params_.get("p", 2) != 2
    ):
        return f"metric {model.effective_metric_!r} is not supported (euclidean only)"
    if getattr(model, "_y", None) is not None and getattr(model._y, "ndim", 1) > 1:
        return "it predicts several targets; pipeport exports one prediction per row"
    return None


_ACCEPTS = "euclidean metric, weights 'uniform' or 'distance', any n_neighbors; algorithm "
_ACCEPTS += "'brute' recommended (kd_tree/ball_tree break distance ties in another order)"
register(
    Converter(
        classes=(KNeighborsClassifier,),
        role="classifier",
        convert=convert_knn_classifier,
        check=_check,
        family="neighbors",
        accepts=_ACCEPTS,
        exactness="skl2onnx's float64 brute-force graph (measured by the gate)",
    )
)
register(
    Converter(
        classes=(KNeighborsRegressor,),
        role="regressor",
        convert=convert_knn_regressor,
        check=_check,
        family="neighbors",
        accepts=_ACCEPTS,
        exactness="skl2onnx's float64 brute-force graph (measured by the gate)",
    )
)
