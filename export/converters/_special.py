"""Special functions as standard ONNX ops, in float64, as scipy and numpy compute them.

ONNX has no `log1p`, `expm1`, `ndtri` (scipy's `norm.ppf`) or `ndtr` (`norm.cdf`). These build
them from `Log`, `Exp`, `Sqrt` and arithmetic, every runtime pipeport checks running the same
operations:

- `ndtri`, `ndtr`: Cephes' algorithms (scipy's own, in `xsf/cephes/ndtri.h` and `ndtr.h`), with
  their coefficients and their order of operations; written with libm's `log`/`exp` they give
  scipy's bits. onnxruntime's float64 `Log` and `Exp` differ from libm by up to 1 and 2 ulps, so
  the graph is within a few ulps of scipy (measured: ~1e-16 relative).
- `log1p`, `expm1`: `Log(1 + x)` loses the digits of a small x (relative error eps / x: 1e-7 at
  x = 1e-9), so these use Kahan's forms, `log(u) * (x / (u - 1))` with u = 1 + x and
  `(u - 1) * (x / log(u))` with u = exp(x), in which the rounding of u cancels: a few ulps of
  numpy's `log1p`/`expm1` everywhere, small x included.

Each function computes every branch on every element and picks with `Where`, so a branch that
does not apply may produce inf or NaN that is never selected; NaN in gives NaN out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeport.export.graph import Graph


def scalar(g: Graph, value: float) -> str:
    """A float64 scalar constant (broadcasts against any tensor)."""
    return g.const(np.array(value, np.float64), "k")


def polevl(g: Graph, x: str, coefficients: Sequence[float]) -> str:
    """Cephes `polevl`: Horner's rule, highest coefficient first: ((c0 x + c1) x + c2) ..."""
    ans = g.op("Mul", [scalar(g, coefficients[0]), x], "horner")
    ans = g.op("Add", [ans, scalar(g, coefficients[1])], "horner")
    for c in coefficients[2:]:
        ans = g.op("Add", [g.op("Mul", [ans, x], "horner"), scalar(g, c)], "horner")
    return ans


def p1evl(g: Graph, x: str, coefficients: Sequence[float]) -> str:
    """Cephes `p1evl`: `polevl` with a leading 1 not stored: ((x + c0) x + c1) x ..."""
    ans = g.op("Add", [x, scalar(g, coefficients[0])], "horner")
    for c in coefficients[1:]:
        ans = g.op("Add", [g.op("Mul", [ans, x], "horner"), scalar(g, c)], "horner")
    return ans


def expit(g: Graph, x: str) -> str:
    """scipy's expit, 1 / (1 + exp(-x)), in those operations. onnxruntime's float64 `Sigmoid`
    returns 0.0 below about -36 (scipy: 4.2e-18 at -40) and the reference evaluator returns
    subnormals where scipy gives 0; a probability normalised by a sum of such values (a
    calibrated classifier) then differs entirely."""
    denominator = g.op("Add", [scalar(g, 1.0), g.op("Exp", [g.op("Neg", [x], "minus")], "e")])
    return str(g.op("Div", [scalar(g, 1.0), denominator], "expit"))


def log1p(g: Graph, x: str) -> str:
    """log(1 + x) to a few ulps: log(u) * (x / (u - 1)), u = 1 + x (x itself where u == 1)."""
    one = scalar(g, 1.0)
    u = g.op("Add", [x, one], "log1p_u")
    d = g.op("Sub", [u, one], "log1p_d")
    r = g.op("Mul", [g.op("Log", [u], "log1p_log"), g.op("Div", [x, d], "log1p_q")], "log1p")
    r = g.op("Where", [g.op("Equal", [u, scalar(g, np.inf)]), u, r], "log1p")
    return str(g.op("Where", [g.op("Equal", [d, scalar(g, 0.0)]), x, r], "log1p"))


def expm1(g: Graph, x: str) -> str:
    """exp(x) - 1 to a few ulps: (u - 1) * (x / log(u)), u = exp(x) (x where u == 1, -1 where
    u - 1 == -1, inf where u is)."""
    one = scalar(g, 1.0)
    u = g.op("Exp", [x], "expm1_u")
    um1 = g.op("Sub", [u, one], "expm1_d")
    r = g.op("Mul", [um1, g.op("Div", [x, g.op("Log", [u], "expm1_log")], "expm1_q")], "expm1")
    r = g.op("Where", [g.op("Equal", [u, scalar(g, np.inf)]), u, r], "expm1")
    r = g.op("Where", [g.op("Equal", [um1, scalar(g, -1.0)]), um1, r], "expm1")
    return str(g.op("Where", [g.op("Equal", [u, one]), x, r], "expm1"))


# -- ndtri: scipy.special.ndtri = scipy.stats.norm.ppf (Cephes ndtri.c) ----------------------------

_EXP_MINUS_2 = 0.13533528323661269189
_SQRT_2PI = 2.50662827463100050242e0
# approximation for 0 <= |y - 0.5| <= 3/8
_NDTRI_P0 = (
    -5.99633501014107895267e1,
    9.80010754185999661536e1,
    -5.66762857469070293439e1,
    1.39312609387279679503e1,
    -1.23916583867381258016e0,
)
_NDTRI_Q0 = (
    1.95448858338141759834e0,
    4.67627912898881538453e0,
    8.63602421390890590575e1,
    -2.25462687854119370527e2,
    2.00260212380060660359e2,
    -8.20372256168333339912e1,
    1.59056225126211695515e1,
    -1.18331621121330003142e0,
)
# z = sqrt(-2 log y) between 2 and 8
_NDTRI_P1 = (
    4.05544892305962419923e0,
    3.15251094599893866154e1,
    5.71628192246421288162e1,
    4.40805073893200834700e1,
    1.46849561928858024014e1,
    2.18663306850790267539e0,
    -1.40256079171354495875e-1,
    -3.50424626827848203418e-2,
    -8.57456785154685413611e-4,
)
_NDTRI_Q1 = (
    1.57799883256466749731e1,
    4.53907635128879210584e1,
    4.13172038254672030440e1,
    1.50425385692907503408e1,
    2.50464946208309415979e0,
    -1.42182922854787788574e-1,
    -3.80806407691578277194e-2,
    -9.33259480895457427372e-4,
)
# z between 8 and 64
_NDTRI_P2 = (
    3.23774891776946035970e0,
    6.91522889068984211695e0,
    3.93881025292474443415e0,
    1.33303460815807542389e0,
    2.01485389549179081538e-1,
    1.23716634817820021358e-2,
    3.01581553508235416007e-4,
    2.65806974686737550832e-6,
    6.23974539184983293730e-9,
)
_NDTRI_Q2 = (
    6.02427039364742014255e0,
    3.67983563856160859403e0,
    1.37702099489081330271e0,
    2.16236993594496635890e-1,
    1.34204006088543189037e-2,
    3.28014464682127739104e-4,
    2.89247864745380683936e-6,
    6.79019408009981274425e-9,
)


def _ratio(g: Graph, factor: str, x: str, p: Sequence[float], q: Sequence[float]) -> str:
    """factor * polevl(x, p) / p1evl(x, q), left to right as Cephes writes it."""
    return str(
        g.op("Div", [g.op("Mul", [factor, polevl(g, x, p)], "ratio"), p1evl(g, x, q)], "ratio")
    )


def ndtri(g: Graph, p: str) -> str:
    """The standard normal quantile of p in [0, 1] (-inf at 0, inf at 1, NaN stays NaN)."""
    flip = g.op("Greater", [p, scalar(g, 1.0 - _EXP_MINUS_2)], "ndtri_flip")
    y = g.op("Where", [flip, g.op("Sub", [scalar(g, 1.0), p], "ndtri_1mp"), p], "ndtri_y")
    # |y - 0.5| <= 3/8: x = (w + w * (w2 P0(w2) / Q0(w2))) * sqrt(2 pi), w = y - 0.5
    w = g.op("Sub", [y, scalar(g, 0.5)], "ndtri_w")
    w2 = g.op("Mul", [w, w], "ndtri_w2")
    central = g.op("Add", [w, g.op("Mul", [w, _ratio(g, w2, w2, _NDTRI_P0, _NDTRI_Q0)])])
    central = g.op("Mul", [central, scalar(g, _SQRT_2PI)], "ndtri_central")
    # the tails: x = sqrt(-2 log y); x - log(x) / x - z P(z) / Q(z), z = 1 / x
    x = g.op("Sqrt", [g.op("Mul", [scalar(g, -2.0), g.op("Log", [y], "ndtri_log")])], "ndtri_x")
    x0 = g.op("Sub", [x, g.op("Div", [g.op("Log", [x], "ndtri_logx"), x])], "ndtri_x0")
    z = g.op("Div", [scalar(g, 1.0), x], "ndtri_z")
    x1 = g.op(
        "Where",
        [
            g.op("Less", [x, scalar(g, 8.0)]),
            _ratio(g, z, z, _NDTRI_P1, _NDTRI_Q1),
            _ratio(g, z, z, _NDTRI_P2, _NDTRI_Q2),
        ],
        "ndtri_x1",
    )
    tail = g.op("Sub", [x0, x1], "ndtri_tail")
    tail = g.op("Where", [flip, tail, g.op("Neg", [tail])], "ndtri_tail")
    out = g.op("Where", [g.op("Greater", [y, scalar(g, _EXP_MINUS_2)]), central, tail], "ndtri")
    out = g.op("Where", [g.op("Equal", [p, scalar(g, 1.0)]), scalar(g, np.inf), out], "ndtri")
    return str(
        g.op("Where", [g.op("Equal", [p, scalar(g, 0.0)]), scalar(g, -np.inf), out], "ndtri")
    )


# -- ndtr: scipy.special.ndtr = scipy.stats.norm.cdf (Cephes ndtr.c, erf, erfc) --------------------

_SQRT1_2 = 0.707106781186547524401
_MAXLOG = 7.09782712893383996843e2
_ERFC_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_ERFC_Q = (
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)
_ERFC_R = (
    5.64189583547755073984e-1,
    1.27536670759978104416e0,
    5.01905042251180477414e0,
    6.16021097993053585195e0,
    7.40974269950448939160e0,
    2.97886665372100240670e0,
)
_ERFC_S = (
    2.26052863220117276590e0,
    9.39603524938001434673e0,
    1.20489539808096656605e1,
    1.70814450747565897222e1,
    9.60896809063285878198e0,
    3.36907645100081516050e0,
)
_ERF_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_ERF_U = (
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)


def ndtr(g: Graph, a: str) -> str:
    """The standard normal distribution function of a (NaN stays NaN)."""
    x = g.op("Mul", [a, scalar(g, _SQRT1_2)], "ndtr_x")
    z = g.op("Abs", [x], "ndtr_z")
    # |x| < 1: 0.5 + 0.5 erf(x), erf(x) = x T(x^2) / U(x^2) (odd: the same bits as -erf(-x))
    xx = g.op("Mul", [x, x], "ndtr_xx")
    inner = g.op(
        "Add", [scalar(g, 0.5), g.op("Mul", [scalar(g, 0.5), _ratio(g, x, xx, _ERF_T, _ERF_U)])]
    )
    # |x| >= 1: 0.5 erfc(|x|), erfc(z) = exp(-z z) P(z) / Q(z) (R, S from 8 on; 0 past MAXLOG)
    minus_zz = g.op("Neg", [g.op("Mul", [z, z])], "ndtr_mzz")
    below_8 = g.op("Less", [z, scalar(g, 8.0)])
    p = g.op("Where", [below_8, polevl(g, z, _ERFC_P), polevl(g, z, _ERFC_R)], "ndtr_p")
    q = g.op("Where", [below_8, p1evl(g, z, _ERFC_Q), p1evl(g, z, _ERFC_S)], "ndtr_q")
    erfc = g.op("Div", [g.op("Mul", [g.op("Exp", [minus_zz]), p]), q], "erfc")
    underflow = g.op("Less", [minus_zz, scalar(g, -_MAXLOG)])
    erfc = g.op("Where", [underflow, scalar(g, 0.0), erfc], "erfc")
    half = g.op("Mul", [scalar(g, 0.5), erfc], "ndtr_tail")
    upper = g.op("Greater", [x, scalar(g, 0.0)])
    tail = g.op("Where", [upper, g.op("Sub", [scalar(g, 1.0), half]), half], "ndtr_tail")
    return str(g.op("Where", [g.op("Less", [z, scalar(g, 1.0)]), inner, tail], "ndtr"))
