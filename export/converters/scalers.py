"""StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler: elementwise, in float64.

scikit-learn computes `X -= mean_; X /= scale_` (Standard), `X *= scale_; X += min_` then the
optional clip (MinMax), `X /= scale_` (MaxAbs), `X -= center_; X /= scale_` (Robust), in float64.
The same operations in the same order on float64 tensors give the same bits; skl2onnx's `Scaler`
op is float32 and multiplies by 1/scale, which does not. Missing values stay NaN, as in
scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register

Affine = tuple[str, float, float] | None


def _row(values: Any) -> np.ndarray:
    return np.asarray(values, np.float64).reshape(1, -1)


def _elementwise(
    step: Any,
    cols: list[Col],
    g: Graph,
    where: str,
    ops: list[tuple[str, np.ndarray]],
) -> tuple[str, list[Affine]]:
    """Apply `ops` ((ONNX op, per-column operand), in order) to the columns; also carry each
    column's affine lineage through them."""
    X = g.matrix(cols, where, step)
    affine: list[Affine] = [c.affine for c in cols]
    for op, operand in ops:
        X = g.op(op, [X, g.const(_row(operand), op.lower())], type(step).__name__.lower())
        values = np.asarray(operand, np.float64).reshape(-1)
        affine = [_compose(a, op, float(v)) for a, v in zip(affine, values, strict=True)]
    return X, affine


def _compose(a: Affine, op: str, v: float) -> Affine:
    if a is None:
        return None
    raw, scale, offset = a
    if op == "Sub":
        return raw, scale, offset - v
    if op == "Add":
        return raw, scale, offset + v
    if op == "Mul":
        return raw, scale * v, offset * v
    return raw, scale / v, offset / v  # Div


def _names(step: Any, cols: list[Col]) -> list[str]:
    return [c.name for c in cols]


def convert_standard_scaler(
    step: StandardScaler, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    ops = []
    if step.with_mean:
        ops.append(("Sub", step.mean_))
    if step.with_std:
        ops.append(("Div", step.scale_))
    X, affine = _elementwise(step, cols, g, where, ops)
    return g.block(X, _names(step, cols), affine=affine)


def convert_min_max_scaler(step: MinMaxScaler, cols: list[Col], g: Graph, where: str) -> list[Col]:
    X, affine = _elementwise(step, cols, g, where, [("Mul", step.scale_), ("Add", step.min_)])
    if step.clip:
        low, high = (float(v) for v in step.feature_range)
        clipped = g.op("Clip", [X, g.const(np.array(low), "low"), g.const(np.array(high), "high")])
        X = clipped  # Clip keeps NaN, as np.clip does
        affine = [None] * len(cols)
    return g.block(X, _names(step, cols), affine=affine)


def convert_max_abs_scaler(step: MaxAbsScaler, cols: list[Col], g: Graph, where: str) -> list[Col]:
    X, affine = _elementwise(step, cols, g, where, [("Div", step.scale_)])
    return g.block(X, _names(step, cols), affine=affine)


def convert_robust_scaler(step: RobustScaler, cols: list[Col], g: Graph, where: str) -> list[Col]:
    ops = []
    if step.with_centering:
        ops.append(("Sub", step.center_))
    if step.with_scaling:
        ops.append(("Div", step.scale_))
    X, affine = _elementwise(step, cols, g, where, ops)
    return g.block(X, _names(step, cols), affine=affine)


def _inverse(ops: Callable[[Any], list[tuple[str, Any]]]) -> Callable[..., str]:
    """inverse_transform as elementwise ops on a float64 [N, k] tensor (for a target)."""

    def inverse(step: Any, X: str, g: Graph, where: str) -> str:
        for op, operand in ops(step):
            X = g.op(op, [X, g.const(_row(operand), op.lower())], "inverse")
        return X

    return inverse


def _standard_inverse(s: StandardScaler) -> list[tuple[str, Any]]:
    return ([("Mul", s.scale_)] if s.with_std else []) + ([("Add", s.mean_)] if s.with_mean else [])


def _robust_inverse(s: RobustScaler) -> list[tuple[str, Any]]:
    scale = [("Mul", s.scale_)] if s.with_scaling else []
    return scale + ([("Add", s.center_)] if s.with_centering else [])


_EXACT = "the same float64 operations as scikit-learn, in the same order"

register(
    Converter(
        classes=(StandardScaler,),
        role="transformer",
        convert=convert_standard_scaler,
        inverse=_inverse(_standard_inverse),
        family="scalers",
        accepts="with_mean, with_std (both ways)",
        exactness=_EXACT + ": (x - mean_) / scale_",
    )
)
register(
    Converter(
        classes=(MinMaxScaler,),
        role="transformer",
        convert=convert_min_max_scaler,
        inverse=_inverse(lambda s: [("Sub", s.min_), ("Div", s.scale_)]),
        family="scalers",
        accepts="feature_range, clip (both ways)",
        exactness=_EXACT + ": x * scale_ + min_, then clip",
    )
)
register(
    Converter(
        classes=(MaxAbsScaler,),
        role="transformer",
        convert=convert_max_abs_scaler,
        inverse=_inverse(lambda s: [("Mul", s.scale_)]),
        family="scalers",
        accepts="every parameter",
        exactness=_EXACT + ": x / scale_",
    )
)
register(
    Converter(
        classes=(RobustScaler,),
        role="transformer",
        convert=convert_robust_scaler,
        inverse=_inverse(_robust_inverse),
        family="scalers",
        accepts="with_centering, with_scaling, quantile_range, unit_variance",
        exactness=_EXACT + ": (x - center_) / scale_",
    )
)
