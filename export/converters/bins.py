"""KBinsDiscretizer: encode "ordinal", "onehot-dense" and "onehot"; strategies "uniform",
"quantile" and "kmeans".

Whatever the strategy, the fitted discretizer holds its bins in `bin_edges_`, and transform is
`np.searchsorted(bin_edges_[j][1:-1], x, side="right")` per column: how many inner edges are
<= x, so values beyond the outer edges fall into the first and last bins. The graph counts the
same thing with one broadcast comparison (edges of columns with fewer bins padded with NaN, which
no value is >= of). Comparisons and a count: exact. "onehot" then compares the bin with 0..n-1
(scikit-learn's sparse output holds the same numbers).

scikit-learn raises on a missing value (the input must be finite), so the contract refuses a
missing value in every runtime unless an imputer comes first.
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper
from sklearn.preprocessing import KBinsDiscretizer

from pipeport.export.graph import DOUBLE, INT64, Col, Graph
from pipeport.export.registry import Converter, register


def bin_numbers(step: KBinsDiscretizer, x: str, g: Graph) -> str:
    """[N, k] int64: the bin of each value, as step.transform(..., encode='ordinal')."""
    inner = [np.asarray(edges, np.float64)[1:-1] for edges in step.bin_edges_]
    k, width = len(inner), max(len(e) for e in inner)
    if width == 0:  # every column one bin
        zero = numpy_helper.from_array(np.zeros(1, np.int64), "zero")
        return str(g.op("ConstantOfShape", [g.op("Shape", [x])], "kbins_bin", value=zero))
    edges = np.full((1, k, width), np.nan)
    for j, e in enumerate(inner):
        edges[0, j, : len(e)] = e
    x3 = g.op("Unsqueeze", [x, g.const(np.array([2], np.int64), "axis2")], "kbins_x")
    passed = g.op("LessOrEqual", [g.const(edges, "bin_edges"), x3], "kbins_passed")
    return str(
        g.op(
            "ReduceSum",
            [
                g.op("Cast", [passed], "kbins_passed", to=INT64),
                g.const(np.array([2], np.int64), "axis2"),
            ],
            "kbins_bin",
            keepdims=0,
        )
    )


def convert_kbins(step: KBinsDiscretizer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    x = g.matrix(cols, where, step)
    bins = bin_numbers(step, x, g)
    names = [str(n) for n in step.get_feature_names_out()]
    if step.encode == "ordinal":
        return g.block(g.op("Cast", [bins], "kbins_ordinal", to=DOUBLE), names)
    pieces = []
    for j, n_bins in enumerate(np.asarray(step.n_bins_, dtype=int).tolist()):
        column = g.op(
            "Gather", [bins, g.const(np.array([j], np.int64), "cols")], "kbins_column", axis=1
        )
        positions = g.const(np.arange(n_bins, dtype=np.int64).reshape(1, -1), "positions")
        hot = g.op("Equal", [column, positions], "kbins_is_bin")
        pieces.append(g.op("Cast", [hot], "kbins_onehot", to=DOUBLE))
    out = pieces[0] if len(pieces) == 1 else g.op("Concat", pieces, "kbins_onehot", axis=1)
    return g.block(out, names)


def _check(step: KBinsDiscretizer) -> str | None:
    if not hasattr(step, "bin_edges_"):
        return "it is not fitted"
    return None


register(
    Converter(
        classes=(KBinsDiscretizer,),
        role="transformer",
        convert=convert_kbins,
        check=_check,
        family="discretizers",
        accepts=(
            "encode 'ordinal', 'onehot-dense' and 'onehot' (sparse, the same numbers), strategy "
            "'uniform', 'quantile' (every quantile_method) and 'kmeans', n_bins per column, "
            "subsample, dtype; a missing value is refused, as scikit-learn raises"
        ),
        exactness=(
            "np.searchsorted(bin_edges_[j][1:-1], x, side='right') as a count of the inner edges "
            "<= x: comparisons only, exact; values past the outer edges fall in the first and "
            "last bins as in scikit-learn"
        ),
    )
)
