"""Normalizer: each row divided by its l1, l2 or max norm, as sklearn.preprocessing.normalize.

`normalize` computes the norms (`sum(|x|)`, `sqrt(row_norms)`, `max(|x|)`), replaces those below
10 * machine epsilon by 1 (`_handle_zeros_in_scale`: a row of zeros stays zeros), then divides.
The graph does the same in float64; ReduceSum may add in another order than numpy (a few ulps in
the l1 and l2 norms; the max norm is exact). scikit-learn raises on a missing value, so the
contract refuses one.
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import Normalizer

from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register

#: norms below this are replaced by 1 (scikit-learn's `_handle_zeros_in_scale`)
_TINY = 10 * np.finfo(np.float64).eps


def convert_normalizer(step: Normalizer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    X = g.matrix(cols, where, step)
    axis = g.const(np.array([1], np.int64), "axis1")
    if step.norm == "l1":
        norms = g.op("ReduceSum", [g.op("Abs", [X], "abs"), axis], "l1_norm", keepdims=1)
    elif step.norm == "l2":
        squares = g.op("ReduceSum", [g.op("Mul", [X, X], "square"), axis], "sum_sq", keepdims=1)
        norms = g.op("Sqrt", [squares], "l2_norm")
    else:
        norms = g.op("ReduceMax", [g.op("Abs", [X], "abs"), axis], "max_norm", keepdims=1)
    tiny = g.op("Less", [norms, g.const(np.array(_TINY), "tiny_norm")], "tiny")
    norms = g.op("Where", [tiny, g.const(np.array(1.0), "one"), norms], "norm")
    out = g.op("Div", [X, norms], "normalized")
    return g.block(out, [c.name for c in cols])


def _check(step: Normalizer) -> str | None:
    if step.norm not in ("l1", "l2", "max"):
        return f"norm={step.norm!r}; pipeport exports norm 'l1', 'l2' and 'max'"
    return None


register(
    Converter(
        classes=(Normalizer,),
        role="transformer",
        convert=convert_normalizer,
        check=_check,
        family="scalers",
        accepts="norm 'l1', 'l2', 'max'",
        exactness=(
            "row / norm, a norm below 10 * eps counting as 1 (zero rows stay zero), as "
            "normalize; float64 ReduceSum for l1 and l2 (a few ulps), ReduceMax for max (exact)"
        ),
    )
)
