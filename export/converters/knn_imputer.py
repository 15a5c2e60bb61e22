"""KNNImputer: nan_euclidean distances to the fitted rows, bit for bit, then the k nearest donors.

scikit-learn (`sklearn/impute/_knn.py`) imputes a missing value of column j from the
`n_neighbors` training rows nearest to the row among those where j is present ("donors"),
averaged uniformly or by inverse distance. The distances are `nan_euclidean_distances`, which
does not sum squared differences but expands them:

    d² = -2 x̃·ỹ + |x̃|² + |ỹ|²  - Σ_{y missing} x̃_c²  - Σ_{x missing} ỹ_c²      (x̃, ỹ: NaN -> 0)
    d  = sqrt(max(d², 0) / present · n_features)    (NaN where no coordinate is present in both)

Two training rows at the same true distance then differ by rounding noise, and scikit-learn
takes the one the noise makes nearer. The graph therefore computes the same expression in the
same float64 order (`_float64`: OpenBLAS's fused multiply-adds for the dot products, numpy's
two-lane einsum for |x̃|², numpy's row_norms for |ỹ|², computed now from `_fit_X` as scikit-learn
does), which makes the distances identical to scikit-learn's for any batch of two rows or more
and up to 7 columns (one row alone, or the odd last row of a batch with 8 columns or more, goes
through another BLAS kernel in scikit-learn itself).

Exactly equal distances are the one thing no graph can reproduce: scikit-learn picks among them
with numpy's `argpartition`, which is not stable and runs a different algorithm per CPU (on the
same data, numpy with and without AVX-512 imputes different values). The graph takes the
lowest-numbered training row (TopK's rule); where that changes an output the parity gate refuses
the export. Such ties are common with repeated values (integer columns, rounded measurements:
on penguins or on people's ages the gate refuses), and where training rows miss different columns
(a row repeating one training row's value in one column and another's in another column is at
distance 0 from both).

Size and cost: the fitted rows are one float64 constant (8 bytes per training value, plus 8 per
training row for their norms; what is derived from them is computed when the session starts).
Each row scored costs about 40 elementwise operations per training value, most of them the exact
fused multiply-adds: measured in onnxruntime (one thread), 0.3 ms a row for 700 x 4 training
values (a 50 kB file), 3.8 ms for 10,000 x 8 (0.76 MB), 15 ms for 50,000 x 8 (3.6 MB); in large
batches 5-8x scikit-learn's time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.impute import KNNImputer
from sklearn.utils.extmath import row_norms

from pipeport.contract import is_missing
from pipeport.export.converters._float64 import einsum_row_norms, fma, split
from pipeport.export.converters.imputers import missing_indicators
from pipeport.export.graph import BOOL, DOUBLE, Col, Graph
from pipeport.export.registry import Converter, register

#: Bitwise-equal distances are guaranteed for batches scikit-learn multiplies with dgemm's
#: sequential fused multiply-adds: up to this many columns.
EXACT_COLUMNS = 7


def _column(g: Graph, X: str, j: int) -> str:
    """[N, 1]: column j of X."""
    return str(
        g.op(
            "Slice",
            [
                X,
                g.const(np.array([j], np.int64), "start"),
                g.const(np.array([j + 1], np.int64), "end"),
                g.const(np.array([1], np.int64), "axis1"),
            ],
            "col",
        )
    )


class _FittedRows:
    """`_fit_X` as one [n_features, M] float64 constant (NaN where missing), 8 bytes a training
    value; what the graph needs of it (zeroed columns, their halves, squares, masks) is derived by
    nodes that depend on constants only, which onnxruntime folds once, when the session starts."""

    def __init__(self, step: KNNImputer, g: Graph) -> None:
        self.array = np.asarray(step._fit_X, dtype=np.float64)
        self.g = g
        self.tensor = g.const(np.ascontiguousarray(self.array.T), "fitted_rows")
        self._made: dict[tuple[str, int], str] = {}

    def _once(self, what: str, c: int, make: Any) -> str:
        key = (what, c)
        if key not in self._made:
            self._made[key] = str(make())
        return self._made[key]

    def column(self, c: int) -> str:
        """[M]: column c of the fitted rows."""
        index = self.g.const(np.array(c, np.int64), "index")
        return self._once("column", c, lambda: self.g.op("Gather", [self.tensor, index], "fit_col"))

    def missing(self, c: int) -> str:
        return self._once("missing", c, lambda: self.g.op("IsNaN", [self.column(c)], "fit_nan"))

    def zeroed(self, c: int) -> str:
        zero = self.g.const(np.array(0.0), "zero")
        return self._once(
            "zeroed",
            c,
            lambda: self.g.op("Where", [self.missing(c), zero, self.column(c)], "fit_zeroed"),
        )

    def halves(self, c: int) -> tuple[str, str]:
        """`split` of the zeroed column c (Veltkamp's high and low halves)."""
        if ("high", c) not in self._made:
            self._made["high", c], self._made["low", c] = split(self.g, self.zeroed(c))
        return self._made["high", c], self._made["low", c]

    def square(self, c: int) -> str:
        y = self.zeroed(c)
        return self._once("square", c, lambda: self.g.op("Mul", [y, y], "fit_square"))

    def flag(self, c: int, present: bool) -> str:
        """[M] float64: 1.0 where column c is missing (or present), else 0.0."""
        mask = self.missing(c)
        if present:
            mask = self._once("present", c, lambda: self.g.op("Not", [mask], "fit_present"))
        what = "present_flag" if present else "missing_flag"
        return self._once(what, c, lambda: self.g.op("Cast", [mask], "fit_flag", to=DOUBLE))


def _distances(step: KNNImputer, g: Graph, X: str, missing: str, fit: _FittedRows) -> str:
    """[N, M] float64: scikit-learn's nan_euclidean distances from each row to each fitted row,
    +inf where they share no present coordinate (scikit-learn: NaN; both weigh 0, sort last)."""
    n_features = fit.array.shape[1]
    fit_missing = np.isnan(fit.array)
    # scikit-learn copies _fit_X keeping its memory layout, zeroes the missing values, and
    # takes row_norms of that: the same call here gives the same bits.
    zeroed = fit.array.copy(order="K")
    zeroed[fit_missing] = 0.0
    fit_norms = g.const(row_norms(zeroed, squared=True), "fit_norms")
    zero = g.const(np.array(0.0), "zero")
    X0 = g.op("Where", [missing, zero, X], "zeroed")
    present_x = g.op("Cast", [g.op("Not", [missing], "present")], "present_x", to=DOUBLE)
    missing_x = g.op("Cast", [missing], "missing_x", to=DOUBLE)
    xs = [_column(g, X0, c) for c in range(n_features)]
    squares = [g.op("Mul", [x, x], "square") for x in xs]
    # -2 x̃·ỹ: OpenBLAS accumulates RN(x_c * y_c + acc) in column order, from 0
    dot: str = g.op("Mul", [xs[0], fit.zeroed(0)], "dot")
    dot = g.op("Add", [dot, zero], "dot")  # fma(x, y, +0.0) turns a -0.0 product into +0.0
    for c in range(1, n_features):
        dot = fma(g, xs[c], split(g, xs[c]), fit.zeroed(c), fit.halves(c), dot)
    d = g.op("Mul", [dot, g.const(np.array(-2.0), "minus_two")], "distances")
    d = g.op("Add", [d, einsum_row_norms(g, squares)], "distances")
    d = g.op("Add", [d, fit_norms], "distances")
    d = g.op("Max", [d, zero], "distances")
    # - Σ x̃_c² over the fitted row's missing columns, then - Σ ỹ_c² over the row's missing ones
    # (dgemm against a 0/1 matrix: the selected terms added in column order; a column that adds
    # only exact zeros is left out)
    for terms in (
        [
            (squares[c], lambda c=c: fit.flag(c, present=False))
            for c in range(n_features)
            if fit_missing[:, c].any()
        ],
        [
            (_column(g, missing_x, c), lambda c=c: fit.square(c))
            for c in range(n_features)
            if zeroed[:, c].any()
        ],
    ):
        total: str | None = None
        for x_term, y_term in terms:
            product = g.op("Mul", [x_term, y_term()], "term")
            total = product if total is None else g.op("Add", [total, product], "terms")
        if total is not None:
            d = g.op("Sub", [d, total], "distances")
    d = g.op("Max", [d, zero], "distances")
    count: str | None = None
    for c in range(n_features):
        both = g.op("Mul", [_column(g, present_x, c), fit.flag(c, present=True)], "both_present")
        count = both if count is None else g.op("Add", [count, both], "present_count")
    assert count is not None
    none = g.op("Equal", [count, zero], "no_common")
    d = g.op("Div", [d, g.op("Max", [count, g.const(np.array(1.0), "one")], "count")], "dist")
    d = g.op("Mul", [d, g.const(np.array(float(n_features)), "n_features")], "distances")
    d = g.op("Sqrt", [d], "distances")
    return str(g.op("Where", [none, g.const(np.array(np.inf), "inf"), d], "distances"))


def _impute_column(step: KNNImputer, g: Graph, distances: str, j: int, fit: _FittedRows) -> str:
    """[N, 1]: the value scikit-learn's `_calc_impute` gives column j (for every row)."""
    donors = ~np.isnan(fit.array[:, j])
    # non-donors sort after every donor with a distance, and weigh 0 like a NaN distance
    only = g.op(
        "Where",
        [fit.missing(j), g.const(np.array(np.inf), "inf"), distances],
        "donor_distances",
    )
    k = min(int(step.n_neighbors), fit.array.shape[0])
    nearest, index = g.op(
        "TopK",
        [only, g.const(np.array([k], np.int64), "k")],
        "nearest",
        outputs=2,
        axis=1,
        largest=0,
        sorted=1,
    )
    values = g.op("Gather", [fit.zeroed(j), index], "donor_values")
    inf = g.op("IsInf", [nearest], "no_distance")
    if step.weights == "uniform":
        weights = g.op("Cast", [g.op("Not", [inf], "has_distance")], "weights", to=DOUBLE)
    else:
        # 1/d; a row at distance 0 takes all the weight, shared with any other at 0
        inverse = g.op("Reciprocal", [nearest], "inverse")
        at_zero = g.op("Cast", [g.op("IsInf", [inverse], "at_zero")], "at_zero_w", to=DOUBLE)
        any_zero = g.op(
            "ReduceMax",
            [at_zero, g.const(np.array([1], np.int64), "axis1")],
            "any_at_zero",
            keepdims=1,
        )
        weights = g.op(
            "Where",
            [g.op("Cast", [any_zero], "any_zero", to=BOOL), at_zero, inverse],
            "weights",
        )
    axis = g.const(np.array([1], np.int64), "axis1")
    total = g.op("ReduceSum", [weights, axis], "weight_sum", keepdims=1)
    weighted = g.op(
        "ReduceSum", [g.op("Mul", [values, weights], "weighted"), axis], "value_sum", keepdims=1
    )
    average = g.op("Div", [weighted, total], "knn_value")
    # no donor shares a present coordinate with the row: the donors' mean (np.ma mean)
    mean = float(np.ma.array(fit.array[:, j], mask=~donors).mean())
    no_donor = g.op("Equal", [total, g.const(np.array(0.0), "zero")], "no_donor")
    mean_value = g.const(np.array([[mean]]), "donor_mean")
    return str(g.op("Where", [no_donor, mean_value, average], "knn_imputed"))


def convert_knn_imputer(step: KNNImputer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    X = g.matrix(cols, where, step)
    missing = g.op("IsNaN", [X], "is_missing")
    valid = np.asarray(step._valid_mask, dtype=bool)
    fit = _FittedRows(step, g) if valid.any() else None  # (no column to impute: no constant)
    distances = _distances(step, g, X, missing, fit) if fit is not None else ""
    out: list[Col] = []
    for j, col in enumerate(cols):
        x = _column(g, X, j)
        if fit is None or not valid[j]:
            if step.keep_empty_features:  # scikit-learn sets the whole column to 0
                zeros = g.op("Expand", [g.const(np.zeros((1, 1)), "zeros"), g.op("Shape", [x])])
                out.extend(g.block(zeros, [col.name]))
            continue
        imputed = g.op(
            "Where",
            [_column(g, missing, j), _impute_column(step, g, distances, j, fit), x],
            "imputed",
        )
        (block,) = g.block(imputed, [col.name], raw=[col.raw], affine=[col.affine])
        out.append(replace(block, missing_is_empty=col.missing_is_empty))
    if step.add_indicator:
        out.extend(missing_indicators(step.indicator_, cols, g, f"{where}__indicator", np.nan))
    return out


def _check(step: KNNImputer) -> str | None:
    if not is_missing(step.missing_values) or step.missing_values is None:
        return (
            f"missing_values={step.missing_values!r}: pipeport exports KNNImputer with "
            "missing_values=np.nan (a missing raw value); replace the marker with NaN before "
            "the pipeline"
        )
    if callable(step.weights) or step.weights not in ("uniform", "distance"):
        return (
            f"weights={step.weights!r} is a Python function, which pipeport cannot read; use "
            "weights='uniform' or 'distance'"
        )
    if step.metric != "nan_euclidean":
        return (
            f"metric={step.metric!r} is a Python function, which pipeport cannot read; use "
            "metric='nan_euclidean'"
        )
    return None


register(
    Converter(
        classes=(KNNImputer,),
        role="transformer",
        convert=convert_knn_imputer,
        check=_check,
        family="imputers",
        accepts=(
            "weights 'uniform' and 'distance', any n_neighbors, missing_values=np.nan, "
            "add_indicator, keep_empty_features; refused: a callable weights or metric, another "
            "missing_values marker"
        ),
        exactness=(
            "nan_euclidean distances in scikit-learn's own float64 order (fused multiply-adds "
            f"as OpenBLAS's dgemm, numpy's einsum lanes), bit for bit up to {EXACT_COLUMNS} "
            "columns; the k nearest donors, weights and average as _calc_impute. Not exact where "
            "two training rows are exactly as far from the row at the k-th place: scikit-learn's "
            "pick there depends on numpy's CPU-specific argpartition, the graph takes the "
            "lowest-numbered row, and the gate refuses the export when that changes an output "
            "(common with repeated values, or with training rows missing different columns). "
            "Size: 8 bytes per training value; about 40 elementwise operations per training "
            "value per row"
        ),
    )
)
