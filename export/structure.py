"""Pipeline structure: Pipeline, ColumnTransformer, FeatureUnion, passthrough and drop.

Walks a fitted pipeline as scikit-learn runs it and hands each leaf step to its converter with
exactly the columns scikit-learn gives it. Step paths are scikit-learn's parameter paths
(`preprocess__cat__onehot`), what a user writes in `set_params` or a grid search, so a refusal
names the step in the user's own terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import is_outlier_detector
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import FeatureUnion, Pipeline

from pipeport.errors import UnsupportedStepError
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import ModelOutputs, Role, lookup


def join(path: str, name: str) -> str:
    return f"{path}__{name}" if path else name


def is_passthrough(step: Any) -> bool:
    return step is None or (isinstance(step, str) and step == "passthrough")


def convert_transformer(step: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    """The columns `step` makes of `cols`."""
    if is_passthrough(step):
        return cols
    _check_width(step, cols, where)
    if isinstance(step, Pipeline):
        for name, sub in step.steps:
            cols = convert_transformer(sub, cols, g, join(where, name))
        return cols
    if isinstance(step, ColumnTransformer):
        return _column_transformer(step, cols, g, where)
    if isinstance(step, FeatureUnion):
        return _feature_union(step, cols, g, where)
    converter = lookup(step, where, "transformer")
    out: list[Col] = converter.convert(step, cols, g, where)
    return out


def convert_predictor(step: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    """The outputs of the model at the end of `step` (a Pipeline or a model), built on demand."""
    _check_width(step, cols, where)
    if isinstance(step, Pipeline):
        *head, (name, last) = step.steps
        for sub_name, sub in head:
            cols = convert_transformer(sub, cols, g, join(where, sub_name))
        return convert_predictor(last, cols, g, join(where, name))
    if isinstance(step, (ColumnTransformer, FeatureUnion)) or is_passthrough(step):
        raise UnsupportedStepError(
            f"The last step, '{where}', is a {type(step).__name__}: pipeport exports pipelines "
            "that end with a classifier, a regressor or an outlier detector"
        )
    role: Role = (
        "outlier_detector"
        if is_outlier_detector(step)
        else "classifier"
        if hasattr(step, "classes_")
        else "regressor"
    )
    converter = lookup(step, where, role)
    g.model_inputs = list(cols)
    outputs = converter.convert(step, cols, g, where)
    return outputs if isinstance(outputs, ModelOutputs) else ModelOutputs(**outputs)


def final_estimator(step: Any) -> Any:
    while isinstance(step, Pipeline):
        step = step.steps[-1][1]
    return step


def _check_width(step: Any, cols: Sequence[Col], where: str) -> None:
    expected = getattr(step, "n_features_in_", None)
    if expected is not None and expected != len(cols):
        raise UnsupportedStepError(
            f"Step '{where}' was fitted on {expected} columns but receives {len(cols)} here; "
            "was it fitted outside this pipeline?"
        )


def _column_transformer(ct: ColumnTransformer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    """Each transformer on its columns (by name, position, mask or selector: scikit-learn's own
    resolution, `_transformer_to_input_indices`), outputs side by side in `transformers_` order,
    scaled by `transformer_weights`; drop and empty selections give nothing."""
    indices: dict[str, list[int]] = ct._transformer_to_input_indices
    weights = ct.transformer_weights or {}
    out: list[Col] = []
    for name, transformer, _columns in ct.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        chosen = indices.get(name, [])
        if len(chosen) == 0:  # scikit-learn skips transformers with no columns
            continue
        part = convert_transformer(transformer, [cols[i] for i in chosen], g, join(where, name))
        out.extend(_weighted(part, weights.get(name), g, join(where, name)))
    return out


def _feature_union(union: FeatureUnion, cols: list[Col], g: Graph, where: str) -> list[Col]:
    weights = union.transformer_weights or {}
    out: list[Col] = []
    for name, transformer in union.transformer_list:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        part = convert_transformer(transformer, list(cols), g, join(where, name))
        out.extend(_weighted(part, weights.get(name), g, join(where, name)))
    return out


def _weighted(cols: list[Col], weight: float | None, g: Graph, where: str) -> list[Col]:
    """scikit-learn multiplies a transformer's output by its weight (`res * weight`)."""
    if weight is None or not cols:
        return cols
    X = g.matrix(cols, where, "transformer_weights")
    scaled = g.op("Mul", [X, g.const(np.array([float(weight)]), "weight")], "weighted")
    affine = [
        (c.affine[0], c.affine[1] * weight, c.affine[2] * weight) if c.affine else None
        for c in cols
    ]
    return g.block(scaled, [c.name for c in cols], affine=affine)
