"""SplineTransformer: degree, knots (uniform, quantile, an array), extrapolation "constant",
"linear", "continue" and "periodic", include_bias, handle_missing, sparse or dense output.

scikit-learn evaluates each column's fitted `bsplines_[j]` (scipy's BSpline with the identity as
coefficients, so its values are the basis functions). scipy finds the knot interval l with
t[l] <= x < t[l+1] (clamped to [k, n-1], which is what extrapolates) and runs de Boor's
recursion (Cox-de Boor) on the k+1 basis functions that are non-zero there:

    for j in 1..k:  h[0] = 0;  for i in 1..j:
        w = h_prev[i-1] / (t[l+i] - t[l+i-j])
        h[i-1] += w * (t[l+i] - x);  h[i] = w * (x - t[l+i-j])

then sums coefficient rows into outputs (periodic: the first `degree` outputs also collect the
last `degree` basis functions). The graph does the same: l as a count of the inner knots <= x,
the 2k knots around it gathered per row, the same recursion on [N, features] tensors, and the
k+1 values placed at their columns (GatherElements). Same operations, same order: scipy's bits.

Outside [t[degree], t[-degree-1]], "constant" and "linear" use spline values and slopes at the
boundaries (computed by scipy at export time, as scikit-learn computes them at transform time).
scikit-learn 1.9 increments its loop's `degree` for "linear" with degree <= 1 inside the loop over
columns, so every column after the first uses other boundaries; the graph does what it does (the
fitted step is asked, on two rows outside every knot, which reading it computes).

Where scikit-learn raises on a value, extrapolation="error" outside [t[k], t[n]] and degree=0 with
"constant" above the range (a shape mismatch in its own code), the converter notes the bounds on
the raw column it reads (`Graph.note_domain`), so every runtime refuses the row instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import numpy_helper
from sklearn.preprocessing import SplineTransformer

from pipeport.errors import UnsupportedStepError
from pipeport.export.converters._special import scalar
from pipeport.export.graph import INT64, Col, Graph
from pipeport.export.registry import Converter, register


def _i64(g: Graph, value: Any, hint: str) -> str:
    return g.const(np.asarray(value, np.int64), hint)


def _filled(g: Graph, like: str, value: float | int) -> str:
    """A tensor of `like`'s shape filled with `value` (int64 for an int, else float64)."""
    dtype = np.int64 if isinstance(value, int) else np.float64
    fill = numpy_helper.from_array(np.array([value], dtype), "value")
    return str(g.op("ConstantOfShape", [g.op("Shape", [like])], "filled", value=fill))


def _axis2(g: Graph, x: str, hint: str) -> str:
    """[N, f] -> [N, f, 1]"""
    return str(g.op("Unsqueeze", [x, _i64(g, [2], "axis2")], hint))


def basis(g: Graph, x: str, knots: np.ndarray, k: int) -> str:
    """[N, f, n]: the n = len(t) - k - 1 B-spline basis functions of degree k on the knots
    `knots` ([f, len(t)]) at x ([N, f]), as scipy's BSpline evaluates them with extrapolation
    (the end intervals' polynomials continue outside [t[k], t[n]])."""
    f, size = knots.shape
    n = size - k - 1
    inner = knots[:, k + 1 : n]  # the knots that move l up from k
    if inner.shape[1]:
        passed = g.op(
            "LessOrEqual",
            [g.const(inner.reshape(1, f, -1), "inner_knots"), _axis2(g, x, "spline_x")],
            "spline_passed",
        )
        count = g.op(
            "ReduceSum",
            [g.op("Cast", [passed], "spline_passed", to=INT64), _i64(g, [2], "axis2")],
            "spline_count",
            keepdims=0,
        )
        ell = g.op("Add", [count, _i64(g, k, "degree")], "spline_interval")
    else:
        ell = _filled(g, x, k)
    flat = g.op("Add", [ell, _i64(g, (np.arange(f) * size).reshape(1, f), "knot_rows")])
    at: dict[int, str] = {}

    def t(offset: int) -> str:  # t[l + offset] per row and column
        if offset not in at:
            index = g.op("Add", [flat, _i64(g, offset, "offset")]) if offset else flat
            knot_values = g.const(knots.reshape(-1), "knots")
            at[offset] = g.op("Gather", [knot_values, index], f"t_l{offset:+d}", axis=0)
        return at[offset]

    repeated = bool(np.any(np.diff(knots, axis=1) == 0))
    zero = scalar(g, 0.0)
    h: list[str] = [_filled(g, x, 1.0)]
    for j in range(1, k + 1):
        previous, h = h, [zero] * (j + 1)
        for i in range(1, j + 1):
            xb, xa = t(i), t(i - j)
            w = g.op("Div", [previous[i - 1], g.op("Sub", [xb, xa])], "spline_w")
            left = g.op("Mul", [w, g.op("Sub", [xb, x])], "spline_left")
            left = left if i == 1 else g.op("Add", [h[i - 1], left], "spline_h")
            right = g.op("Mul", [w, g.op("Sub", [x, xa])], "spline_h")
            if repeated:  # scipy: where t[l+i] == t[l+i-j], h[i] = 0 and h[i-1] stays
                same = g.op("Equal", [xb, xa], "spline_same_knot")
                left = g.op("Where", [same, h[i - 1], left], "spline_h")
                right = g.op("Where", [same, zero, right], "spline_h")
            h[i - 1], h[i] = left, right
    # h[a] is basis function l - k + a: basis b takes h[b - l + k] where 0 <= b - l + k <= k
    work = g.op("Concat", [_axis2(g, v, "spline_work") for v in h], "spline_work", axis=2)
    position = g.op(
        "Sub",
        [_i64(g, (np.arange(n) + k).reshape(1, 1, n), "basis_plus_k"), _axis2(g, ell, "l3")],
        "spline_position",
    )
    valid = g.op(
        "And",
        [
            g.op("GreaterOrEqual", [position, _i64(g, 0, "zero")]),
            g.op("LessOrEqual", [position, _i64(g, k, "degree")]),
        ],
        "spline_active",
    )
    clipped = g.op("Clip", [position, _i64(g, 0, "zero"), _i64(g, k, "degree")])
    values = g.op("GatherElements", [work, clipped], "spline_values", axis=2)
    return str(g.op("Where", [valid, values, zero], "spline_basis"))


def _periodic_x(g: Graph, x: str, knots: np.ndarray, k: int) -> str:
    """scikit-learn's t[k] + (x - t[k]) % (t[n] - t[k]) (numpy's remainder: fmod, plus the
    period where the sign differs), or 0 for a column whose period is 0."""
    n = knots.shape[1] - k - 1
    start, period = knots[:, k], knots[:, n] - knots[:, k]
    start_c = g.const(start.reshape(1, -1), "period_start")
    period_c = g.const(np.where(period > 0, period, 1.0).reshape(1, -1), "period")
    mod = g.op("Mod", [g.op("Sub", [x, start_c]), period_c], "spline_mod", fmod=1)
    zero = scalar(g, 0.0)
    mod = g.op("Where", [g.op("Less", [mod, zero]), g.op("Add", [mod, period_c]), mod])
    # (numpy makes a zero remainder +0.0; fmod's -0.0 gives t[k] + -0.0 == t[k] + 0.0 anyway)
    mapped = g.op("Add", [start_c, mod], "spline_periodic_x")
    if np.all(period > 0):
        return str(mapped)
    flat = g.op("Where", [g.op("IsNaN", [x]), x, zero])
    positive = g.const((period > 0).reshape(1, -1), "has_period")
    return str(g.op("Where", [positive, mapped, flat], "spline_periodic_x"))


def _boundaries(step: SplineTransformer, carried: bool) -> list[dict[str, Any]]:
    """Per column, what scikit-learn's transform uses outside the range: xmin, xmax, spline
    values (and for "linear" slopes) there, and which outputs it sets below and above, in the
    order it sets them. `carried`: its `degree` variable carried from column to column (the
    increment for "linear" with degree <= 1 kept), as scikit-learn 1.9 does."""
    degree = step.degree
    out = []
    for spl in step.bsplines_:
        if not carried:
            degree = step.degree
        xmin, xmax = float(spl.t[degree]), float(spl.t[-degree - 1])
        f_min, f_max = np.asarray(spl(xmin), np.float64), np.asarray(spl(xmax), np.float64)
        n_splines = f_min.shape[0]
        entry: dict[str, Any] = {"xmin": xmin, "xmax": xmax, "f_min": f_min, "f_max": f_max}
        # (column, when written) of the writes below xmin and above xmax
        if step.extrapolation == "constant":
            below = {c: 0 for c in range(degree)}
            above = {c: 1 for c in range(n_splines - degree, n_splines)} if degree else {}
            entry["fp_min"] = entry["fp_max"] = np.zeros(n_splines)
        else:
            entry["fp_min"] = np.asarray(spl(xmin, nu=1), np.float64)
            entry["fp_max"] = np.asarray(spl(xmax, nu=1), np.float64)
            if degree <= 1:
                degree += 1
            below = {j: 2 * j for j in range(degree)}
            above = {n_splines - 1 - j: 2 * j + 1 for j in range(degree)}
        entry["below"], entry["above"] = below, above
        out.append(entry)
    return out


def _outside(step: SplineTransformer, cols: list[dict[str, Any]], far: float) -> np.ndarray:
    """What `cols` (from _boundaries) give at x = far below (far < 0) or above every knot."""
    blocks = []
    for spl, c in zip(step.bsplines_, cols, strict=True):
        x = float(spl.t[0] + far) if far < 0 else float(spl.t[-1] + far)
        row = np.zeros(len(c["f_min"]))
        side, bound, values, slopes = (
            ("below", c["xmin"], c["f_min"], c["fp_min"])
            if far < 0
            else ("above", c["xmax"], c["f_max"], c["fp_max"])
        )
        for j in c[side]:
            row[j] = values[j] + (x - bound) * slopes[j]
        blocks.append(row if step.include_bias else row[:-1])
    return np.concatenate(blocks)


def _linear_boundaries(step: SplineTransformer, where: str) -> list[dict[str, Any]]:
    """The boundaries scikit-learn's own transform uses: with degree <= 1 and several columns
    the two readings differ, and the fitted step is asked which one it computes."""
    carried = _boundaries(step, carried=True)
    if step.extrapolation != "linear" or step.degree > 1 or len(step.bsplines_) < 2:
        return carried
    import pandas as pd

    far = 1.0 + max(float(np.max(np.abs(spl.t))) for spl in step.bsplines_)
    rows = np.array(
        [[spl.t[0] - far for spl in step.bsplines_], [spl.t[-1] + far for spl in step.bsplines_]]
    )
    names = getattr(step, "feature_names_in_", None)
    probe = pd.DataFrame(rows, columns=names) if names is not None else rows
    answer = np.asarray(
        step.transform(probe).toarray() if step.sparse_output else step.transform(probe)
    )
    for cols in (carried, _boundaries(step, carried=False)):
        expected = np.stack([_outside(step, cols, -far), _outside(step, cols, far)])
        if np.allclose(answer, expected, rtol=1e-12, atol=1e-12):
            return cols
    raise UnsupportedStepError(
        f"Step '{where}' (SplineTransformer(extrapolation='linear', degree={step.degree})) "
        "computes values outside the knots that pipeport does not recognise in this version of "
        "scikit-learn; use degree >= 2 or extrapolation='continue'"
    )


def _bounded(
    g: Graph, step: SplineTransformer, x: str, inside_values: str, n: int, where: str
) -> str:
    """The "constant" / "linear" outputs [N, f, n]: spline values inside [xmin, xmax], the
    boundary values (or lines) outside, zeros for NaN."""
    cols = _linear_boundaries(step, where)

    def row(key: str) -> np.ndarray:
        return np.array([c[key] for c in cols], np.float64).reshape(1, -1)

    def table(key: str) -> str:
        return g.const(np.stack([c[key] for c in cols]).reshape(1, len(cols), n), key)

    def mask(fn: Any, hint: str) -> str:
        return g.const(
            np.array([[fn(c, j) for j in range(n)] for c in cols]).reshape(1, len(cols), n), hint
        )

    xmin, xmax = g.const(row("xmin"), "xmin"), g.const(row("xmax"), "xmax")
    x3 = _axis2(g, x, "spline_x")
    below = _axis2(g, g.op("Less", [x, xmin], "below_xmin"), "below3")
    above = _axis2(g, g.op("Greater", [x, xmax], "above_xmax"), "above3")
    inside = g.op(
        "And",
        [g.op("LessOrEqual", [xmin, x]), g.op("LessOrEqual", [x, xmax])],
        "inside_range",
    )
    below_value = g.op(
        "Add",
        [
            table("f_min"),
            g.op("Mul", [g.op("Sub", [x3, _axis2(g, xmin, "xmin3")]), table("fp_min")]),
        ],
        "below_value",
    )
    above_value = g.op(
        "Add",
        [
            table("f_max"),
            g.op("Mul", [g.op("Sub", [x3, _axis2(g, xmax, "xmax3")]), table("fp_max")]),
        ],
        "above_value",
    )
    zero = scalar(g, 0.0)
    out = g.op("Where", [_axis2(g, inside, "inside3"), inside_values, zero], "spline_inside")
    writes_above = mask(lambda c, j: j in c["above"], "writes_above")
    writes_below = mask(lambda c, j: j in c["below"], "writes_below")
    # a value both below xmin and above xmax (xmin > xmax: only with the carried degree) takes
    # the write scikit-learn makes last
    above_last = mask(
        lambda c, j: j in c["above"] and c["above"][j] > c["below"].get(j, -1), "above_last"
    )
    out = g.op("Where", [g.op("And", [above, writes_above]), above_value, out])
    out = g.op("Where", [g.op("And", [below, writes_below]), below_value, out])
    return str(
        g.op("Where", [g.op("And", [above, above_last]), above_value, out], "spline_extrapolated")
    )


def convert_spline(step: SplineTransformer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    _note_bounds(step, cols, g, where)
    x = g.matrix(cols, where, step)
    k = int(step.degree)
    knots = np.stack([np.asarray(spl.t, np.float64) for spl in step.bsplines_])
    f = knots.shape[0]
    n_splines = int(step.bsplines_[0].c.shape[1])
    if step.extrapolation == "periodic":
        values = basis(g, _periodic_x(g, x, knots, k), knots, k)
        if k:  # outputs 0..k-1 also collect basis functions n_splines..n_splines+k-1
            first = g.op(
                "Add",
                [
                    g.op(
                        "Slice",
                        [values, _i64(g, [0], "s0"), _i64(g, [k], "sk"), _i64(g, [2], "axis2")],
                    ),
                    g.op(
                        "Slice",
                        [
                            values,
                            _i64(g, [n_splines], "sn"),
                            _i64(g, [n_splines + k], "snk"),
                            _i64(g, [2], "axis2"),
                        ],
                    ),
                ],
                "spline_wrapped",
            )
            rest = g.op(
                "Slice",
                [values, _i64(g, [k], "sk"), _i64(g, [n_splines], "sn"), _i64(g, [2], "axis2")],
            )
            values = g.op("Concat", [first, rest], "spline_periodic", axis=2)
    else:
        values = basis(g, x, knots, k)
        if step.extrapolation in ("constant", "linear"):
            values = _bounded(g, step, x, values, n_splines, where)
    if step.handle_missing == "zeros":
        missing = _axis2(g, g.op("IsNaN", [x], "spline_missing"), "missing3")
        values = g.op("Where", [missing, scalar(g, 0.0), values], "spline_zeros")
    width = n_splines
    if not step.include_bias:  # scikit-learn drops each column's last basis function
        width = n_splines - 1
        values = g.op(
            "Slice", [values, _i64(g, [0], "s0"), _i64(g, [width], "width"), _i64(g, [2], "axis2")]
        )
    out = g.op("Reshape", [values, _i64(g, [0, f * width], "spline_shape")], "splines")
    return g.block(out, [str(n) for n in step.get_feature_names_out()])


def _note_bounds(step: SplineTransformer, cols: list[Col], g: Graph, where: str) -> None:
    """The values scikit-learn raises on, as bounds on the columns' raw values."""
    for col, spl in zip(cols, step.bsplines_, strict=True):
        k, n = int(spl.k), len(spl.t) - int(spl.k) - 1
        if step.extrapolation == "error":
            why = "evaluates splines that raise outside their knots (extrapolation='error')"
            g.note_domain(col, "greater_or_equal", float(spl.t[k]), where, why)
            g.note_domain(col, "less_or_equal", float(spl.t[n]), where, why)
        elif step.extrapolation == "constant" and step.degree == 0:
            why = "raises above its last knot (degree=0, extrapolation='constant')"
            g.note_domain(col, "less_or_equal", float(spl.t[-1]), where, why)


def _check(step: SplineTransformer) -> str | None:
    if not hasattr(step, "bsplines_"):
        return "it is not fitted"
    return None


register(
    Converter(
        classes=(SplineTransformer,),
        role="transformer",
        convert=convert_spline,
        check=_check,
        family="splines",
        accepts=(
            "degree, n_knots, knots 'uniform', 'quantile' or an array, extrapolation "
            "'constant', 'linear', 'continue', 'periodic' and 'error' (a value outside the knots "
            "refused in every runtime, as scikit-learn raises), include_bias (both ways), "
            "handle_missing ('error': a missing value refused; 'zeros'), sparse_output (the same "
            "numbers), order"
        ),
        exactness=(
            "scipy's BSpline evaluation (knot interval, de Boor's recursion, coefficient sums) "
            "in float64 operation for operation; boundary values and slopes from scipy itself"
        ),
    )
)
