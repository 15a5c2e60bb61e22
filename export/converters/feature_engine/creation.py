"""feature-engine's feature creators: MathFeatures, RelativeFeatures and CyclicalFeatures.

They append new columns (replacing one of the same name, as `X[name] = ...` does) and, with
`drop_original=True`, drop the columns they read. The arithmetic is pandas', reproduced in
float64 in its order:

- MathFeatures: `X[variables].agg(func, axis=1)`, i.e. pandas' nan-aware reductions over the
  row: sum, mean (sum / count), prod, max, min, var and std (two-pass: the mean, then the squared
  deviations; ddof=1; NaN below two values), median (the middle value, or the mean of the two).
  The order of the additions is pandas': with `missing_values='raise'` it sums its frame as it
  is, left to right; with 'ignore' (and a missing value in the batch) it sums a zero-filled
  copy, which numpy sums pairwise from 8 values on (8 accumulators), as it always does for var
  and std. Below 8 values the two orders are the same. A missing value is skipped (the sum of
  nothing is 0, the product 1, the others NaN).
- RelativeFeatures: `X[variables] <op> X[reference]` for add, sub, mul, div, truediv, floordiv,
  mod, pow; floordiv and mod as numpy's `npy_divmod` (fmod, then the sign and the floor
  corrections), so they agree with numpy's values exactly; a zero reference gives `fill_value` (when
  it is None feature-engine raises on the whole batch, which a range cannot express: the gate
  leaves such rows out and reports them).
- CyclicalFeatures: `np.sin(x * (2.0 * np.pi / max_value))` and cos (onnxruntime's Sin and Cos
  are within ~1e-12 relative of numpy's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from feature_engine.creation import CyclicalFeatures, MathFeatures, RelativeFeatures

from pipeport.export.converters.feature_engine._frame import Frame
from pipeport.export.graph import DOUBLE, INT64, Col, Graph
from pipeport.export.registry import Converter, register

MATH_FUNCTIONS = ("sum", "mean", "prod", "max", "min", "var", "std", "median")


def _c(g: Graph, value: float, hint: str = "k") -> str:
    return str(g.const(np.array(value, np.float64), hint))


def sequential_sum(g: Graph, terms: Sequence[str]) -> str:
    total = terms[0]
    for term in terms[1:]:
        total = g.op("Add", [total, term], "sum")
    return str(total)


def pairwise_sum(g: Graph, terms: Sequence[str]) -> str:
    """numpy's pairwise_sum over a contiguous row: left to right below 8 values; else 8
    accumulators, combined ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the rest one
    by one; halves (at a multiple of 8) past 128 values."""
    n = len(terms)
    if n < 8:
        return sequential_sum(g, terms)
    if n > 128:
        half = n // 2
        half -= half % 8
        return str(
            g.op("Add", [pairwise_sum(g, terms[:half]), pairwise_sum(g, terms[half:])], "sum")
        )
    r = list(terms[:8])
    i = 8
    while i < n - (n % 8):
        r = [g.op("Add", [r[j], terms[i + j]], "sum") for j in range(8)]
        i += 8

    def add(a: str, b: str) -> str:
        return str(g.op("Add", [a, b], "sum"))

    total = add(add(add(r[0], r[1]), add(r[2], r[3])), add(add(r[4], r[5]), add(r[6], r[7])))
    for term in terms[i:]:
        total = add(total, term)
    return total


def _sorted(g: Graph, terms: Sequence[str]) -> list[str]:
    """The values of each row in ascending order: an odd-even transposition network of Min and
    Max (exact; NaN must have been replaced)."""
    values = list(terms)
    for rnd in range(len(values)):
        for i in range(rnd % 2, len(values) - 1, 2):
            low = g.op("Min", [values[i], values[i + 1]], "sort_low")
            high = g.op("Max", [values[i], values[i + 1]], "sort_high")
            values[i], values[i + 1] = low, high
    return values


class _Row:
    """The variables of one MathFeatures row: values, whether each is missing, how many are not."""

    def __init__(self, g: Graph, terms: list[str], skip_missing: bool) -> None:
        self.g, self.terms, self.skip = g, terms, skip_missing
        if skip_missing:
            self.missing = [g.op("IsNaN", [t], "is_na") for t in terms]
            present = [g.op("Cast", [g.op("Not", [m])], "present", to=DOUBLE) for m in self.missing]
            self.count = sequential_sum(g, present)
        else:
            self.count = _c(g, float(len(terms)), "count")

    def filled(self, value: float) -> list[str]:
        """The values with missing ones replaced by `value` (what pandas puts in for them)."""
        if not self.skip:
            return self.terms
        fill = _c(self.g, value, "fill")
        return [
            str(self.g.op("Where", [m, fill, t], "filled"))
            for m, t in zip(self.missing, self.terms, strict=True)
        ]

    def none_if_empty(self, x: str, below: float = 1.0) -> str:
        """NaN where fewer than `below` values are present."""
        if not self.skip and len(self.terms) >= below:
            return x
        few = self.g.op("Less", [self.count, _c(self.g, below, "min_count")], "too_few")
        return str(self.g.op("Where", [few, _c(self.g, np.nan, "nan"), x], "reduced"))


def _sum(row: _Row) -> str:
    zeros = row.filled(0.0)
    return pairwise_sum(row.g, zeros) if row.skip else sequential_sum(row.g, zeros)


def _mean(row: _Row) -> str:
    return str(row.g.op("Div", [_sum(row), row.count], "mean"))


def _var(row: _Row) -> str:
    g = row.g
    zeros = row.filled(0.0)
    mean = g.op("Div", [pairwise_sum(g, zeros), row.count], "mean")
    squares = []
    for i, z in enumerate(zeros):
        d = g.op("Sub", [mean, z], "deviation")
        sq = g.op("Mul", [d, d], "squared")
        if row.skip:
            sq = g.op("Where", [row.missing[i], _c(g, 0.0, "zero"), sq], "squared")
        squares.append(sq)
    ddof = g.op("Sub", [row.count, _c(g, 1.0, "one")], "ddof")
    var = g.op("Div", [pairwise_sum(g, squares), ddof], "var")
    return row.none_if_empty(var, below=2.0)


def _std(row: _Row) -> str:
    return str(row.g.op("Sqrt", [_var(row)], "std"))


def _prod(row: _Row) -> str:
    ones = row.filled(1.0)
    total = ones[0]
    for term in ones[1:]:
        total = row.g.op("Mul", [total, term], "prod")
    return str(total)


def _extreme(op: str, fill: float) -> Callable[[_Row], str]:
    def reduce(row: _Row) -> str:
        return row.none_if_empty(str(row.g.op(op, row.filled(fill), op.lower())))

    return reduce


def _median(row: _Row) -> str:
    g = row.g
    ordered = _sorted(g, row.filled(np.inf))
    n = len(ordered)
    if not row.skip:
        low, high = ordered[(n - 1) // 2], ordered[n // 2]
        if n % 2:
            return low
        return str(g.op("Div", [g.op("Add", [low, high]), _c(g, 2.0, "two")], "median"))
    count = g.op("Cast", [row.count], "count", to=INT64)
    half_low = g.op(
        "Div", [g.op("Sub", [count, g.const(np.array(1, np.int64), "one_i")]), _two_i(g)]
    )
    half_high = g.op("Div", [count, _two_i(g)], "half")
    low = _pick(g, ordered, half_low)
    high = _pick(g, ordered, half_high)
    even = g.op(
        "Equal", [g.op("Mod", [count, _two_i(g)]), g.const(np.array(0, np.int64), "zero_i")]
    )
    middle = g.op("Div", [g.op("Add", [low, high]), _c(g, 2.0, "two")], "median_even")
    return row.none_if_empty(str(g.op("Where", [even, middle, low], "median")))


def _two_i(g: Graph) -> str:
    return str(g.const(np.array(2, np.int64), "two_i"))


def _pick(g: Graph, ordered: list[str], index: str) -> str:
    """ordered[index] per row (index an [N, 1] int64; integer division rounds toward zero, and
    index is never negative where the value is used)."""
    out = ordered[0]
    for j in range(1, len(ordered)):
        is_j = g.op("Equal", [index, g.const(np.array(j, np.int64), "position")], "is_j")
        out = g.op("Where", [is_j, ordered[j], out], "picked")
    return str(out)


_REDUCERS: dict[str, Callable[[_Row], str]] = {
    "sum": _sum,
    "mean": _mean,
    "prod": _prod,
    "max": _extreme("Max", -np.inf),
    "min": _extreme("Min", np.inf),
    "var": _var,
    "std": _std,
    "median": _median,
}


def _functions(step: MathFeatures) -> list[Any]:
    return list(step.func) if isinstance(step.func, list) else [step.func]


def convert_math_features(step: MathFeatures, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    terms = [frame.numbers([v]) for v in step.variables]
    row = _Row(g, terms, skip_missing=step.missing_values == "ignore")
    names = step._get_new_features_name()
    for name, func in zip(names, _functions(step), strict=True):
        (col,) = g.block(_REDUCERS[func](row), [str(name)])
        frame[name] = col
    if step.drop_original:
        frame.drop(list(step.variables))
    return frame.result()


def _divmod(g: Graph, a: str, b: str) -> tuple[str, str]:
    """numpy's npy_divmod for b != 0: (floor division, remainder), equal values. (numpy also
    gives a zero result the sign of b or of a / b; onnxruntime's Where returns +0.0 for -0.0
    whatever the graph asks, so no converter reproduces the sign of a zero.)"""
    zero = _c(g, 0.0, "zero")
    one = _c(g, 1.0, "one")
    mod = g.op("Mod", [a, b], "fmod", fmod=1)
    div = g.op("Div", [g.op("Sub", [a, mod], "a_minus_mod"), b], "div")
    mod_nonzero = g.op("Not", [g.op("Equal", [mod, zero], "mod_is_zero")], "mod_nonzero")
    signs_differ = g.op(
        "Xor", [g.op("Less", [b, zero], "b_neg"), g.op("Less", [mod, zero], "mod_neg")]
    )
    adjust = g.op("And", [mod_nonzero, signs_differ], "adjust")
    mod = g.op("Where", [adjust, g.op("Add", [mod, b]), mod], "remainder")
    div = g.op("Where", [adjust, g.op("Sub", [div, one]), div], "div")
    floor = g.op("Floor", [div], "floor")
    up = g.op("Greater", [g.op("Sub", [div, floor]), _c(g, 0.5, "half")], "round_up")
    floor = g.op("Where", [up, g.op("Add", [floor, one]), floor], "floordiv")
    return str(floor), str(mod)


_DIVISIONS = ("div", "truediv", "floordiv", "mod")


def _relative(g: Graph, func: str, x: str, ref: str) -> str:
    if func == "add":
        return str(g.op("Add", [x, ref], "add"))
    if func == "sub":
        return str(g.op("Sub", [x, ref], "sub"))
    if func == "mul":
        return str(g.op("Mul", [x, ref], "mul"))
    if func == "pow":
        return str(g.op("Pow", [x, ref], "pow"))
    if func in ("div", "truediv"):
        return str(g.op("Div", [x, ref], "div"))
    floordiv, mod = _divmod(g, x, ref)
    return floordiv if func == "floordiv" else mod


def convert_relative_features(
    step: RelativeFeatures, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    frame = Frame(step, cols, g, where)
    values = frame.numbers(list(step.variables))
    for func in step.func:
        for reference in step.reference:
            ref = frame.numbers([reference])
            out = _relative(g, func, values, ref)
            if func in _DIVISIONS and step.fill_value is not None:
                zero = g.op("Equal", [ref, _c(g, 0.0, "zero")], "zero_reference")
                out = g.op("Where", [zero, _c(g, float(step.fill_value), "fill"), out], func)
            names = [f"{v}_{func}_{reference}" for v in step.variables]
            for name, col in zip(names, g.block(out, names), strict=True):
                frame[name] = col
    if step.drop_original:
        frame.drop(list(dict.fromkeys([*step.variables, *step.reference])))
    return frame.result()


def convert_cyclical_features(
    step: CyclicalFeatures, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    frame = Frame(step, cols, g, where)
    for v in step.variables_:
        angle = g.op(
            "Mul",
            [frame.numbers([v]), _c(g, 2.0 * np.pi / step.max_values_[v], "radians")],
            "angle",
        )
        for suffix, op in (("sin", "Sin"), ("cos", "Cos")):
            (col,) = g.block(g.op(op, [angle], suffix), [f"{v}_{suffix}"])
            frame[f"{v}_{suffix}"] = col
    if step.drop_original:
        frame.drop(list(step.variables_))
    return frame.result()


def _check_math(step: MathFeatures) -> str | None:
    unknown = [f for f in _functions(step) if not (isinstance(f, str) and f in MATH_FUNCTIONS)]
    if unknown:
        names = [f if isinstance(f, str) else getattr(f, "__name__", repr(f)) for f in unknown]
        return (
            f"func {names} is not one pipeport reads; it exports func given by name: "
            f"{', '.join(MATH_FUNCTIONS)} (a numpy function such as np.sum: write 'sum')"
        )
    return None


def _check_relative(step: RelativeFeatures) -> str | None:
    unknown = [f for f in step.func if f not in ("add", "sub", "mul", "pow", *_DIVISIONS)]
    return f"func {unknown} is not supported" if unknown else None


_FAMILY = "feature-engine creation"

register(
    Converter(
        classes=(MathFeatures,),
        role="transformer",
        convert=convert_math_features,
        check=_check_math,
        family=_FAMILY,
        accepts=(
            "func " + ", ".join(MATH_FUNCTIONS) + " (one or a list), new_variables_names, "
            "missing_values 'raise' and 'ignore' (skipped, as pandas), drop_original"
        ),
        exactness=(
            "pandas' row reductions in its order of operations (sums left to right, pairwise "
            "from 8 values as pandas sums a copy; two-pass variance; median by a sorting "
            "network): exact"
        ),
    )
)
register(
    Converter(
        classes=(RelativeFeatures,),
        role="transformer",
        convert=convert_relative_features,
        check=_check_relative,
        family=_FAMILY,
        accepts=(
            "func add, sub, mul, div, truediv, floordiv, mod, pow; reference; fill_value (a "
            "zero reference; None: feature-engine raises, rows left out and reported); "
            "missing_values; drop_original"
        ),
        exactness=(
            "the float64 operation per function; floordiv and mod as numpy's npy_divmod (fmod "
            "and its corrections): exact; pow as onnxruntime's pow (an ulp)"
        ),
    )
)
register(
    Converter(
        classes=(CyclicalFeatures,),
        role="transformer",
        convert=convert_cyclical_features,
        family=_FAMILY,
        accepts="max_values (or learned max_values_), drop_original, variables",
        exactness="sin and cos of x * (2 pi / max_value) (the constant as numpy computes it; "
        "onnxruntime's Sin and Cos within ~1e-12 relative of numpy's)",
    )
)
