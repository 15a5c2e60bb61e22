"""ONNX converter for research.steps.MissingCategory.

The graph receives categorical columns already as strings, with the missing-category sentinel
where a value is missing (that is the input contract, docs/onnx-contract.md), so in the graph the
step is the identity. It exists as a converter so that the pipeline converts as a whole.
"""

from __future__ import annotations

from typing import Any

from skl2onnx.common.data_types import StringTensorType

from pipeport.export.converters._graph import node


def shape_missing_category(operator: Any) -> None:
    n = operator.inputs[0].get_first_dimension()
    width = sum(i.type.shape[1] if len(i.type.shape) > 1 else 1 for i in operator.inputs)
    operator.outputs[0].type = StringTensorType([n, width])


def convert_missing_category(scope: Any, operator: Any, container: Any) -> None:
    for variable in operator.inputs:
        if not isinstance(variable.type, StringTensorType):
            raise TypeError(
                f"MissingCategory expects string inputs, got {variable.type} for "
                f"'{variable.raw_name}'; categorical columns must be fed as strings"
            )
    names = [v.full_name for v in operator.inputs]
    if len(names) == 1:
        node(
            scope, container, "Identity", names, "missing_category", [operator.outputs[0].full_name]
        )
    else:
        node(
            scope,
            container,
            "Concat",
            names,
            "missing_category",
            [operator.outputs[0].full_name],
            axis=1,
        )
