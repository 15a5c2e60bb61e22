"""ONNX converter for sklearn.preprocessing.StandardScaler, in float64.

scikit-learn computes `X -= mean_; X /= scale_` in float64. skl2onnx's `Scaler` op is float32
and multiplies by 1/scale; Sub then Div in double reproduces scikit-learn bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skl2onnx.common.data_types import DoubleTensorType

from pipeport.export.converters._graph import const, node


def shape_standard_scaler(operator: Any) -> None:
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = DoubleTensorType([n, operator.raw_operator.n_features_in_])


def convert_standard_scaler(scope: Any, operator: Any, container: Any) -> None:
    scaler = operator.raw_operator
    names = [v.full_name for v in operator.inputs]
    for variable in operator.inputs:
        if not isinstance(variable.type, DoubleTensorType):
            raise TypeError(f"StandardScaler input '{variable.raw_name}' must be float64")
    X = (
        names[0]
        if len(names) == 1
        else node(scope, container, "Concat", names, "scaler_in", axis=1)
    )
    out = operator.outputs[0].full_name
    if scaler.with_mean:
        mean = const(scope, container, np.asarray(scaler.mean_, np.float64).reshape(1, -1), "mean")
        X = node(scope, container, "Sub", [X, mean], "scaler_sub")
    if scaler.with_std:
        scale = const(
            scope, container, np.asarray(scaler.scale_, np.float64).reshape(1, -1), "scale"
        )
        node(scope, container, "Div", [X, scale], "scaler_div", [out])
    else:
        node(scope, container, "Identity", [X], "scaler_id", [out])
