"""feature-engine's variable transformers: LogTransformer, LogCpTransformer,
ReciprocalTransformer, PowerTransformer, BoxCoxTransformer, YeoJohnsonTransformer.

Each is elementwise numpy on the variables, reproduced operation for operation in float64:
`np.log(x)` / `np.log10(x)`, `np.log(x + C_)`, `1 / x`, `np.power(x, exp)`, and scipy's
`stats.boxcox(x, lmbda)` / `stats.yeojohnson(x, lmbda)` with the fitted `lambda_dict_`, which are
scikit-learn's PowerTransformer formulas (export/converters/power.py builds them, log1p and expm1
in Kahan's forms). onnxruntime's Log, Exp and Pow are within 1-2 ulps of numpy's; log10 is
Log / ln(10), exact at the powers of ten (np.log10(1000) is 3.0 in the graph too).

Where feature-engine raises in transform, every runtime refuses the row instead: LogTransformer
and BoxCoxTransformer need x > 0, LogCpTransformer x + C > 0 (x > -C), recorded on the raw column
the variable comes from (through imputers and scalers; `Graph.note_domain`). A fractional
PowerTransformer exponent gives NaN below 0 (feature-engine does not raise, a later step may):
that bound is noted too and kept only where the pipeline does raise. ReciprocalTransformer raises
on exactly 0, which a range cannot express: the export gate leaves such rows out and reports them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from feature_engine.transformation import (
    BoxCoxTransformer,
    LogCpTransformer,
    LogTransformer,
    PowerTransformer,
    ReciprocalTransformer,
    YeoJohnsonTransformer,
)
from onnx import numpy_helper

from pipeport.export.converters.feature_engine._frame import Frame
from pipeport.export.converters.power import _box_cox, _yeo_johnson
from pipeport.export.graph import ML_DOMAIN, Col, Graph
from pipeport.export.registry import Converter, register

#: Powers of ten whose np.log10 is an exact integer: looked up, so round values stay round.
_TENS = np.array([10.0**k for k in range(-20, 23)])
_TENS_LOG = np.log10(_TENS)


def _row(values: Any) -> np.ndarray:
    return np.asarray(values, np.float64).reshape(1, -1)


def _log10(g: Graph, x: str) -> str:
    """np.log10: Log(x) / ln(10), and the exact exponent at the powers of ten."""
    approx = g.op("Div", [g.op("Log", [x], "log"), g.const(np.array(math.log(10.0)), "ln10")])
    exact = g.op(
        "LabelEncoder",
        [x],
        "log10_table",
        domain=ML_DOMAIN,
        keys_tensor=numpy_helper.from_array(_TENS, "keys"),
        values_tensor=numpy_helper.from_array(_TENS_LOG, "values"),
        default_tensor=numpy_helper.from_array(np.array([np.nan]), "default"),
    )
    return str(g.op("Where", [g.op("IsNaN", [exact]), approx, exact], "log10"))


def _log(g: Graph, x: str, base: str) -> str:
    return _log10(g, x) if base == "10" else str(g.op("Log", [x], "log"))


def _note(frame: Frame, variables: list[Any], bound: str, limits: list[float], why: str) -> None:
    for v, limit in zip(variables, limits, strict=True):
        frame.g.note_domain(frame[v], bound, limit, frame.where, why)


def convert_log(step: LogTransformer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    variables = list(step.variables_)
    _note(frame, variables, "greater_than", [0.0] * len(variables), "takes its log")
    frame.put(variables, _log(g, frame.numbers(variables), step.base))
    return frame.result()


def _constants(step: LogCpTransformer) -> list[float]:
    if isinstance(step.C_, dict):
        return [float(step.C_[v]) for v in step.variables_]
    return [float(step.C_)] * len(step.variables_)


def convert_log_cp(step: LogCpTransformer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    variables = list(step.variables_)
    c = _constants(step)
    _note(frame, variables, "greater_than", [-v for v in c], "takes the log of it plus C")
    shifted = g.op("Add", [frame.numbers(variables), g.const(_row(c), "log_c")], "plus_c")
    frame.put(variables, _log(g, shifted, step.base))
    return frame.result()


def convert_reciprocal(
    step: ReciprocalTransformer, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    frame = Frame(step, cols, g, where)
    variables = list(step.variables_)
    one = g.const(np.array(1.0), "one")
    frame.put(variables, g.op("Div", [one, frame.numbers(variables)], "reciprocal"))
    return frame.result()


def convert_power(step: PowerTransformer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    variables = list(step.variables_)
    exponent = float(step.exp)
    if not exponent.is_integer():  # a negative base gives NaN (no raise here; maybe later)
        _note(frame, variables, "greater_or_equal", [0.0] * len(variables), "takes a power of it")
    powered = g.op("Pow", [frame.numbers(variables), g.const(np.array(exponent), "exp")], "power")
    frame.put(variables, powered)
    return frame.result()


def _lambdas(step: Any) -> np.ndarray:
    return np.asarray([float(step.lambda_dict_[v]) for v in step.variables_], np.float64)


def convert_box_cox(step: BoxCoxTransformer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    variables = list(step.variables_)
    _note(frame, variables, "greater_than", [0.0] * len(variables), "applies Box-Cox to it")
    frame.put(variables, _box_cox(g, frame.numbers(variables), _lambdas(step)))
    return frame.result()


def convert_yeo_johnson(
    step: YeoJohnsonTransformer, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    frame = Frame(step, cols, g, where)
    variables = list(step.variables_)
    frame.put(variables, _yeo_johnson(g, frame.numbers(variables), _lambdas(step)))
    return frame.result()


_FAMILY = "feature-engine transformation"

register(
    Converter(
        classes=(LogTransformer,),
        role="transformer",
        convert=convert_log,
        family=_FAMILY,
        accepts="base 'e' and '10'; variables. A value <= 0 is refused in every runtime, as "
        "feature-engine raises",
        exactness="np.log (onnxruntime's Log, 1-2 ulps); np.log10 as Log / ln 10 (~1 ulp), "
        "exact at powers of ten",
    )
)
register(
    Converter(
        classes=(LogCpTransformer,),
        role="transformer",
        convert=convert_log_cp,
        family=_FAMILY,
        accepts="C 'auto', a number or a dict; base 'e' and '10'; variables. A value with "
        "x + C <= 0 is refused in every runtime, as feature-engine raises",
        exactness="np.log(x + C_) in float64 (Add, then Log; log10 as for LogTransformer)",
    )
)
register(
    Converter(
        classes=(ReciprocalTransformer,),
        role="transformer",
        convert=convert_reciprocal,
        family=_FAMILY,
        accepts="variables (feature-engine raises on 0: such rows are left out of the gate and "
        "reported)",
        exactness="1 / x (IEEE division, exact)",
    )
)
register(
    Converter(
        classes=(PowerTransformer,),
        role="transformer",
        convert=convert_power,
        family=_FAMILY,
        accepts="exp (any number); variables",
        exactness="np.power(x, exp) as Pow (onnxruntime's pow, within an ulp of numpy's)",
    )
)
register(
    Converter(
        classes=(BoxCoxTransformer,),
        role="transformer",
        convert=convert_box_cox,
        family=_FAMILY,
        accepts="variables; a value <= 0 is refused in every runtime, as feature-engine raises",
        exactness="scipy.special.boxcox with lambda_dict_: log, expm1 (Kahan) and the large-"
        "lambda branch, as scikit-learn's PowerTransformer converter; a few ulps",
    )
)
register(
    Converter(
        classes=(YeoJohnsonTransformer,),
        role="transformer",
        convert=convert_yeo_johnson,
        family=_FAMILY,
        accepts="variables",
        exactness="scipy.stats.yeojohnson with lambda_dict_: log1p/expm1 (Kahan) per sign, as "
        "scikit-learn's PowerTransformer converter; a few ulps",
    )
)
