"""Steps that hand their columns on unchanged: FunctionTransformer without a function (what a
fitted ColumnTransformer makes of "passthrough"), and pipeport's own MissingCategory, which only
makes the pipeline's text columns what the graph already receives (strings, "" for missing)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sklearn.preprocessing import FunctionTransformer

from pipeport.export.graph import STRING, Col, Graph
from pipeport.export.registry import Converter, register
from pipeport.research.steps import MissingCategory


def convert_identity(step: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    return cols


def _check_function_transformer(step: FunctionTransformer) -> str | None:
    if step.func is not None:
        name = getattr(step.func, "__name__", repr(step.func))
        return (
            f"its function ({name}) is arbitrary Python, which pipeport cannot read. Write the "
            "computation as a small transformer class and register a converter for it with "
            "pipeport.register_converter (docs/converters.md), or compute the feature before "
            "the pipeline"
        )
    return None


def convert_missing_category(step: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    """Each column as text: a raw column becomes a string input (its values normalised by the
    contract exactly as MissingCategory normalises them in scikit-learn)."""
    out = []
    for col in cols:
        g.column(col, where, step, want=STRING)
        out.append(replace(g.input_of(col, STRING, where, step), missing_is_empty=True))
    return out


register(
    Converter(
        classes=(FunctionTransformer,),
        role="transformer",
        convert=convert_identity,
        check=_check_function_transformer,
        family="structure",
        accepts="func=None (the identity; what 'passthrough' becomes in a fitted "
        "ColumnTransformer)",
        exactness="the identity",
    )
)
register(
    Converter(
        classes=(MissingCategory,),
        role="transformer",
        convert=convert_missing_category,
        family="pipeport steps",
        accepts="every parameter",
        exactness="the contract feeds text columns as MissingCategory makes them: True -> "
        "'True', 3 -> '3', missing -> ''",
    )
)
