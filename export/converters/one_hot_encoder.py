"""ONNX converter for sklearn.preprocessing.OneHotEncoder on strings, in float64.

Per column: LabelEncoder (category -> its position, unseen -> -1), then Equal against
0..n_categories-1 and a cast to double, so an unseen category gives all zeros, as
handle_unknown="ignore" does in scikit-learn. The output is float64 so it concatenates with the
float64 numeric block without a float32 round trip.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto
from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

from pipeport.export.converters._graph import ML_DOMAIN, const, node


def _check_supported(encoder: Any) -> None:
    if encoder.handle_unknown != "ignore":
        raise ValueError(
            f"OneHotEncoder(handle_unknown={encoder.handle_unknown!r}) fails at inference on "
            "unseen categories; use handle_unknown='ignore'"
        )
    if encoder.drop_idx_ is not None:
        raise ValueError("OneHotEncoder(drop=...) is not supported by pipeport's exporter")
    if getattr(encoder, "_infrequent_enabled", False):
        raise ValueError(
            "OneHotEncoder with min_frequency/max_categories (infrequent categories) is not "
            "supported by pipeport's exporter"
        )
    for categories in encoder.categories_:
        if categories.dtype != object:
            raise ValueError(
                "OneHotEncoder was fitted on non-string values; put research.steps.MissingCategory "
                "before it so that categories are strings"
            )


def shape_one_hot_encoder(operator: Any) -> None:
    encoder = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    width = sum(len(c) for c in encoder.categories_)
    operator.outputs[0].type = DoubleTensorType([n, width])


def _columns(scope: Any, operator: Any, container: Any, n_columns: int) -> list[str]:
    """One [N, 1] string tensor per encoded column, whatever way the inputs arrive."""
    names: list[str] = []
    for variable in operator.inputs:
        if not isinstance(variable.type, StringTensorType):
            raise TypeError(
                f"OneHotEncoder input '{variable.raw_name}' is {variable.type}; pipeport encodes "
                "categorical columns as strings (put research.steps.MissingCategory before it)"
            )
        width = variable.type.shape[1] if len(variable.type.shape) > 1 else 1
        if width == 1:
            names.append(variable.full_name)
            continue
        for j in range(width):
            index = const(scope, container, np.array([j], dtype=np.int64), "ohe_col")
            names.append(
                node(scope, container, "Gather", [variable.full_name, index], "ohe_slice", axis=1)
            )
    if len(names) != n_columns:
        raise ValueError(f"OneHotEncoder expects {n_columns} columns, got {len(names)}")
    return names


def convert_one_hot_encoder(scope: Any, operator: Any, container: Any) -> None:
    encoder = operator.raw_operator
    _check_supported(encoder)
    columns = _columns(scope, operator, container, len(encoder.categories_))
    blocks: list[str] = []
    for column, categories in zip(columns, encoder.categories_, strict=True):
        keys = [str(c) for c in categories]
        codes = node(
            scope,
            container,
            "LabelEncoder",
            [column],
            "ohe_codes",
            domain=ML_DOMAIN,
            keys_strings=keys,
            values_int64s=list(range(len(keys))),
            default_int64=-1,
        )
        positions = const(
            scope, container, np.arange(len(keys), dtype=np.int64).reshape(1, -1), "ohe_pos"
        )
        hits = node(scope, container, "Equal", [codes, positions], "ohe_eq")  # [N,1] vs [1,K]
        blocks.append(node(scope, container, "Cast", [hits], "ohe_block", to=TensorProto.DOUBLE))
    out = operator.outputs[0].full_name
    if len(blocks) == 1:
        node(scope, container, "Identity", blocks, "ohe", [out])
    else:
        node(scope, container, "Concat", blocks, "ohe", [out], axis=1)
