"""PowerTransformer ("yeo-johnson" and "box-cox", standardize both ways), and its inverse.

scikit-learn transforms each column with scipy's functions, then (standardize=True) with its
fitted StandardScaler, `(y - mean_) / scale_`:

- yeo-johnson (scipy.stats.yeojohnson): x >= 0: expm1(lmbda * log1p(x)) / lmbda (log1p(x) when
  |lmbda| < eps); x < 0: -expm1((2 - lmbda) * log1p(-x)) / (2 - lmbda) (-log1p(-x) when
  |lmbda - 2| <= eps). NaN goes the x < 0 way and stays NaN.
- box-cox (scipy.special.boxcox): log(x) when |lmbda| < 1e-19; expm1(lmbda log x) / lmbda while
  lmbda log x < 709.78; past that sign(lmbda) exp(lmbda log x - log|lmbda|) - 1 / lmbda.

ONNX has no log1p or expm1: `Log(1 + x)` and `Exp(x) - 1` lose every digit of a small argument
(measured: relative error up to 1.0 against numpy's log1p/expm1 on values near 0), so the graph
uses Kahan's forms (export/converters/_special.py), within ~4e-16 of numpy's. onnxruntime's `Log`
and `Exp` are themselves within 1-2 ulps of libm, so the graph is within a few ulps of
scikit-learn (relative error grows with the exponent, ~1e-14 at expm1(30)). Not bitwise, then:
a HistGradientBoosting model after it (float64 splits, whose thresholds are often training values
themselves) can send a value that lands exactly on a threshold the other way, and the gate then
refuses the export (measured: 41 of 700 training rows on `people`); forests (float32 splits) and
smooth models are unaffected. Trees do not need a monotone transform: drop it before them.

Box-Cox raises on values <= 0 (the whole batch): the converter notes that bound on the raw column
it reads (through any scaling, `Graph.note_domain`), so every runtime refuses such a row, naming
the field, as scikit-learn raises.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.preprocessing import PowerTransformer

from pipeport.export.converters._special import expm1, log1p, scalar
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register

_EPS = float(np.finfo(np.float64).eps)  # scipy's and scikit-learn's "lambda is 0 / 2" margin
_BOXCOX_ZERO = 1e-19  # scipy.special.boxcox: |lambda| below it is log(x)
_BOXCOX_EXPM1_LIMIT = 709.78  # scipy.special.boxcox: expm1 below it, exp - 1/lambda from it on


def _row(g: Graph, values: Any, hint: str) -> str:
    return g.const(np.asarray(values, np.float64).reshape(1, -1), hint)


def _mask(g: Graph, values: Any, hint: str) -> str:
    return g.const(np.asarray(values, dtype=bool).reshape(1, -1), hint)


def _select(g: Graph, mask: np.ndarray, special: str, general: str, hint: str) -> str:
    """Per column: `special` where mask, else `general` (no node when one side is unused)."""
    if not mask.any():
        return general
    if mask.all():
        return special
    return str(g.op("Where", [_mask(g, mask, f"{hint}_columns"), special, general], hint))


def _yeo_johnson(g: Graph, x: str, lambdas: np.ndarray) -> str:
    lam = _row(g, lambdas, "lambdas")
    two_minus = _row(g, 2.0 - lambdas, "two_minus_lambdas")
    # x >= 0
    log_pos = log1p(g, x)
    general = g.op(
        "Div", [expm1(g, g.op("Mul", [lam, log_pos], "yj_pos_t")), lam], "yj_pos_general"
    )
    positive = _select(g, np.abs(lambdas) < _EPS, log_pos, general, "yj_pos")
    # x < 0 (and NaN)
    log_neg = log1p(g, g.op("Neg", [x], "yj_minus_x"))
    general = g.op(
        "Div",
        [g.op("Neg", [expm1(g, g.op("Mul", [two_minus, log_neg], "yj_neg_t"))]), two_minus],
        "yj_neg_general",
    )
    negative = _select(g, np.abs(lambdas - 2.0) <= _EPS, g.op("Neg", [log_neg]), general, "yj_neg")
    at_least_zero = g.op("GreaterOrEqual", [x, scalar(g, 0.0)], "yj_is_pos")
    return str(g.op("Where", [at_least_zero, positive, negative], "yeo_johnson"))


def _box_cox(g: Graph, x: str, lambdas: np.ndarray) -> str:
    lam = _row(g, lambdas, "lambdas")
    log_x = g.op("Log", [x], "bc_log")
    t = g.op("Mul", [lam, log_x], "bc_t")
    moderate = g.op("Div", [expm1(g, t), lam], "bc_expm1")
    with np.errstate(divide="ignore"):
        log_abs = np.log(np.abs(lambdas))
        inverse = 1.0 / lambdas
    large = g.op(
        "Sub",
        [
            g.op(
                "Mul",
                [
                    _row(g, np.copysign(1.0, lambdas), "lambda_signs"),
                    g.op("Exp", [g.op("Sub", [t, _row(g, log_abs, "log_abs_lambdas")])]),
                ],
            ),
            _row(g, inverse, "inverse_lambdas"),
        ],
        "bc_large",
    )
    general = g.op(
        "Where", [g.op("Less", [t, scalar(g, _BOXCOX_EXPM1_LIMIT)]), moderate, large], "bc"
    )
    return _select(g, np.abs(lambdas) < _BOXCOX_ZERO, log_x, general, "box_cox")


def power_transform(step: PowerTransformer, x: str, g: Graph) -> str:
    """step.transform on the float64 [N, k] tensor x."""
    lambdas = np.asarray(step.lambdas_, np.float64)
    box_cox = step.method == "box-cox"
    out = _box_cox(g, x, lambdas) if box_cox else _yeo_johnson(g, x, lambdas)
    if step.standardize:
        scaler = step._scaler
        out = g.op("Sub", [out, _row(g, scaler.mean_, "pt_mean")], "pt_centered")
        out = g.op("Div", [out, _row(g, scaler.scale_, "pt_scale")], "pt_scaled")
    return str(out)


def convert_power_transformer(
    step: PowerTransformer, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    if step.method == "box-cox":
        for col in cols:
            g.note_domain(col, "greater_than", 0.0, where, "applies a Box-Cox transformation")
    x = g.matrix(cols, where, step)
    return g.block(power_transform(step, x, g), [c.name for c in cols])


def inverse_power_transformer(step: PowerTransformer, x: str, g: Graph, where: str) -> str:
    """step.inverse_transform on the float64 [N, k] tensor x: the scaler's inverse (x * scale_ +
    mean_), then scipy's inv_boxcox, exp(log1p(lmbda x) / lmbda) (exp(x) when lmbda == 0), or
    scikit-learn's own Yeo-Johnson inverse, with np.power and np.exp(x) - 1 as it writes them."""
    lambdas = np.asarray(step.lambdas_, np.float64)
    if step.standardize:
        scaler = step._scaler
        x = g.op("Mul", [x, _row(g, scaler.scale_, "pt_scale")], "pt_unscaled")
        x = g.op("Add", [x, _row(g, scaler.mean_, "pt_mean")], "pt_uncentered")
    lam = _row(g, lambdas, "lambdas")
    if step.method == "box-cox":
        general = g.op("Exp", [g.op("Div", [log1p(g, g.op("Mul", [lam, x])), lam])], "inv_boxcox")
        return _select(g, lambdas == 0.0, g.op("Exp", [x]), general, "inv_boxcox")
    one = scalar(g, 1.0)
    with np.errstate(divide="ignore"):
        pos_exponent, neg_exponent = 1.0 / lambdas, 1.0 / (2.0 - lambdas)
    # x >= 0: np.power(x * lmbda + 1, 1 / lmbda) - 1, or np.exp(x) - 1 when |lmbda| < eps
    base = g.op("Add", [g.op("Mul", [x, lam]), one], "inv_yj_pos_base")
    general = g.op("Sub", [g.op("Pow", [base, _row(g, pos_exponent, "inv_yj_pos_exp")]), one])
    special = g.op("Sub", [g.op("Exp", [x]), one], "inv_yj_pos_exp")
    positive = _select(g, np.abs(lambdas) < _EPS, special, general, "inv_yj_pos")
    # x < 0: 1 - np.power(-(2 - lmbda) * x + 1, 1 / (2 - lmbda)), or 1 - np.exp(-x)
    base = g.op(
        "Add", [g.op("Mul", [_row(g, -(2.0 - lambdas), "minus_two_minus"), x]), one], "inv_neg"
    )
    general = g.op("Sub", [one, g.op("Pow", [base, _row(g, neg_exponent, "inv_yj_neg_exp")])])
    special = g.op("Sub", [one, g.op("Exp", [g.op("Neg", [x])])], "inv_yj_neg_exp")
    negative = _select(g, ~(np.abs(lambdas - 2.0) > _EPS), special, general, "inv_yj_neg")
    at_least_zero = g.op("GreaterOrEqual", [x, scalar(g, 0.0)], "inv_yj_is_pos")
    return str(g.op("Where", [at_least_zero, positive, negative], "inv_yeo_johnson"))


def _check(step: PowerTransformer) -> str | None:
    if not hasattr(step, "lambdas_"):
        return "it is not fitted"
    return None


register(
    Converter(
        classes=(PowerTransformer,),
        role="transformer",
        convert=convert_power_transformer,
        check=_check,
        inverse=inverse_power_transformer,
        family="scalers",
        accepts=(
            "method 'yeo-johnson' and 'box-cox' (a value <= 0 refused in every runtime, as "
            "scikit-learn raises), standardize (both ways); missing values pass through as NaN; "
            "inverse_transform (for TransformedTargetRegressor)"
        ),
        exactness=(
            "scipy's formulas in float64 operation for operation, log1p and expm1 in Kahan's "
            "forms (Log(1 + x) would lose the digits of small values): within a few ulps of "
            "scikit-learn (onnxruntime's Log and Exp are within 1-2 ulps of libm); into a "
            "HistGradientBoosting model, a value exactly on a split threshold can go the other "
            "way, which the gate refuses"
        ),
    )
)
