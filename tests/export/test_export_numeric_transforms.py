"""QuantileTransformer, PowerTransformer, KBinsDiscretizer and SplineTransformer graphs against
scikit-learn on the values where a re-implementation goes wrong: exactly on a quantile, a bin
edge or a knot, one ulp beside it, +-0.0, NaN, far outside the training range, huge values,
constant columns, repeated quantiles, the special lambdas; and their inverses.

Each step's graph is built alone (the converter the registry holds, on a float64 input tensor) and
run in onnxruntime and in the ONNX reference evaluator; every expected value is scikit-learn's own
output. Where the graph is exact (interpolation, comparisons, de Boor's recursion: the same float64
operations in the same order) the tests ask for equal bits; where it needs log/exp (ndtri, ndtr,
Box-Cox, Yeo-Johnson), onnxruntime's Log and Exp are within 1-2 ulps of libm, so the tests ask
for 1e-13 relative (measured: below 1e-15, ~1e-14 where scikit-learn's own formula subtracts
nearly equal numbers: there the error is stated against max(|value|, 1)).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    KBinsDiscretizer,
    PowerTransformer,
    QuantileTransformer,
    SplineTransformer,
)

from pipeport.contract import frame_to_feeds
from pipeport.errors import RawInputError
from pipeport.export.graph import Graph
from pipeport.export.onnx_export import read_metadata, session, to_onnx
from pipeport.export.registry import find
from pipeport.schema import ModelSchema

RUNTIMES = ["onnxruntime", "reference"]
#: Where the graph uses onnxruntime's Log/Exp (a few ulps off libm): relative, and absolute
#: against values of order 1 where scikit-learn's own formula cancels.
TRANSCENDENTAL_RTOL = 1e-13
CANCELLATION_ATOL = 1e-13


def _model(build: Any, width: int) -> onnx.ModelProto:
    g = Graph([])
    out = build(g, "x")
    g.nodes.append(helper.make_node("Identity", [out], ["y"]))
    model = g.build(
        "t",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, width])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None, None])],
    )
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return model


def _run(model: onnx.ModelProto, X: np.ndarray, runtime: str) -> np.ndarray:
    X = np.asarray(X, np.float64)
    if runtime == "reference":
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns on the branches Where discards
            (out,) = list(ReferenceEvaluator(model).run(["y"], {"x": X}))
            return np.asarray(out)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"x": X})[0])


def transform_graph(step: Any, X: np.ndarray, runtime: str = "onnxruntime") -> np.ndarray:
    """The registered converter's graph of `step`, run on X."""
    converter = find(step)
    assert converter is not None, type(step).__name__

    def build(g: Graph, x: str) -> str:
        cols = g.block(x, [f"x{j}" for j in range(X.shape[1])])
        out = converter.convert(step, cols, g, "step")
        assert len({c.block.tensor for c in out}) == 1
        return str(out[0].block.tensor)

    return _run(_model(build, X.shape[1]), X, runtime)


def inverse_graph(step: Any, X: np.ndarray, runtime: str = "onnxruntime") -> np.ndarray:
    """The registered converter's inverse of `step`, run on X."""
    converter = find(step)
    assert converter is not None and converter.inverse is not None
    inverse = converter.inverse
    return _run(_model(lambda g, x: inverse(step, x, g, "step"), X.shape[1]), X, runtime)


def assert_same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)  # NaN where NaN, every other bit equal


def assert_close(actual: np.ndarray, expected: np.ndarray, atol: float = 0.0) -> None:
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=TRANSCENDENTAL_RTOL, atol=atol)


def _quiet(function: Any, *args: Any) -> Any:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args)


RNG = np.random.default_rng(11)
#: A skewed column with NaN, an integer column (repeated quantiles), a constant column and a
#: symmetric one.
TRAIN = np.column_stack(
    [
        np.where(RNG.random(600) < 0.1, np.nan, RNG.gamma(2.0, 3.0, 600)),
        RNG.integers(0, 5, 600).astype(float),
        np.full(600, 3.0),
        RNG.normal(0.0, 1.0, 600),
    ]
)


def _edges_of(values: np.ndarray, width: int) -> np.ndarray:
    """Rows holding each value, one ulp below it and one ulp above it, in every column."""
    values = np.unique(values[np.isfinite(values)])
    around = np.concatenate([values, np.nextafter(values, -np.inf), np.nextafter(values, np.inf)])
    return np.repeat(around.reshape(-1, 1), width, axis=1)


def _specials(width: int, *, nan: bool = True) -> np.ndarray:
    rows = [0.0, -0.0, 1e-300, -1e-300, 1e-12, -1e-12, 1e6, -1e6, 1e300, -1e300]
    if nan:
        rows.append(np.nan)
    return np.repeat(np.array(rows).reshape(-1, 1), width, axis=1)


# -- QuantileTransformer --------------------------------------------------------------------------


def _quantile_rows(qt: QuantileTransformer) -> np.ndarray:
    q = qt.quantiles_
    width = q.shape[1]
    return np.vstack(
        [
            TRAIN,
            q,  # exactly on every quantile
            q + 1e-7,  # the "normal" bounds are 1e-7 wide
            q - 1e-7,
            np.nextafter(q, np.inf),
            np.nextafter(q, -np.inf),
            RNG.uniform(-50.0, 50.0, (500, width)),
            _specials(width),
        ]
    )


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("n_quantiles", [1000, 9, 2, 1])
def test_quantile_uniform_gives_scikit_learns_bits(n_quantiles: int, runtime: str) -> None:
    qt = _quiet(QuantileTransformer(n_quantiles=n_quantiles).fit, TRAIN)
    X = _quantile_rows(qt)
    assert_same_bits(transform_graph(qt, X, runtime), qt.transform(X))


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("n_quantiles", [1000, 9, 1])
def test_quantile_normal_matches_scipys_ndtri(n_quantiles: int, runtime: str) -> None:
    qt = _quiet(
        QuantileTransformer(output_distribution="normal", n_quantiles=n_quantiles).fit, TRAIN
    )
    X = _quantile_rows(qt)
    expected = qt.transform(X)
    actual = transform_graph(qt, X, runtime)
    assert_close(actual, expected)
    # the clip to ppf(1e-7 - eps) and the NaN are exactly scikit-learn's
    clipped = np.abs(expected) == np.max(np.abs(expected[np.isfinite(expected)]))
    assert clipped.any()
    np.testing.assert_array_equal(actual[clipped], expected[clipped])


def test_quantile_normal_in_every_branch_of_ndtri() -> None:
    """Probabilities in ndtri's central range, its two tails (z below and above 8) and its
    mirrored upper half, reached through a uniform grid of references."""
    qt = QuantileTransformer(output_distribution="normal", n_quantiles=5).fit(
        np.linspace(0.0, 1.0, 5).reshape(-1, 1)
    )
    p = np.concatenate([np.logspace(-300, -0.01, 400), 1 - np.logspace(-16, -0.01, 200)])
    p = p[(p > 1e-7) & (p < 1 - 1e-7)]
    X = p.reshape(-1, 1)
    assert_close(transform_graph(qt, X), qt.transform(X))


def test_quantile_normal_bounds_are_1e_7_wide() -> None:
    """'normal' sends values within BOUNDS_THRESHOLD (1e-7) of the first and last quantile to
    the bounds: with quantiles 1e-7 apart, values 5e-8 inside would otherwise interpolate to
    probabilities of 0.05 and 0.95."""
    qt = QuantileTransformer(output_distribution="normal", n_quantiles=11)
    qt.fit(np.linspace(0.0, 1e-6, 11).reshape(-1, 1))
    X = np.array([[5e-8], [1e-6 - 5e-8], [2e-7], [1e-6 - 2e-7], [1.5e-7], [5e-7]])
    expected = qt.transform(X)
    assert expected[0, 0] < -5 and expected[1, 0] > 5
    assert_close(transform_graph(qt, X), expected)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_quantile_inverse_matches_inverse_transform(distribution: str, runtime: str) -> None:
    qt = QuantileTransformer(output_distribution=distribution, n_quantiles=50).fit(TRAIN)
    Y = qt.transform(_quantile_rows(qt))
    if distribution == "uniform":
        extra = np.vstack([RNG.uniform(-0.5, 1.5, (300, 4)), [[0.0] * 4, [1.0] * 4, [1e-7] * 4]])
    else:
        extra = np.vstack([RNG.normal(0.0, 3.0, (300, 4)), [[0.0] * 4, [-40.0] * 4, [40.0] * 4]])
    Y = np.vstack([Y, extra, [[np.nan] * 4]])
    expected = qt.inverse_transform(Y)
    actual = inverse_graph(qt, Y, runtime)
    if distribution == "uniform":
        assert_same_bits(actual, expected)
    else:
        assert_close(actual, expected)


# -- PowerTransformer -----------------------------------------------------------------------------

YJ_TRAIN = np.column_stack(
    [
        RNG.gamma(2.0, 3.0, 500) - 2.0,
        RNG.normal(0.0, 1.0, 500) ** 3,
        -RNG.lognormal(0.0, 1.0, 500),
        np.where(RNG.random(500) < 0.1, np.nan, RNG.normal(0.0, 1.0, 500)),
    ]
)
BC_TRAIN = np.column_stack(
    [RNG.gamma(2.0, 3.0, 500), RNG.lognormal(0.0, 1.0, 500), RNG.uniform(1.0, 2.0, 500)]
)


def _yeo_johnson_rows(width: int) -> np.ndarray:
    return np.vstack(
        [
            YJ_TRAIN[:, :width],
            RNG.uniform(-30.0, 30.0, (500, width)),
            10 ** RNG.uniform(-300, 3, (200, width)),
            -(10 ** RNG.uniform(-300, 3, (200, width))),
            _specials(width)[:-3],  # not 1e300: its power overflows in scikit-learn too
            [[np.nan] * width],
        ]
    )


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_yeo_johnson_matches_scipy(runtime: str) -> None:
    pt = PowerTransformer(standardize=False).fit(YJ_TRAIN)
    X = _yeo_johnson_rows(4)
    assert_close(transform_graph(pt, X, runtime), pt.transform(X))


def test_yeo_johnson_keeps_the_digits_of_tiny_values() -> None:
    """log1p/expm1 as Log(1 + x)/Exp(x) - 1 would be off by 1e-4 relative at 1e-12 (measured:
    up to 1.0 relative near 0); the graph keeps them."""
    pt = PowerTransformer(standardize=False).fit(YJ_TRAIN)
    X = np.repeat(np.array([1e-12, -1e-12, 3e-9, -3e-9, 1e-200, -1e-200]).reshape(-1, 1), 4, 1)
    expected = pt.transform(X)
    assert np.all(expected != 0)
    assert_close(transform_graph(pt, X), expected)


@pytest.mark.parametrize("lambdas", [[0.0, 2.0, 1e-20, 2.0 + 1e-17], [1.0, 0.5, -1.5, 3.5]])
def test_yeo_johnson_special_lambdas(lambdas: list[float]) -> None:
    """lambda 0 and 2 (within eps) take scipy's log1p branches."""
    pt = PowerTransformer(standardize=False).fit(YJ_TRAIN)
    pt.lambdas_ = np.array(lambdas)
    X = _yeo_johnson_rows(4)
    assert_close(transform_graph(pt, X), pt.transform(X))


def test_yeo_johnson_standardized() -> None:
    pt = PowerTransformer().fit(YJ_TRAIN)
    X = _yeo_johnson_rows(4)
    # (y - mean_) / scale_ cancels near the mean: absolute against values of order 1
    assert_close(transform_graph(pt, X), pt.transform(X), atol=CANCELLATION_ATOL)


def _box_cox_rows(width: int) -> np.ndarray:
    return np.vstack(
        [
            BC_TRAIN[:, :width],
            RNG.uniform(1e-3, 50.0, (500, width)),
            10 ** RNG.uniform(-300, 30, (300, width)),
            [[1e-300] * width, [1e-12] * width, [1.0] * width, [np.nan] * width],
        ]
    )


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("standardize", [False, True])
def test_box_cox_matches_scipy(standardize: bool, runtime: str) -> None:
    pt = PowerTransformer(method="box-cox", standardize=standardize).fit(BC_TRAIN)
    X = _box_cox_rows(3)
    expected = pt.transform(X)
    atol = CANCELLATION_ATOL if standardize else 0.0
    assert_close(transform_graph(pt, X, runtime), expected, atol=atol)


def test_box_cox_every_branch_of_scipys_boxcox() -> None:
    """log(x) for |lambda| < 1e-19; expm1(lambda log x) / lambda; and from lambda log x >=
    709.78 on, sign(lambda) exp(lambda log x - log|lambda|) - 1 / lambda."""
    pt = PowerTransformer(method="box-cox", standardize=False).fit(BC_TRAIN)
    pt.lambdas_ = np.array([0.0, -1e-25, 3.0])
    x = np.array([np.exp(709.9 / 3.0), np.exp(709.5 / 3.0), 2.5, 1e-5, 1e5, 1.0])
    X = np.repeat(x.reshape(-1, 1), 3, axis=1)
    expected = pt.transform(X)
    assert np.all(np.isfinite(expected)) and expected[0, 2] > 1e307
    actual = transform_graph(pt, X)
    assert_close(actual[2:], expected[2:])
    # exp(t) turns an ulp of log(x) into t ulps of the result: t ~ 710 here
    t = 3.0 * float(np.log(x[0]))
    np.testing.assert_allclose(actual[:2, 2], expected[:2, 2], rtol=4 * np.finfo(float).eps * t)
    assert_close(actual[:2, :2], expected[:2, :2])


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("method", ["yeo-johnson", "box-cox"])
@pytest.mark.parametrize("standardize", [True, False])
def test_power_inverse_matches_inverse_transform(
    method: str, standardize: bool, runtime: str
) -> None:
    train = YJ_TRAIN if method == "yeo-johnson" else BC_TRAIN
    pt = PowerTransformer(method=method, standardize=standardize).fit(train)
    rows = _yeo_johnson_rows(4) if method == "yeo-johnson" else _box_cox_rows(3)
    Y = np.vstack([pt.transform(rows[: len(train)]), RNG.normal(0.0, 2.0, (500, train.shape[1]))])
    Y = np.vstack([Y, np.zeros((1, train.shape[1])), np.full((1, train.shape[1]), np.nan)])
    expected = _quiet(pt.inverse_transform, Y)
    # np.power(...) - 1 cancels near 0: absolute against values of order 1
    assert_close(inverse_graph(pt, Y, runtime), expected, atol=CANCELLATION_ATOL)


@pytest.mark.parametrize("lambdas", [[0.0, 2.0, 1e-20, 1.3], [-0.7, 2.0 - 1e-17, 4.0, 0.0]])
def test_yeo_johnson_inverse_special_lambdas(lambdas: list[float]) -> None:
    pt = PowerTransformer(standardize=False).fit(YJ_TRAIN)
    pt.lambdas_ = np.array(lambdas)
    Y = np.vstack([RNG.normal(0.0, 2.0, (500, 4)), np.zeros((1, 4)), -np.zeros((1, 4))])
    assert_close(inverse_graph(pt, Y), _quiet(pt.inverse_transform, Y), atol=CANCELLATION_ATOL)


def test_box_cox_inverse_lambda_zero_is_exp() -> None:
    pt = PowerTransformer(method="box-cox", standardize=False).fit(BC_TRAIN)
    pt.lambdas_ = np.array([0.0, 1e-30, 0.4])
    Y = np.vstack([RNG.normal(0.0, 3.0, (300, 3)), [[0.0] * 3, [-2.4] * 3, [np.nan] * 3]])
    assert_close(inverse_graph(pt, Y), _quiet(pt.inverse_transform, Y))


def test_box_cox_refuses_values_at_or_below_zero_in_the_contract() -> None:
    """scikit-learn raises on x <= 0; every runtime refuses such a row, naming the field, and
    accepts (and agrees on) the smallest positive values."""
    frame = pd.DataFrame({"size": BC_TRAIN[:, 0], "mass": BC_TRAIN[:, 1]})
    y = BC_TRAIN[:, 2]
    pipeline = make_pipeline(
        ColumnTransformer([("power", PowerTransformer(method="box-cox"), ["size", "mass"])]),
        Ridge(),
    ).fit(frame, y)
    model = to_onnx(pipeline, frame, "box-cox", generated_rows=500)
    schema = ModelSchema.from_metadata(read_metadata(model))
    for value in [0.0, -0.0, -3.0]:
        bad = frame.head(1).assign(size=value)
        with pytest.raises(ValueError, match="strictly positive"):
            pipeline.predict(bad)
        with pytest.raises(RawInputError, match="size"):
            frame_to_feeds(bad, schema)
    good = frame.head(3).assign(size=[5e-324, 1e-300, 1e-12])
    out = session(model).run(None, frame_to_feeds(good, schema))[0].ravel()
    np.testing.assert_allclose(out, pipeline.predict(good), rtol=1e-12)


# -- KBinsDiscretizer -----------------------------------------------------------------------------

KB_TRAIN = np.nan_to_num(TRAIN, nan=4.0)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("strategy", ["uniform", "quantile", "kmeans"])
@pytest.mark.parametrize("encode", ["ordinal", "onehot-dense", "onehot"])
def test_kbins_on_and_beside_every_edge(strategy: str, encode: str, runtime: str) -> None:
    kb = _quiet(
        KBinsDiscretizer(n_bins=[5, 4, 3, 7], encode=encode, strategy=strategy).fit, KB_TRAIN
    )
    edges = np.concatenate(list(kb.bin_edges_))
    X = np.vstack(
        [
            KB_TRAIN,
            _edges_of(edges, 4),
            RNG.uniform(-100.0, 100.0, (500, 4)),
            _specials(4, nan=False),
        ]
    )
    expected = kb.transform(X)
    expected = expected.toarray() if hasattr(expected, "toarray") else expected
    assert_same_bits(transform_graph(kb, X, runtime), expected)


def test_kbins_removed_tiny_bins_and_constant_columns() -> None:
    """Quantile edges of an integer column collapse (scikit-learn removes bins <= 1e-8 wide); a
    constant column has the edges [-inf, inf] and a single bin."""
    kb = _quiet(KBinsDiscretizer(n_bins=8, encode="onehot-dense").fit, KB_TRAIN[:, 1:3])
    assert len(kb.bin_edges_[0]) < 9 and len(kb.bin_edges_[1]) == 2
    X = np.vstack([_edges_of(np.arange(-1.0, 6.0), 2), _specials(2, nan=False)])
    assert_same_bits(transform_graph(kb, X), kb.transform(X))
    only_constant = _quiet(KBinsDiscretizer(n_bins=3, encode="ordinal").fit, KB_TRAIN[:, [2]])
    assert_same_bits(transform_graph(only_constant, X[:, :1]), only_constant.transform(X[:, :1]))


# -- SplineTransformer ----------------------------------------------------------------------------

SP_TRAIN = np.column_stack(
    [RNG.gamma(2.0, 3.0, 300), RNG.integers(0, 4, 300).astype(float), RNG.normal(0.0, 1.0, 300)]
)
KNOTS = np.column_stack(
    [np.linspace(-1.0, 15.0, 6), [0.0, 0.5, 1.0, 2.0, 3.0, 3.5], np.linspace(-3.0, 3.0, 6)]
)


def _spline_rows(st: SplineTransformer) -> np.ndarray:
    knots = np.concatenate([spl.t for spl in st.bsplines_])
    return np.vstack(
        [
            SP_TRAIN,
            _edges_of(knots, 3),
            RNG.uniform(-30.0, 40.0, (400, 3)),
            _specials(3, nan=False)[:-2],  # not 1e300: degree-3 polynomials overflow to inf-inf
        ]
    )


SPLINE_SETTINGS = [
    (degree, extrapolation, knots)
    for degree in [0, 1, 2, 3, 4]
    for extrapolation in ["constant", "linear", "continue", "periodic"]
    for knots in ["uniform", "quantile", "array"]
    if not (degree == 0 and extrapolation == "constant")
]


@pytest.mark.parametrize(("degree", "extrapolation", "knots"), SPLINE_SETTINGS)
def test_spline_on_and_beside_every_knot(degree: int, extrapolation: str, knots: str) -> None:
    for include_bias in (True, False):
        st = SplineTransformer(
            degree=degree,
            n_knots=6,
            knots=KNOTS if knots == "array" else knots,
            extrapolation=extrapolation,
            include_bias=include_bias,
        ).fit(SP_TRAIN)
        X = _spline_rows(st)
        assert_same_bits(transform_graph(st, X), st.transform(X))


@pytest.mark.parametrize("extrapolation", ["constant", "linear", "continue", "periodic", "error"])
def test_spline_missing_values_become_zeros(extrapolation: str) -> None:
    st = SplineTransformer(degree=2, n_knots=5, extrapolation=extrapolation, handle_missing="zeros")
    st.fit(np.where(RNG.random(SP_TRAIN.shape) < 0.1, np.nan, SP_TRAIN))
    inside = RNG.uniform(0.5, 2.5, (50, 3))  # within every column's knots (for "error")
    X = np.vstack([inside, np.where(RNG.random((50, 3)) < 0.3, np.nan, inside)])
    for runtime in RUNTIMES:
        assert_same_bits(transform_graph(st, X, runtime), st.transform(X))


def test_spline_sparse_output_is_the_same_numbers() -> None:
    for extrapolation in ["periodic", "linear"]:
        st = SplineTransformer(n_knots=5, extrapolation=extrapolation, sparse_output=True)
        st.fit(SP_TRAIN)
        X = _spline_rows(st)
        assert_same_bits(transform_graph(st, X), st.transform(X).toarray())


def test_spline_linear_low_degree_follows_scikit_learns_carried_degree() -> None:
    """scikit-learn 1.9 increments its loop's `degree` for extrapolation='linear' with degree
    <= 1, so the second and third columns use other boundaries than when fitted alone; the
    graph computes what the fitted step computes."""
    for degree in (0, 1):
        st = SplineTransformer(degree=degree, n_knots=5, extrapolation="linear").fit(SP_TRAIN)
        X = _spline_rows(st)
        assert_same_bits(transform_graph(st, X), st.transform(X))


def test_spline_repeated_quantile_knots() -> None:
    """Quantile knots of a column with few values repeat: de Boor's recursion skips the empty
    intervals as scipy does."""
    column = np.repeat([0.0, 1.0, 2.0, 10.0], [60, 30, 5, 5]).reshape(-1, 1)
    st = SplineTransformer(degree=3, n_knots=7, knots="quantile", extrapolation="continue")
    st.fit(column)
    assert np.any(np.diff(st.bsplines_[0].t) == 0)
    X = np.vstack([_edges_of(st.bsplines_[0].t, 1), RNG.uniform(-5.0, 15.0, (200, 1))])
    assert_same_bits(transform_graph(st, X), st.transform(X))


def test_spline_error_refuses_values_outside_the_knots_in_the_contract() -> None:
    """extrapolation='error': scikit-learn raises outside [first knot, last knot]; every
    runtime refuses such a row, naming the field, and the knots themselves are accepted."""
    frame = pd.DataFrame({"hour": RNG.uniform(0.0, 24.0, 300), "load": RNG.gamma(2.0, 3.0, 300)})
    y = np.sin(frame["hour"] / 24 * 2 * np.pi) + RNG.normal(0, 0.1, 300)
    pipeline = make_pipeline(
        ColumnTransformer(
            [("splines", SplineTransformer(extrapolation="error"), ["hour", "load"])]
        ),
        Ridge(),
    ).fit(frame, y)
    model = to_onnx(pipeline, frame, "spline-error", generated_rows=500)
    schema = ModelSchema.from_metadata(read_metadata(model))
    low, high = frame["hour"].min(), frame["hour"].max()
    for value in [np.nextafter(low, -np.inf), np.nextafter(high, np.inf), -1e6]:
        bad = frame.head(1).assign(hour=value)
        with pytest.raises(ValueError, match="beyond the limits of the knots"):
            pipeline.predict(bad)
        with pytest.raises(RawInputError, match="hour"):
            frame_to_feeds(bad, schema)
    good = frame.head(2).assign(hour=[low, high])
    out = session(model).run(None, frame_to_feeds(good, schema))[0].ravel()
    np.testing.assert_allclose(out, pipeline.predict(good), rtol=1e-12)
