"""Small helpers shared by our converters: constants and nodes on a skl2onnx container."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto
from onnx.helper import np_dtype_to_tensor_dtype

ML_DOMAIN = "ai.onnx.ml"
#: The ai.onnx.ml opset of the files we write: TreeEnsemble (float64 in and out) needs 5.
#: skl2onnx 1.20 refuses to emit ai.onnx.ml above 3, so converters declare their ml nodes at the
#: conversion's target (3) and export.onnx_export raises the model's opset_import to 5 afterwards.
#: That is sound for the ml ops we emit: ArrayFeatureExtractor has one version, and LabelEncoder-4
#: still reads the keys_strings/values_int64s/default_int64 attributes of LabelEncoder-2.
ML_OPSET = 5
SKL2ONNX_ML_OPSET = 3


def const(scope: Any, container: Any, value: np.ndarray, hint: str) -> str:
    """Add `value` as an initializer and return its name."""
    name = scope.get_unique_variable_name(hint)
    array = np.asarray(value)
    if array.dtype == object or array.dtype.kind == "U":
        container.add_initializer(
            name,
            TensorProto.STRING,
            list(array.shape),
            [str(v).encode("utf-8") for v in array.ravel()],
        )
    else:
        container.add_initializer(
            name, np_dtype_to_tensor_dtype(array.dtype), list(array.shape), array.ravel().tolist()
        )
    return name


def node(
    scope: Any,
    container: Any,
    op_type: str,
    inputs: list[str],
    hint: str,
    outputs: list[str] | None = None,
    domain: str = "",
    **attrs: Any,
) -> str:
    """Add one node; returns its (first) output name."""
    if outputs is None:
        outputs = [scope.get_unique_variable_name(hint)]
    op_version = SKL2ONNX_ML_OPSET if domain == ML_DOMAIN else None  # see ML_OPSET
    container.add_node(
        op_type,
        inputs,
        outputs,
        op_domain=domain,
        op_version=op_version,
        name=scope.get_unique_operator_name(hint),
        **attrs,
    )
    return outputs[0]


def cast(scope: Any, container: Any, name: str, to: int, hint: str) -> str:
    return node(scope, container, "Cast", [name], hint, to=to)
