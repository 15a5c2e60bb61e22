"""QuantileTransformer (output_distribution "uniform" and "normal"), and its inverse.

scikit-learn (`_transform_col`) maps each value through the fitted quantiles with np.interp, twice
and averaged, so repeated quantiles map to the middle of their references:

    0.5 * (interp(x, quantiles, references) - interp(-x, -quantiles[::-1], -references[::-1]))

then sends values at the bounds to 0 and 1 ("uniform": x == quantiles[0] / [-1]; "normal": within
BOUNDS_THRESHOLD = 1e-7 of them or beyond), and for "normal" applies scipy's `norm.ppf` (`ndtri`)
and clips to ppf(1e-7 - eps) and ppf(1 - (1e-7 - eps)). NaN stays NaN.

np.interp, as numpy computes it: for x, j = the last index with xp[j] <= x (a count of the
quantiles <= x, from one broadcast comparison); fp[0] below the first, fp[-1] from the last on,
fp[j] where x == xp[j], else slope[j] * (x - xp[j]) + fp[j] with slope[j] = (fp[j+1] - fp[j]) /
(xp[j+1] - xp[j]) precomputed by numpy exactly as numpy's C loop computes it. Those are the same
float64 operations on the same operands, so "uniform" gives scikit-learn's bits; "normal" adds
Cephes' ndtri (export/converters/_special.py), within a few ulps of scipy (onnxruntime's Log is
1 ulp off libm's in a quarter of cases): into a HistGradientBoosting model, whose float64 split
thresholds are often training values, a value exactly on one can go the other way, which the
gate refuses (forests split in float32 and are unaffected).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.preprocessing import QuantileTransformer

from pipeport.export.converters._special import ndtr, ndtri, scalar
from pipeport.export.graph import INT64, Col, Graph
from pipeport.export.registry import Converter, register

#: scikit-learn's sklearn.preprocessing._data.BOUNDS_THRESHOLD
BOUNDS_THRESHOLD = 1e-7


def _slopes(xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """numpy's interp slopes, (fp[j+1] - fp[j]) / (xp[j+1] - xp[j]) (inf or NaN where xp
    repeats: never used, since then xp[j] <= x < xp[j+1] cannot hold), and a last 0 so that
    every column has xp's length."""
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = (fp[:, 1:] - fp[:, :-1]) / (xp[:, 1:] - xp[:, :-1])
    return np.concatenate([slopes, np.zeros((xp.shape[0], 1))], axis=1)


def interp(g: Graph, x: str, xp: np.ndarray, fp: np.ndarray, hint: str) -> str:
    """np.interp(x[:, i], xp[i], fp[i]) for every column i of the float64 [N, k] tensor `x`:
    `xp` and `fp` are [k, n], each row increasing (xp may repeat). NaN in gives fp[0] (the
    caller puts NaN back)."""
    k, n = xp.shape
    if n == 1:  # numpy: fp[0] everywhere; the same as a repeated point
        xp, fp = np.repeat(xp, 2, axis=1), np.repeat(fp, 2, axis=1)
        n = 2
    slopes = _slopes(xp, fp)
    # j = how many xp <= x, minus one: [N, k, 1] against [1, k, n]
    x3 = g.op("Unsqueeze", [x, g.const(np.array([2], np.int64), "axis2")], f"{hint}_x")
    below = g.op("LessOrEqual", [g.const(xp.reshape(1, k, n), f"{hint}_xp"), x3], f"{hint}_le")
    count = g.op(
        "ReduceSum",
        [g.op("Cast", [below], f"{hint}_le", to=INT64), g.const(np.array([2], np.int64), "axis2")],
        f"{hint}_count",
        keepdims=0,
    )
    j = g.op("Sub", [count, g.const(np.array(1, np.int64), "one")], f"{hint}_j")
    inner = g.op(
        "Clip",
        [j, g.const(np.array(0, np.int64), "zero"), g.const(np.array(n - 2, np.int64), "last")],
        f"{hint}_inner",
    )
    flat = g.op(
        "Add", [inner, g.const((np.arange(k, dtype=np.int64) * n).reshape(1, k), f"{hint}_row")]
    )

    def take(values: np.ndarray, name: str) -> str:
        return str(g.op("Gather", [g.const(values.reshape(-1), name), flat], name, axis=0))

    x_j, f_j = take(xp, f"{hint}_xpj"), take(fp, f"{hint}_fpj")
    line = g.op(
        "Add",
        [g.op("Mul", [take(slopes, f"{hint}_slope"), g.op("Sub", [x, x_j])], f"{hint}_dy"), f_j],
        f"{hint}_line",
    )
    value = g.op("Where", [g.op("Equal", [x, x_j]), f_j, line], hint)
    first = g.const(fp[:, :1].reshape(1, k), f"{hint}_first")
    last = g.const(fp[:, -1:].reshape(1, k), f"{hint}_last")
    value = g.op(
        "Where", [g.op("Equal", [j, g.const(np.array(n - 1, np.int64), "last")]), last, value]
    )
    return str(
        g.op("Where", [g.op("Less", [j, g.const(np.array(0, np.int64), "zero")]), first, value])
    )


def _nan_back(g: Graph, x: str, out: str, hint: str) -> str:
    return str(g.op("Where", [g.op("IsNaN", [x]), x, out], hint))


def _bounds(
    g: Graph, step: QuantileTransformer, x: str, low: np.ndarray, high: np.ndarray
) -> tuple[str, str]:
    """scikit-learn's lower_bounds_idx and upper_bounds_idx ([N, k] bool)."""
    low_c, high_c = g.const(low.reshape(1, -1), "qt_low"), g.const(high.reshape(1, -1), "qt_high")
    if step.output_distribution == "normal":
        t = scalar(g, BOUNDS_THRESHOLD)
        lower = g.op("Less", [g.op("Sub", [x, t]), low_c], "qt_lower")
        upper = g.op("Greater", [g.op("Add", [x, t]), high_c], "qt_upper")
    else:
        lower = g.op("Equal", [x, low_c], "qt_lower")
        upper = g.op("Equal", [x, high_c], "qt_upper")
    return lower, upper


def quantile_transform(step: QuantileTransformer, x: str, g: Graph) -> str:
    """step.transform on the float64 [N, k] tensor x."""
    quantiles = np.asarray(step.quantiles_, np.float64).T  # [k, n]
    references = np.asarray(step.references_, np.float64)
    refs = np.broadcast_to(references, quantiles.shape)
    up = interp(g, x, quantiles, refs, "qt_up")
    down = interp(g, g.op("Neg", [x]), -quantiles[:, ::-1], -refs[:, ::-1], "qt_down")
    mean = g.op("Mul", [scalar(g, 0.5), g.op("Sub", [up, down])], "qt_interp")
    lower, upper = _bounds(g, step, x, quantiles[:, 0], quantiles[:, -1])
    out = g.op("Where", [upper, scalar(g, 1.0), mean], "qt_bounded")
    out = g.op("Where", [lower, scalar(g, 0.0), out], "qt_bounded")
    out = _nan_back(g, x, out, "qt_uniform")
    if step.output_distribution == "normal":
        out = ndtri(g, out)
        eps = np.spacing(1)
        low = float(stats.norm.ppf(BOUNDS_THRESHOLD - eps))
        high = float(stats.norm.ppf(1 - (BOUNDS_THRESHOLD - eps)))
        out = g.op("Where", [g.op("Less", [out, scalar(g, low)]), scalar(g, low), out])
        out = g.op("Where", [g.op("Greater", [out, scalar(g, high)]), scalar(g, high), out])
    return str(out)


def convert_quantile_transformer(
    step: QuantileTransformer, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    x = g.matrix(cols, where, step)
    return g.block(quantile_transform(step, x, g), [c.name for c in cols])


def inverse_quantile_transformer(step: QuantileTransformer, x: str, g: Graph, where: str) -> str:
    """step.inverse_transform on the float64 [N, k] tensor x: ("normal": scipy's norm.cdf
    first) np.interp(x, references_, quantiles), values at or past the bounds to the first and
    last quantile."""
    quantiles = np.asarray(step.quantiles_, np.float64).T
    refs = np.broadcast_to(np.asarray(step.references_, np.float64), quantiles.shape)
    if step.output_distribution == "normal":
        x = ndtr(g, x)
    k = quantiles.shape[0]
    lower, upper = _bounds(g, step, x, np.zeros(k), np.ones(k))
    out = interp(g, x, refs, quantiles, "qt_inverse")
    out = g.op("Where", [upper, g.const(quantiles[:, -1].reshape(1, -1), "qt_max"), out])
    out = g.op("Where", [lower, g.const(quantiles[:, 0].reshape(1, -1), "qt_min"), out])
    return _nan_back(g, x, out, "qt_inverse")


def _check(step: QuantileTransformer) -> str | None:
    if not hasattr(step, "quantiles_"):
        return "it is not fitted"
    if hasattr(step.quantiles_, "toarray"):
        return "its quantiles are sparse"
    return None


register(
    Converter(
        classes=(QuantileTransformer,),
        role="transformer",
        convert=convert_quantile_transformer,
        check=_check,
        inverse=inverse_quantile_transformer,
        family="scalers",
        accepts=(
            "output_distribution 'uniform' and 'normal', n_quantiles, subsample, "
            "ignore_implicit_zeros (dense input); missing values pass through as NaN; "
            "inverse_transform (for TransformedTargetRegressor)"
        ),
        exactness=(
            "numpy's np.interp in float64 operation for operation (the two-sided average, the "
            "bounds at 1e-7, the clip), so 'uniform' gives scikit-learn's bits; 'normal' adds "
            "scipy's ndtri as Cephes computes it, within a few ulps (onnxruntime's Log)"
        ),
    )
)
