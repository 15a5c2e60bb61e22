"""KNNImputer, IterativeImputer, PCA, TruncatedSVD, Normalizer, Binarizer and PolynomialFeatures
graphs against scikit-learn on the values where a re-implementation goes wrong: neighbours at
equal distances, rows with every value missing, rows sharing no coordinate with any donor, a
training row at distance zero, columns empty in training, zero rows, norms below scikit-learn's
floor, values exactly at the threshold, +-0.0, huge values, null components.

Each step's graph is built alone (the converter the registry holds, on a float64 input tensor) and
run in onnxruntime and in the ONNX reference evaluator; every expected value is scikit-learn's own
output (or, for the one documented departure, KNNImputer's tie rule, computed here from the
training rows). Where the graph repeats scikit-learn's float64 operations (distances, products,
comparisons, max norms) the tests ask for equal bits; where a sum may run in another order
(ReduceSum, MatMul) for a few ulps.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from sklearn.decomposition import PCA, IncrementalPCA, TruncatedSVD
from sklearn.ensemble import RandomForestRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics.pairwise import nan_euclidean_distances
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer, Normalizer, PolynomialFeatures

from pipeport.contract import frame_to_feeds
from pipeport.errors import RawInputError, UnsupportedStepError
from pipeport.export.converters import _float64
from pipeport.export.converters.knn_imputer import _distances, _FittedRows
from pipeport.export.graph import Graph
from pipeport.export.onnx_export import read_metadata, to_onnx
from pipeport.export.registry import find
from pipeport.schema import ModelSchema

RUNTIMES = ["onnxruntime", "reference"]
#: a sum in another order: a few ulps
ULPS = 4 * np.finfo(np.float64).eps


def _model(build: Any, widths: list[int]) -> onnx.ModelProto:
    g = Graph([])
    names = [f"x{i}" for i in range(len(widths))]
    out = build(g, *names)
    g.nodes.append(helper.make_node("Identity", [out], ["y"]))
    model = g.build(
        "t",
        [
            helper.make_tensor_value_info(n, TensorProto.DOUBLE, [None, w])
            for n, w in zip(names, widths, strict=True)
        ],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None, None])],
    )
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return model


def _run(model: onnx.ModelProto, arrays: list[np.ndarray], runtime: str) -> np.ndarray:
    feeds = {f"x{i}": np.asarray(a, np.float64) for i, a in enumerate(arrays)}
    if runtime == "reference":
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns on the branches Where discards
            outputs: Any = ReferenceEvaluator(model).run(None, feeds)
            return np.asarray(outputs[0])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, feeds)[0])


def transform_graph(step: Any, X: np.ndarray, runtime: str = "onnxruntime") -> np.ndarray:
    """The registered converter's graph of `step` (its check passed), run on X."""
    converter = find(step)
    assert converter is not None, type(step).__name__
    assert converter.check is None or converter.check(step) is None

    def build(g: Graph, x: str) -> str:
        cols = g.block(x, [f"x{j}" for j in range(X.shape[1])])
        out = converter.convert(step, cols, g, "step")
        return str(g.matrix(out, "out", step))

    return _run(_model(build, [X.shape[1]]), [X], runtime)


def refusal(step: Any) -> str:
    converter = find(step)
    assert converter is not None and converter.check is not None
    reason = converter.check(step)
    assert reason is not None, f"{step!r} is not refused"
    return reason


def same_bits(actual: np.ndarray, expected: np.ndarray) -> bool:
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return a.shape == e.shape and a.tobytes() == e.tobytes()


def assert_close(
    actual: np.ndarray, expected: np.ndarray, rtol: float = ULPS, by_column: bool = False
) -> None:
    """Within rtol of max(|expected|, tiny) (of the column's largest |value| if `by_column`: a
    sum of values of both signs in another order), NaN where scikit-learn has NaN."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    scale = np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
    if by_column:
        scale = np.maximum(scale, np.nanmax(np.abs(expected), axis=0))
    err = np.abs(np.nan_to_num(actual) - np.nan_to_num(expected)) / scale
    assert err.max(initial=0.0) <= rtol, f"max relative error {err.max():.3g}"


def readings(n: int, seed: int, missing: float = 0.15, columns: int = 4) -> np.ndarray:
    """Full-precision values of mixed scales (no repeated values), with gaps."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, columns)) * np.array([1.0, 30.0, 1000.0, 0.01, 5.0, 7.0, 2.0])[:columns]
    X += np.array([0.0, 100.0, 4000.0, 0.0, -3.0, 1.0, 9.0])[:columns]
    X[rng.random(X.shape) < missing] = np.nan
    return X


# -- exact float64 building blocks ----------------------------------------------------------------


def _exact_fma(a: float, b: float, c: float) -> float:
    return float(Fraction(a) * Fraction(b) + Fraction(c))  # float(Fraction) rounds to nearest


def _fma_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    n = 4000
    a = rng.normal(size=n) * 10.0 ** rng.integers(-6, 7, n)
    b = rng.normal(size=n) * 10.0 ** rng.integers(-6, 7, n)
    c = rng.normal(size=n) * 10.0 ** rng.integers(-12, 13, n)
    c[:500] = -(a[:500] * b[:500])  # the product's rounding error is all that is left
    a[500:1000] = np.round(a[500:1000], 1)  # decimal data, as a pipeline sees
    b[500:1000] = np.round(b[500:1000] * 100) / 100
    # exact ties: a*b + c halfway between two doubles, with and without a remainder
    ulp = 2.0**-52
    a[1000:1100], b[1000:1100], c[1000:1100] = 1 + ulp, 1 + ulp, -1.0
    a[1100:1200], b[1100:1200] = 1 + 2 * ulp, 0.5 + ulp
    c[1100:1200] = rng.choice([0.5, -0.5, 1.0, 2.0**60], 100)
    a[1200:1300], b[1200:1300], c[1200:1300] = 3.0, 2.0**52 + 1, 2.0**54 * rng.choice([1, -1], 100)
    a[1300:1400], b[1300:1400] = 0.0, rng.normal(size=100)  # zeros
    return a, b, c


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_fma_is_rounded_once_as_a_fused_multiply_add(runtime):
    a, b, c = _fma_inputs()

    def build(g: Graph, x: str, y: str, z: str) -> str:
        return _float64.fma(g, x, _float64.split(g, x), y, _float64.split(g, y), z)

    model = _model(build, [1, 1, 1])
    got = _run(model, [a.reshape(-1, 1), b.reshape(-1, 1), c.reshape(-1, 1)], runtime).ravel()
    expected = np.array([_exact_fma(x, y, z) for x, y, z in zip(a, b, c, strict=True)])
    wrong = np.flatnonzero(got != expected)
    assert wrong.size == 0, [(a[i], b[i], c[i], got[i], expected[i]) for i in wrong[:5]]
    # and it is not what separate rounding gives (the test can tell them apart)
    assert np.count_nonzero(a * b + c != expected) > 100


@pytest.mark.parametrize("columns", [1, 2, 3, 5, 8, 11, 16, 19])
def test_row_norms_sum_as_numpys_einsum(columns):
    X = readings(300, columns, missing=0.0, columns=min(columns, 7))
    X = np.ascontiguousarray(np.resize(X, (300, columns)) * np.linspace(1, 3, columns))

    def build(g: Graph, x: str) -> str:
        squares = []
        for j in range(columns):
            col = g.op(
                "Slice",
                [
                    x,
                    g.const(np.array([j], np.int64)),
                    g.const(np.array([j + 1], np.int64)),
                    g.const(np.array([1], np.int64)),
                ],
            )
            squares.append(g.op("Mul", [col, col]))
        return _float64.einsum_row_norms(g, squares)

    got = _run(_model(build, [columns]), [X], "onnxruntime").ravel()
    assert same_bits(got, np.einsum("ij,ij->i", X, X))


# -- KNNImputer -----------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_knn_distances_are_scikit_learns_bit_for_bit(columns, runtime):
    fit = readings(400, columns, columns=columns)
    rows = readings(250, 100 + columns, missing=0.3, columns=columns)
    rows[:20] = fit[:20]  # training rows themselves: distance ~0, rounding noise decides
    rows[20:30, 0] = fit[30:40, 0] * 1e6  # far away
    imputer = KNNImputer().fit(fit)

    def build(g: Graph, x: str) -> str:
        return _distances(imputer, g, x, g.op("IsNaN", [x]), _FittedRows(imputer, g))

    got = _run(_model(build, [columns]), [rows], runtime)
    expected = nan_euclidean_distances(rows, fit)
    expected[np.isnan(expected)] = np.inf  # the graph's marker for "no common coordinate"
    assert same_bits(got, expected)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"n_neighbors": 1},
        {"n_neighbors": 3, "weights": "distance"},
        {"n_neighbors": 8, "weights": "distance", "add_indicator": True},
        {"n_neighbors": 500},  # more than the donors of any column
    ],
)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_knn_imputer_matches_scikit_learn(params, runtime):
    fit = readings(300, 1)
    rows = readings(400, 2, missing=0.35)
    rows[:10] = fit[:10]  # a training row at distance zero
    imputer = KNNImputer(**params).fit(fit)
    expected = imputer.transform(rows)
    assert_close(transform_graph(imputer, rows, runtime), expected, 1e-13, by_column=True)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_row_with_every_value_missing_gets_the_donors_mean(weights):
    fit = readings(200, 3)
    rows = np.vstack([np.full((3, 4), np.nan), readings(5, 4, missing=0.5)])
    imputer = KNNImputer(weights=weights).fit(fit)
    expected = imputer.transform(rows)
    np.testing.assert_allclose(expected[0], np.nanmean(fit, axis=0), rtol=1e-12)  # the case
    for runtime in RUNTIMES:
        assert_close(transform_graph(imputer, rows, runtime), expected)


def test_knn_row_sharing_no_coordinate_with_any_donor_gets_the_mean():
    # column a is known only where b is missing: a row knowing only b has no donor for a
    fit = np.array([[1.0, np.nan], [2.0, np.nan], [4.0, np.nan], [np.nan, 5.0], [np.nan, 7.0]])
    rows = np.array([[np.nan, 6.0], [np.nan, 100.0], [3.0, np.nan]])
    imputer = KNNImputer(n_neighbors=2).fit(fit)
    expected = imputer.transform(rows)
    assert expected[0, 0] == pytest.approx(7.0 / 3.0)
    for runtime in RUNTIMES:
        assert_close(transform_graph(imputer, rows, runtime), expected)


def test_knn_equally_distant_rows_with_the_same_value_are_exact():
    # rows 1 and 2 (4 and 5; from 8: 1 and 2) are equally far from a query and agree on the
    # imputed value
    fit = np.array(
        [[0.0, 10.0], [2.0, 20.0], [2.0, 20.0], [5.0, 50.0], [1.0, 30.0], [3.0, 30.0], [9.0, 1.0]]
    )
    rows = np.array([[2.0, np.nan], [2.0, np.nan], [8.0, np.nan]])
    for params in (
        {"n_neighbors": 1},
        {"n_neighbors": 3},
        {"n_neighbors": 4, "weights": "distance"},
    ):
        imputer = KNNImputer(**params).fit(fit)
        expected = imputer.transform(rows)
        for runtime in RUNTIMES:
            assert_close(transform_graph(imputer, rows, runtime), expected)


def test_knn_tie_between_different_values_takes_the_lowest_numbered_row():
    """The documented departure: scikit-learn picks among exactly equal distances with numpy's
    argpartition (its choice depends on the CPU); the graph takes the lowest-numbered row."""
    fit = np.array([[0.0, 10.0], [2.0, 20.0], [2.0, 30.0], [4.0, 40.0], [2.0, 70.0]])
    rows = np.array([[2.0, np.nan], [2.0, np.nan]])
    imputer = KNNImputer(n_neighbors=2).fit(fit)
    distances = nan_euclidean_distances(rows, fit)[0]
    assert distances[1] == distances[2] == distances[4]  # scikit-learn's own: a real tie
    expected_rule = (20.0 + 30.0) / 2  # rows 1 and 2, the lowest-numbered of the three
    assert imputer.transform(rows)[0, 1] in {(20.0 + 30.0) / 2, (20.0 + 70.0) / 2, 50.0}
    for runtime in RUNTIMES:
        assert transform_graph(imputer, rows, runtime)[0, 1] == expected_rule


@pytest.mark.parametrize("keep", [False, True])
def test_knn_column_empty_in_training_is_dropped_or_zero(keep):
    fit = readings(100, 5, columns=3)
    fit[:, 1] = np.nan
    rows = readings(30, 6, missing=0.4, columns=3)
    imputer = KNNImputer(keep_empty_features=keep, add_indicator=True).fit(fit)
    expected = imputer.transform(rows)
    assert expected.shape[1] == (3 if keep else 2) + len(imputer.indicator_.features_)
    for runtime in RUNTIMES:
        assert_close(transform_graph(imputer, rows, runtime), expected)


def test_knn_refuses_what_it_cannot_read():
    assert "weights" in refusal(KNNImputer(weights=lambda d: d).fit(readings(20, 1)))
    assert "missing_values=-1" in refusal(KNNImputer(missing_values=-1).fit(np.ones((5, 2))))


# -- IterativeImputer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"initial_strategy": "median", "max_iter": 3, "imputation_order": "descending"},
        {"estimator": Ridge(alpha=3.0), "n_nearest_features": 2, "imputation_order": "random"},
        {"estimator": LinearRegression(), "min_value": [-1, 90, 3000, -0.01], "max_value": 4100},
        {"initial_strategy": "constant", "fill_value": -5.0, "skip_complete": True},
        {"add_indicator": True, "keep_empty_features": True},
        {"keep_empty_features": False, "max_iter": 0},
    ],
)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_iterative_imputer_matches_scikit_learn(params, runtime):
    fit = readings(300, 7)
    fit[:, 3] = np.where(np.isnan(fit[:, 3]), np.nan, fit[:, 0] * 0.02 + fit[:, 3])
    if "keep_empty_features" in params:
        fit[:, 2] = np.nan
    rows = readings(400, 8, missing=0.3)
    rows[:5] = np.nan  # every value missing (in a batch with others: the sequence applies)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings
        imputer = IterativeImputer(random_state=0, **params).fit(fit)
        expected = imputer.transform(rows)  # (warns of the column empty in training)
    got = transform_graph(imputer, rows, runtime)
    scale = np.maximum(np.abs(expected), 1.0)  # MatMul in its own order, carried on
    assert got.shape == expected.shape
    assert (np.abs(got - expected) / scale).max() <= 1e-12


def test_iterative_imputer_refuses_random_draws_and_nonlinear_estimators():
    fit = readings(60, 9)
    posterior = IterativeImputer(sample_posterior=True, max_iter=2, random_state=0).fit(fit)
    assert "sample_posterior=True" in refusal(posterior)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forest = IterativeImputer(
            estimator=RandomForestRegressor(n_estimators=3, random_state=0), max_iter=2
        ).fit(fit)
    assert "RandomForestRegressor" in refusal(forest) and "linear estimator" in refusal(forest)


# -- PCA, IncrementalPCA, TruncatedSVD ------------------------------------------------------------


@pytest.mark.parametrize(
    "step",
    [
        PCA(3),
        PCA(whiten=True),
        PCA(0.95, whiten=True, svd_solver="full"),
        PCA(2, svd_solver="randomized", random_state=0),
        IncrementalPCA(3, whiten=True, batch_size=50),
        TruncatedSVD(2, random_state=0),
        TruncatedSVD(3, algorithm="arpack"),
    ],
    ids=lambda s: repr(s),
)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_projections_match_scikit_learn(step, runtime):
    fit = np.nan_to_num(readings(300, 10, missing=0.0))
    rows = np.nan_to_num(readings(200, 11, missing=0.0))
    rows[:3] = 0.0
    rows[3:6] *= 1e6
    step.fit(fit)
    expected = step.transform(rows)
    got = transform_graph(step, rows, runtime)
    scale = np.abs(expected).max(axis=0)  # a MatMul in another order: ulps of the column scale
    assert (np.abs(got - expected) / scale).max() <= 1e-13


def test_whitening_a_null_component_is_refused_and_other_components_are_not():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(200, 3)) * [1.0, 10.0, 100.0]
    X = np.column_stack([X, 2 * X[:, 0] + X[:, 1]])  # rank 3 in 4 columns
    null = PCA(whiten=True).fit(X)
    assert null.explained_variance_ratio_[-1] < 1e-15  # rounding noise
    assert "component 3" in refusal(null) and "whiten" in refusal(null)
    for kept in (PCA(3, whiten=True).fit(X), PCA().fit(X)):  # no null component; no whitening
        assert find(kept).check(kept) is None


# -- Normalizer -----------------------------------------------------------------------------------


def _normalizer_rows() -> np.ndarray:
    rows = readings(200, 13, missing=0.0)
    rows[0] = 0.0  # a row of zeros stays zeros
    rows[1] = [-0.0, 0.0, -0.0, 0.0]
    rows[2] = [1e-17, -2e-17, 0.0, 3e-18]  # norm below 10 * eps: scikit-learn leaves the row
    rows[3] = [1e300, -1e300, 2e300, 1e-300]  # the l2 sum of squares overflows
    rows[4] = [-7.0, 3.0, 7.0, -7.0]  # the max norm from a negative value, repeated
    rows[5] = [5e-324, 0.0, 0.0, 0.0]  # subnormal
    return rows


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_normalizer_matches_scikit_learn(norm, runtime):
    rows = _normalizer_rows()
    step = Normalizer(norm=norm).fit(rows)
    expected = step.transform(rows)
    got = transform_graph(step, rows, runtime)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))  # -0.0 kept
    if norm == "max":
        assert same_bits(got, expected)
    else:
        assert_close(got, expected)
    assert same_bits(got[:3], rows[:3])  # zeros and tiny rows untouched, as scikit-learn


# -- Binarizer ------------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.0, 30.0, -2.5, 1e308])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_binarizer_matches_scikit_learn_at_and_around_the_threshold(threshold, runtime):
    t = np.float64(threshold)
    values = [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), -0.0, 0.0, 1e308, -1e308]
    values += [5e-324, -5e-324, 29.999999999999996, 30.000000000000004, -2.5]
    rows = np.array(values, np.float64).reshape(-1, 1)
    step = Binarizer(threshold=threshold).fit(rows)
    expected = step.transform(rows)
    got = transform_graph(step, rows, runtime)
    assert same_bits(got, expected)  # also +0.0 (never -0.0) below the threshold
    assert got[0, 0] == 0.0 and got[1, 0] == 1.0


def test_a_missing_value_before_a_binarizer_is_refused_as_scikit_learn_raises():
    frame = pd.DataFrame({"fare": [1.0, 50.0, 20.0, 80.0, 3.0, 45.0], "y": [0, 1, 0, 1, 0, 1]})
    pipeline = make_pipeline(Binarizer(threshold=30.0), LogisticRegression()).fit(
        frame[["fare"]], frame["y"]
    )
    with pytest.raises(ValueError):
        pipeline.predict(pd.DataFrame({"fare": [np.nan]}))
    model = to_onnx(pipeline, frame[["fare"]], "binarizer", generated_rows=200)
    schema = ModelSchema.from_metadata(read_metadata(model))
    assert not schema.inputs[0].missing_allowed
    with pytest.raises(RawInputError):
        frame_to_feeds(pd.DataFrame({"fare": [np.nan]}), schema)


# -- PolynomialFeatures ---------------------------------------------------------------------------


def _polynomial_rows(columns: int) -> np.ndarray:
    rows = readings(150, 14, missing=0.0, columns=columns)
    rows[0] = -0.0
    rows[1, 0] = 0.0
    rows[2] = 1e100  # degree 3 overflows to inf, degree 4 too
    rows[3] = 1e-110  # and underflows to 0
    rows[4] = -3.0
    rows[5] = np.array([1.0 + 2**-52, 3.0, 1.0 / 3.0, -7.1])[:columns]
    return rows


POLYNOMIALS = [
    {"degree": 2},
    {"degree": 3, "include_bias": False},
    {"degree": 3, "interaction_only": True},
    {"degree": 4, "interaction_only": True, "include_bias": False},
    {"degree": (2, 3)},
    {"degree": (2, 2), "include_bias": False},
    {"degree": (0, 1)},
    {"degree": (3, 4), "interaction_only": True},
    {"degree": 2, "order": "F"},
    {"degree": 5},
]


@pytest.mark.parametrize("params", POLYNOMIALS, ids=lambda p: repr(p))
@pytest.mark.parametrize("columns", [1, 2, 4])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_polynomial_products_are_scikit_learns_bit_for_bit(params, columns, runtime):
    rows = _polynomial_rows(columns)
    step = PolynomialFeatures(**params).fit(rows)
    if len(step.get_feature_names_out()) == 0:
        pytest.fail(f"{params} on {columns} columns outputs nothing")
    with np.errstate(over="ignore", under="ignore"):
        expected = step.transform(rows)
    got = transform_graph(step, rows, runtime)
    assert same_bits(got, expected)  # same roundings, same infinities, same signed zeros


def test_polynomial_product_order_matters_and_is_scikit_learns():
    """x0 * x1 * x2 is (x2 * x1) * x0 in scikit-learn, not (x0 * x1) * x2: values where the two
    orders round differently, so a graph multiplying in another order fails here."""
    rng = np.random.default_rng(15)
    rows = rng.normal(size=(500, 3)) * 1e3
    step = PolynomialFeatures(3, interaction_only=True, include_bias=False).fit(rows)
    expected = step.transform(rows)[:, -1]
    assert np.count_nonzero(expected != (rows[:, 0] * rows[:, 1]) * rows[:, 2]) > 10
    assert same_bits(transform_graph(step, rows)[:, -1], expected)


def test_steps_that_raise_on_missing_values_refuse_them_in_the_contract():
    frame = pd.DataFrame(
        {"a": np.linspace(1, 9, 30), "b": np.linspace(-4, 4, 30) ** 2, "y": np.arange(30) % 2}
    )
    for step in (Normalizer(), PolynomialFeatures(2), PCA(1), TruncatedSVD(1)):
        pipeline = make_pipeline(step, LogisticRegression()).fit(frame[["a", "b"]], frame["y"])
        model = to_onnx(pipeline, frame[["a", "b"]], "nan", generated_rows=200)
        schema = ModelSchema.from_metadata(read_metadata(model))
        assert [i.missing_allowed for i in schema.inputs] == [False, False], step


def test_unsupported_step_error_names_the_step_and_the_parameter():
    fit = pd.DataFrame(readings(80, 16, missing=0.2), columns=list("abcd"))
    y = np.arange(80) % 2
    pipeline = make_pipeline(
        IterativeImputer(sample_posterior=True, max_iter=2, random_state=0), LogisticRegression()
    ).fit(fit, y)
    with pytest.raises(UnsupportedStepError, match="iterativeimputer.*sample_posterior=True"):
        to_onnx(pipeline, fit, "posterior", generated_rows=0)
