"""pipeport's own MissingCategory: it makes the pipeline's text columns what the graph already
receives (strings, "" for missing), so in the graph it only turns raw columns into text inputs.
(FunctionTransformer, "passthrough" included, is in functions.py.)"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipeport.export.graph import STRING, Col, Graph
from pipeport.export.registry import Converter, register
from pipeport.research.steps import MissingCategory


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
        classes=(MissingCategory,),
        role="transformer",
        convert=convert_missing_category,
        family="pipeport steps",
        accepts="every parameter",
        exactness="the contract feeds text columns as MissingCategory makes them: True -> "
        "'True', 3 -> '3', missing -> ''",
    )
)
