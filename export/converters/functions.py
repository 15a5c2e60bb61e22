"""FunctionTransformer with a numpy function, forward and inverse, elementwise in float64.

np.log, np.log1p, np.exp, np.expm1, np.sqrt, np.square, np.abs, np.reciprocal and np.clip (its
bounds in `kw_args`), and None (the identity). ONNX has no log1p or expm1: `_special` computes
them in cancellation-free forms, within a few ulps of numpy where a plain log(1 + x) would lose
every digit of a small x. Any other function is arbitrary
Python and refused, pointing at pipeport.register_converter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.preprocessing import FunctionTransformer

from pipeport.export.converters import _special
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register

Unary = Callable[[Graph, str, dict[str, Any]], str]


def _log1p(g: Graph, x: str, _kw: dict[str, Any]) -> str:
    return _special.log1p(g, x)


def _expm1(g: Graph, x: str, _kw: dict[str, Any]) -> str:
    return _special.expm1(g, x)


def _clip(g: Graph, x: str, kw: dict[str, Any]) -> str:
    low = kw.get("a_min", kw.get("min"))
    high = kw.get("a_max", kw.get("max"))
    inputs = [
        x,
        g.const(np.array(float(low)), "clip_min") if low is not None else "",
        g.const(np.array(float(high)), "clip_max") if high is not None else "",
    ]
    while inputs and inputs[-1] == "":
        inputs.pop()
    return g.op("Clip", inputs, "clip")  # NaN stays NaN, as np.clip


def _simple(op: str) -> Unary:
    return lambda g, x, _kw: g.op(op, [x], op.lower())


FUNCTIONS: dict[Any, Unary] = {
    np.log: _simple("Log"),
    np.exp: _simple("Exp"),
    np.sqrt: _simple("Sqrt"),
    np.abs: _simple("Abs"),
    np.reciprocal: _simple("Reciprocal"),
    np.square: lambda g, x, _kw: g.op("Mul", [x, x], "square"),
    np.log1p: _log1p,
    np.expm1: _expm1,
    np.clip: _clip,
}
_CLIP_KEYS = {"a_min", "a_max", "min", "max"}


def _function_problem(func: Any, kw_args: dict[str, Any] | None) -> str | None:
    if func is None:
        return None
    if func not in FUNCTIONS:
        name = getattr(func, "__name__", repr(func))
        return (
            f"its function ({name}) is arbitrary Python, which pipeport cannot read. It exports "
            "np.log, np.log1p, np.exp, np.expm1, np.sqrt, np.square, np.abs, np.reciprocal and "
            "np.clip; for anything else write a small transformer class and register a converter "
            "for it with pipeport.register_converter (docs/converters.md)"
        )
    extra = set(kw_args or {}) - (_CLIP_KEYS if func is np.clip else set())
    if extra:
        return f"kw_args {sorted(extra)} are not supported for {func.__name__}"
    return None


#: The values each function needs (outside them it gives -inf or NaN, which a model refuses).
DOMAINS: dict[Any, tuple[str, float, str]] = {
    np.log: ("greater_than", 0.0, "takes its log"),
    np.log1p: ("greater_than", -1.0, "takes log1p of it"),
    np.sqrt: ("greater_or_equal", 0.0, "takes its square root"),
}


def apply(func: Any, kw_args: dict[str, Any] | None, g: Graph, X: str) -> str:
    """func(X) for a supported numpy function (None: X)."""
    if func is None:
        return X
    return FUNCTIONS[func](g, X, dict(kw_args or {}))


def convert_function_transformer(
    step: FunctionTransformer, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    if step.func is None:
        return cols
    if step.func in DOMAINS:
        bound, value, why = DOMAINS[step.func]
        for col in cols:
            g.note_domain(col, bound, value, where, why)
    X = g.matrix(cols, where, step)
    out = apply(step.func, step.kw_args, g, X)
    names = [str(n) for n in step.get_feature_names_out()] if step.feature_names_out else None
    return g.block(out, names or [c.name for c in cols])


def inverse_function_transformer(step: FunctionTransformer, X: str, g: Graph, where: str) -> str:
    return apply(step.inverse_func, step.inv_kw_args, g, X)


def _check(step: FunctionTransformer) -> str | None:
    return _function_problem(step.func, step.kw_args)


register(
    Converter(
        classes=(FunctionTransformer,),
        role="transformer",
        convert=convert_function_transformer,
        check=_check,
        inverse=inverse_function_transformer,
        family="functions",
        accepts="func and inverse_func None (the identity; what 'passthrough' becomes in a "
        "fitted ColumnTransformer), np.log, np.log1p, np.exp, np.expm1, np.sqrt, np.square, "
        "np.abs, np.reciprocal, np.clip with kw_args a_min/a_max",
        exactness="elementwise float64 ops; log1p and expm1 in cancellation-free forms, within "
        "a few ulps of numpy",
    )
)
