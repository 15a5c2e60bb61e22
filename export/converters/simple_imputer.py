"""ONNX converter for sklearn.impute.SimpleImputer on numeric columns, in float64.

skl2onnx emits the ai.onnx.ml `Imputer` op, which onnxruntime implements for float32 only; a
float32 imputer would round every raw value before scaling. This one is IsNaN + Where in the
input's own type: a missing value becomes exactly `statistics_`, any other value is untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

from pipeport.export.converters._graph import const, node


def shape_simple_imputer(operator: Any) -> None:
    n = operator.inputs[0].get_first_dimension()
    width = len(operator.raw_operator.statistics_)
    operator.outputs[0].type = DoubleTensorType([n, width])


def _concat_inputs(scope: Any, operator: Any, container: Any) -> str:
    names = []
    for variable in operator.inputs:
        if isinstance(variable.type, StringTensorType):
            raise TypeError(
                "SimpleImputer on a categorical (string) column is not supported by pipeport's "
                "exporter; use research.steps.MissingCategory for categorical columns"
            )
        if not isinstance(variable.type, DoubleTensorType):
            raise TypeError(
                f"SimpleImputer input '{variable.raw_name}' is {variable.type}; pipeport feeds "
                "numeric columns as float64 (DoubleTensorType)"
            )
        names.append(variable.full_name)
    if len(names) == 1:
        return names[0]
    return node(scope, container, "Concat", names, "imputer_in", axis=1)


def convert_simple_imputer(scope: Any, operator: Any, container: Any) -> None:
    imputer = operator.raw_operator
    stats = np.asarray(imputer.statistics_, dtype=np.float64)
    if np.isnan(stats).any():
        raise ValueError(
            "SimpleImputer has NaN statistics (a column was all missing in training and "
            "keep_empty_features=False drops it); refit with keep_empty_features=True"
        )
    if imputer.add_indicator:
        raise ValueError(
            "SimpleImputer(add_indicator=True) is not supported by pipeport's exporter"
        )
    X = _concat_inputs(scope, operator, container)
    missing_value = imputer.missing_values
    if isinstance(missing_value, float) and np.isnan(missing_value):
        mask = node(scope, container, "IsNaN", [X], "imputer_isnan")
    else:
        mask = node(
            scope,
            container,
            "Equal",
            [X, const(scope, container, np.array([float(missing_value)]), "imputer_mv")],
            "imputer_eq",
        )
    stats_name = const(scope, container, stats.reshape(1, -1), "imputer_stats")
    node(
        scope,
        container,
        "Where",
        [mask, stats_name, X],
        "imputer",
        [operator.outputs[0].full_name],
    )
