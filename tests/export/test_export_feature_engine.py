"""feature-engine's transformers, each step's graph alone against feature-engine's own transform.

Each fitted step is converted by the converter the registry holds, on the raw columns of a frame
with every dtype pandas 3 produces (float with NaN, int64, str, object with NaN, category, bool,
an object column of integers), and run in onnxruntime and in the ONNX reference evaluator on
training rows plus the values where a re-implementation goes wrong: missing and unseen values,
bin edges and caps and one ulp beside them, zeros, negative and huge numbers. Every expected
value is feature-engine's `transform` of the same rows; text outputs are compared as the contract
feeds text (3 -> "3", missing -> ""). Where the graph is the same float64 operations in the same
order the tests ask for equal bits; where it needs log/exp/sin/pow (onnxruntime's, within a few
ulps of numpy's), 1e-13 relative.

What feature-engine refuses (a log of 0, an unseen value with unseen='raise', a missing value
with missing_values='raise', a value outside ArbitraryDiscretiser's edges with errors='raise')
is refused by the exported contract, the rules every runtime applies: each such row is shown to
make feature-engine raise, and to be refused by the contract of the exported pipeline.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from feature_engine.creation import CyclicalFeatures, MathFeatures, RelativeFeatures
from feature_engine.discretisation import (
    ArbitraryDiscretiser,
    EqualFrequencyDiscretiser,
    EqualWidthDiscretiser,
    GeometricWidthDiscretiser,
)
from feature_engine.encoding import (
    CountFrequencyEncoder,
    MeanEncoder,
    OneHotEncoder,
    OrdinalEncoder,
    RareLabelEncoder,
    WoEEncoder,
)
from feature_engine.imputation import (
    AddMissingIndicator,
    ArbitraryNumberImputer,
    CategoricalImputer,
    DropMissingData,
    EndTailImputer,
    MeanMedianImputer,
)
from feature_engine.outliers import ArbitraryOutlierCapper, OutlierTrimmer, Winsorizer
from feature_engine.pipeline import Pipeline
from feature_engine.selection import (
    DropConstantFeatures,
    DropCorrelatedFeatures,
    DropDuplicateFeatures,
    DropFeatures,
    SmartCorrelatedSelection,
)
from feature_engine.transformation import (
    BoxCoxTransformer,
    LogCpTransformer,
    LogTransformer,
    PowerTransformer,
    ReciprocalTransformer,
    YeoJohnsonTransformer,
)
from feature_engine.wrappers import SklearnTransformerWrapper
from onnx import helper
from onnx.reference import ReferenceEvaluator
from sklearn.feature_selection import SelectKBest, f_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import Binarizer, MinMaxScaler
from sklearn.preprocessing import OneHotEncoder as SklearnOneHotEncoder

from pipeport.contract import frame_to_feeds, is_missing, normalise_category
from pipeport.errors import RawInputError, UnsupportedStepError
from pipeport.export.converters.feature_engine._frame import missing_stands_for
from pipeport.export.graph import DOUBLE, STRING, Graph
from pipeport.export.onnx_export import read_metadata, to_onnx
from pipeport.export.raw_inputs import raw_columns
from pipeport.export.registry import lookup
from pipeport.export.structure import convert_transformer
from pipeport.schema import ModelSchema

RUNTIMES = ["onnxruntime", "reference"]
#: Where the graph uses onnxruntime's Log, Exp, Pow, Sin or Cos (a few ulps off numpy's).
TRANSCENDENTAL_RTOL = 1e-13

# -- the data -------------------------------------------------------------------------------------


def table(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """Every dtype pandas 3 gives a CSV column, with missing values and rare labels."""
    rng = np.random.default_rng(seed)

    def holes(values: np.ndarray, rate: float) -> list[Any]:
        return [np.nan if rng.random() < rate else v for v in values.tolist()]

    return pd.DataFrame(
        {
            "x": holes(rng.gamma(2.0, 5.0, n).round(3) + 0.01, 0.15),  # > 0, with NaN
            "signed": rng.normal(0.0, 10.0, n).round(4),  # both signs, no NaN
            "count": rng.integers(0, 7, n),  # int64 holding 0
            "big": rng.uniform(1.0, 1e6, n),
            "colour": pd.Series(
                rng.choice(
                    ["red", "green", "blue", "teal", "plum"], n, p=[0.4, 0.3, 0.2, 0.07, 0.03]
                ),
                dtype="str",
            ),
            "city": pd.Series(holes(rng.choice(["Oslo", "Rome", "Lima"], n), 0.1), dtype=object),
            "grade": pd.Series(holes(rng.choice(list("ABCD"), n), 0.2)).astype("category"),
            "flag": rng.random(n) < 0.4,
            "code": pd.Series(holes(rng.integers(1, 5, n), 0.1), dtype=object),  # object ints
        }
    )


TRAIN = table()
NUMBERS = ["x", "signed", "count", "big"]
TARGET = pd.Series(
    (TRAIN["signed"] > 0).astype(int) ^ (TRAIN["colour"] == "red").astype(int), name="y"
)
REG_TARGET = TRAIN["big"] / 1e4 + TRAIN["count"]


def rows(base: pd.DataFrame, **columns: list[Any]) -> pd.DataFrame:
    """`base`'s first rows with the given values put into the named columns (same dtypes where
    the values allow it; a str column stays str, an int column takes floats as pandas does)."""
    n = max(len(v) for v in columns.values())
    out = pd.concat([base.head(1)] * n, ignore_index=True)
    for name, values in columns.items():
        column = list(values) + [values[0]] * (n - len(values))
        original = base[name]
        if isinstance(original.dtype, pd.CategoricalDtype):
            cats = list(original.dtype.categories)
            extra = [v for v in dict.fromkeys(column) if not is_missing(v) and v not in cats]
            out[name] = pd.Categorical(column, categories=cats + extra)
        elif original.dtype == object:
            out[name] = pd.Series(column, dtype=object)
        else:
            out[name] = pd.Series(column).astype(
                original.dtype if not any(is_missing(v) for v in column) else None
            )
    return out


# -- the step's graph, alone ----------------------------------------------------------------------


class StepGraph:
    """A fitted step's graph on the raw columns of `frame`: one output per output column."""

    def __init__(self, step: Any, frame: pd.DataFrame) -> None:
        self.columns = raw_columns(frame, list(frame.columns))
        g = Graph(self.columns)
        out = convert_transformer(step, g.raw_cols(), g, "step")
        self.names = [c.name for c in out]
        #: per output: the text a NaN stands for (a number column an imputer filled with text)
        self.stands_for = [missing_stands_for(g, c)[1] for c in out]
        self.types = []
        outputs = []
        for i, col in enumerate(out):
            dtype = g.natural_type(col)
            tensor = g.column(col, "step", step, want=dtype)
            g.nodes.append(helper.make_node("Identity", [tensor], [f"out{i}"]))
            self.types.append(dtype)
            outputs.append(helper.make_tensor_value_info(f"out{i}", dtype, [None, 1]))
        self.used = [c for c in self.columns if c.chosen is not None]
        inputs = [
            helper.make_tensor_value_info(c.onnx_name, c.chosen or DOUBLE, [None, 1])
            for c in self.used
        ]
        self.model = g.build("step", inputs, outputs)
        self.model.ir_version = 10
        onnx.checker.check_model(self.model, full_check=True)

    def feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each raw column as the contract feeds it: text normalised ("" missing), numbers as
        float64 (NaN missing, booleans 1.0/0.0)."""
        out = {}
        for c in self.used:
            values = frame[c.name].tolist()
            if c.chosen == STRING:
                out[c.onnx_name] = np.array([[normalise_category(v)] for v in values], object)
            else:
                out[c.onnx_name] = np.array(
                    [[np.nan if is_missing(v) else float(v)] for v in values], np.float64
                )
        return out

    def run(self, frame: pd.DataFrame, runtime: str) -> list[np.ndarray]:
        feeds = self.feeds(frame)
        if runtime == "reference":
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outs = ReferenceEvaluator(self.model).run(None, feeds)
        else:
            sess = ort.InferenceSession(
                self.model.SerializeToString(), providers=["CPUExecutionProvider"]
            )
            outs = sess.run(None, feeds)
        return [np.asarray(o).reshape(-1) for o in outs]


def expected_column(values: pd.Series, dtype: int, stands_for: Any = None) -> np.ndarray:
    """feature-engine's column as the graph holds it: text normalised, numbers as float64 (NaN
    for missing, and for the text an imputer wrote into a column of numbers)."""
    if dtype == STRING:
        return np.array([normalise_category(v) for v in values.tolist()], dtype=object)
    return np.array(
        [np.nan if is_missing(v) or v == stands_for else float(v) for v in values.tolist()],
        np.float64,
    )


def assert_graph_equals_transform(
    step: Any, frame: pd.DataFrame, runtime: str, rtol: float = 0.0
) -> None:
    """The graph of `step` on `frame` equals `step.transform(frame)`, column by column: equal
    bits (rtol 0) or within rtol; text as the contract feeds it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = step.transform(frame)
    graph = StepGraph(step, TRAIN)
    assert graph.names == [str(c) for c in expected.columns]
    outputs = zip(
        graph.names, graph.types, graph.stands_for, graph.run(frame, runtime), strict=True
    )
    for name, dtype, stands_for, actual in outputs:
        want = expected_column(expected[name], dtype, stands_for)
        if dtype == STRING or rtol == 0.0:
            np.testing.assert_array_equal(actual, want, err_msg=name)
        else:
            np.testing.assert_allclose(actual, want, rtol=rtol, atol=0.0, err_msg=name)


def fit(step: Any, target: pd.Series | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return step.fit(TRAIN, TARGET if target is None else target)


def ulps(values: list[float]) -> list[float]:
    """Each value and the doubles on either side of it."""
    out: list[float] = []
    for v in values:
        out += [float(np.nextafter(v, -np.inf)), float(v), float(np.nextafter(v, np.inf))]
    return out


EDGE_NUMBERS = [0.0, -0.0, 1e-300, 1e-9, 0.5, 1.0, 10.0, 1000.0, 1e15, -3.5, -1e6, 7.0, 3e200]


def accepted_rows(step: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of `frame` feature-engine transforms (one by one: some refuse whole batches)."""
    keep = []
    for i in range(len(frame)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                step.transform(frame.iloc[[i]])
            keep.append(i)
        except Exception:
            continue
    return frame.iloc[keep].reset_index(drop=True)


# -- imputation -----------------------------------------------------------------------------------

_ANY: Callable[[Any], Any] = lambda value: value  # noqa: E731  (past feature-engine's hints)

NUMBER_IMPUTERS: dict[str, Callable[[], Any]] = {
    "mean": lambda: MeanMedianImputer(imputation_method="mean"),
    "median": lambda: MeanMedianImputer(imputation_method="median", variables=["x"]),
    "arbitrary": lambda: ArbitraryNumberImputer(arbitrary_number=-999),
    "arbitrary-dict": lambda: ArbitraryNumberImputer(imputer_dict={"x": 0.25, "count": -1}),
    "end-gaussian-right": lambda: EndTailImputer(imputation_method="gaussian", tail="right"),
    "end-gaussian-left": lambda: EndTailImputer(imputation_method="gaussian", tail="left", fold=2),
    "end-iqr-right": lambda: EndTailImputer(imputation_method="iqr", tail="right", fold=_ANY(1.5)),
    "end-iqr-left": lambda: EndTailImputer(imputation_method="iqr", tail="left"),
    "end-max": lambda: EndTailImputer(imputation_method="max", fold=2, variables=["x"]),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", NUMBER_IMPUTERS)
def test_number_imputers_fill_a_missing_value_with_the_learned_number(name, runtime):
    step = fit(NUMBER_IMPUTERS[name]())
    frame = pd.concat(
        [TRAIN.head(60), rows(TRAIN, x=[np.nan, 0.0, -0.0, 1e300], count=[np.nan, 0, 5, -2])],
        ignore_index=True,
    )
    assert_graph_equals_transform(step, frame, runtime)


CATEGORICAL_IMPUTERS: dict[str, Callable[[], Any]] = {
    "missing-text-and-category": lambda: CategoricalImputer(variables=["city", "grade"]),
    "missing-fill-value": lambda: CategoricalImputer(fill_value="?", variables=["city"]),
    "missing-number-fill": lambda: CategoricalImputer(fill_value=-1, variables=["city"]),
    "frequent-text": lambda: CategoricalImputer(imputation_method="frequent", variables=["city"]),
    "frequent-object-integers": lambda: CategoricalImputer(
        imputation_method="frequent", variables=["code"]
    ),
    "missing-numbers-as-text": lambda: CategoricalImputer(
        variables=["x", "code"], ignore_format=True, return_object=True
    ),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", CATEGORICAL_IMPUTERS)
def test_categorical_imputer_fills_as_feature_engine(name, runtime):
    step = fit(CATEGORICAL_IMPUTERS[name]())
    frame = pd.concat(
        [
            TRAIN.head(60),
            rows(
                TRAIN,
                city=[np.nan, "Oslo", "Missing", "never seen"],
                grade=[np.nan, "A", "B", "C"],
                code=[np.nan, 2, 3, 4],
                x=[np.nan, 2.5, 3.0, 1e-7],
            ),
        ],
        ignore_index=True,
    )
    assert_graph_equals_transform(step, frame, runtime)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("missing_only", [True, False])
def test_add_missing_indicator_appends_one_flag_per_variable(missing_only, runtime):
    step = fit(AddMissingIndicator(missing_only=missing_only))
    assert step.get_feature_names_out()[-1].endswith("_na")
    frame = pd.concat(
        [
            TRAIN.head(60),
            rows(
                TRAIN, x=[np.nan, 1.0], city=["Rome", np.nan], grade=[np.nan, "A"], code=[np.nan, 1]
            ),
        ],
        ignore_index=True,
    )
    assert_graph_equals_transform(step, frame, runtime)


def test_the_object_integer_trap_exports_with_ignore_format():
    """CategoricalImputer('frequent') re-infers an object column of integers as int64; a later
    encoder refuses it without ignore_format=True (feature-engine's own TypeError), and with it
    the pipeline exports and its graph equals feature-engine's."""
    imputed = fit(CategoricalImputer(imputation_method="frequent", variables=["code"])).transform(
        TRAIN
    )
    assert imputed["code"].dtype == np.int64
    with pytest.raises(TypeError, match="not categorical"):
        OrdinalEncoder(encoding_method="arbitrary", variables=["code"]).fit(imputed)
    pipe = Pipeline(
        [
            ("impute", CategoricalImputer(imputation_method="frequent", variables=["code"])),
            ("encode", OrdinalEncoder(variables=["code"], ignore_format=True)),
            ("model", LogisticRegression()),
        ]
    )
    features = TRAIN[["code", "signed"]]
    model = _export(pipe.fit(features, TARGET), features)
    meta = read_metadata(model)
    (code,) = [i for i in meta["inputs"] if i["name"] == "code"]
    assert code["kind"] == "numeric" and code["missing_allowed"]
    assert meta["parity"]["passed"]


# -- transformation -------------------------------------------------------------------------------

TRANSFORMS: dict[str, tuple[Callable[[], Any], float]] = {
    "log-e": (lambda: LogTransformer(variables=["big", "x"]), TRANSCENDENTAL_RTOL),
    "log-10": (lambda: LogTransformer(base="10", variables=["big"]), TRANSCENDENTAL_RTOL),
    "log-cp-auto": (lambda: LogCpTransformer(variables=["signed", "count"]), TRANSCENDENTAL_RTOL),
    "log-cp-number": (
        lambda: LogCpTransformer(C=25, base="10", variables=["signed"]),
        TRANSCENDENTAL_RTOL,
    ),
    "log-cp-dict": (lambda: LogCpTransformer(C={"count": 0.5, "big": 2}), TRANSCENDENTAL_RTOL),
    "reciprocal": (lambda: ReciprocalTransformer(variables=["signed", "big"]), 0.0),
    "power-half": (lambda: PowerTransformer(exp=0.5, variables=["big", "count"]), 1e-15),
    "power-square": (lambda: PowerTransformer(exp=2, variables=["signed"]), 1e-15),
    "power-minus-three": (lambda: PowerTransformer(exp=-3, variables=["big"]), 1e-15),
    "box-cox": (lambda: BoxCoxTransformer(variables=["big", "count"]), TRANSCENDENTAL_RTOL),
    "yeo-johnson": (
        lambda: YeoJohnsonTransformer(variables=["signed", "count", "big"]),
        TRANSCENDENTAL_RTOL,
    ),
}


def _no_missing_x() -> pd.DataFrame:
    return TRAIN.assign(x=TRAIN["x"].fillna(1.5))


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", TRANSFORMS)
def test_transforms_compute_feature_engines_numbers(name, runtime):
    build, rtol = TRANSFORMS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = _no_missing_x()
        if "count" in name or name in ("box-cox", "log-cp-dict"):
            base = base.assign(count=base["count"] + 1)
        step = build().fit(base)
    edges = [v for v in EDGE_NUMBERS if abs(v) < 1e100]
    frame = pd.concat(
        [base.head(80)]
        + [rows(base, **{v: edges}) for v in step.variables_]
        + [rows(base, **{v: [10.0**k for k in range(-6, 16)]}) for v in step.variables_],
        ignore_index=True,
    )
    frame = accepted_rows(step, frame)
    assert len(frame) > 80
    assert_graph_equals_transform(step, frame, runtime, rtol=rtol)


def test_log10_is_exact_at_powers_of_ten():
    step = LogTransformer(base="10", variables=["big"]).fit(TRAIN)
    frame = rows(TRAIN, big=[10.0**k for k in range(-20, 23)])
    assert_graph_equals_transform(step, frame, "onnxruntime")


# -- discretisation -------------------------------------------------------------------------------

DISCRETISERS: dict[str, Callable[[], Any]] = {
    "equal-width": lambda: EqualWidthDiscretiser(bins=7, variables=["signed", "big"]),
    "equal-width-object": lambda: EqualWidthDiscretiser(
        bins=4, return_object=True, variables=["count"]
    ),
    "equal-frequency": lambda: EqualFrequencyDiscretiser(q=6, variables=["signed", "count"]),
    "equal-frequency-boundaries": lambda: EqualFrequencyDiscretiser(
        q=5, return_boundaries=True, precision=2, variables=["big"]
    ),
    "geometric-width": lambda: GeometricWidthDiscretiser(bins=5, variables=["big"]),
    "arbitrary": lambda: ArbitraryDiscretiser(
        binning_dict=_ANY({"signed": [-20, -5, 0, 5.5, 20], "count": [0, 2, 4, 6]})
    ),
    "arbitrary-boundaries": lambda: ArbitraryDiscretiser(
        binning_dict=_ANY({"signed": [-20, -5, 0, 5.5, 20]}), return_boundaries=True, precision=4
    ),
    "arbitrary-boundaries-precision-1": lambda: ArbitraryDiscretiser(
        binning_dict=_ANY({"big": [0, 1234.5678, 500000, 1e6]}),
        return_boundaries=True,
        precision=1,
    ),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", DISCRETISERS)
def test_discretisers_sort_values_into_feature_engines_bins(name, runtime):
    step = fit(DISCRETISERS[name]())
    extra = []
    for v in step.variables_:
        edges = [float(e) for e in step.binner_dict_[v] if np.isfinite(e)]
        extra.append(rows(TRAIN, **{v: ulps(edges) + [min(edges) - 100, max(edges) + 100]}))
    frame = pd.concat([TRAIN.head(80), *extra], ignore_index=True)
    assert_graph_equals_transform(step, frame, runtime)


# -- outliers -------------------------------------------------------------------------------------


def _winsorizer(method: str, tail: str) -> Callable[[], Any]:
    fold = 0.1 if method == "quantiles" else 1.0
    return lambda: Winsorizer(
        capping_method=method, tail=tail, fold=fold, variables=["signed", "big"]
    )


CAPPERS: dict[str, Callable[[], Any]] = {
    f"{method}-{tail}": _winsorizer(method, tail)
    for method in ("gaussian", "iqr", "mad", "quantiles")
    for tail in ("right", "left", "both")
}
CAPPERS["indicators-both"] = lambda: Winsorizer(
    tail="both", add_indicators=True, variables=["signed", "count"]
)
CAPPERS["indicators-left-missing-ignore"] = lambda: Winsorizer(
    capping_method="iqr",
    tail="left",
    fold=0.2,
    add_indicators=True,
    missing_values="ignore",
    variables=["x"],
)
CAPPERS["arbitrary"] = lambda: ArbitraryOutlierCapper(
    max_capping_dict={"signed": 5.5, "big": 1e5}, min_capping_dict={"signed": -2, "count": 1}
)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", CAPPERS)
def test_cappers_cap_at_feature_engines_caps(name, runtime):
    step = fit(CAPPERS[name]())
    caps = {**{v: [] for v in step.variables_}}
    for side in (step.right_tail_caps_, step.left_tail_caps_):
        for v, cap in side.items():
            caps[v] += [float(cap)]
    extra = [
        rows(
            TRAIN, **{v: ulps(c) + [-1e9, 1e9, 0.0] + ([np.nan] if name.endswith("ignore") else [])}
        )
        for v, c in caps.items()
        if c
    ]
    frame = pd.concat([TRAIN.head(80), *extra], ignore_index=True)
    if step.missing_values == "raise":
        frame = frame.assign(x=frame["x"].fillna(2.0))
    assert_graph_equals_transform(step, frame, runtime)


# -- encoding -------------------------------------------------------------------------------------

ENCODERS: dict[str, Callable[[], Any]] = {
    "ordinal-ordered": lambda: OrdinalEncoder(
        variables=["colour", "city"], missing_values="ignore"
    ),
    "ordinal-arbitrary-encode": lambda: OrdinalEncoder(
        encoding_method="arbitrary",
        unseen="encode",
        missing_values="ignore",
        variables=["colour", "grade"],
    ),
    "ordinal-numbers-and-booleans": lambda: OrdinalEncoder(
        ignore_format=True, unseen="encode", variables=["count", "flag"]
    ),
    "count": lambda: CountFrequencyEncoder(variables=["colour"]),
    "frequency-encode": lambda: CountFrequencyEncoder(
        encoding_method="frequency",
        unseen="encode",
        missing_values="ignore",
        variables=["city", "grade"],
    ),
    "mean": lambda: MeanEncoder(variables=["colour", "grade"], missing_values="ignore"),
    "mean-smoothing": lambda: MeanEncoder(smoothing=3.5, unseen="encode", variables=["colour"]),
    "mean-smoothing-auto": lambda: MeanEncoder(smoothing="auto", variables=["colour"]),
    "woe": lambda: WoEEncoder(variables=["colour"]),
    "one-hot": lambda: OneHotEncoder(variables=["colour"]),
    "one-hot-top-and-drop-last": lambda: OneHotEncoder(
        top_categories=2, variables=["colour"], ignore_format=True
    ),
    "one-hot-drop-last-binary-numbers": lambda: OneHotEncoder(
        drop_last=True, drop_last_binary=True, ignore_format=True, variables=["count", "flag"]
    ),
    "rare-label": lambda: RareLabelEncoder(tol=0.05, n_categories=3, variables=["colour"]),
    "rare-label-missing-ignore": lambda: RareLabelEncoder(
        tol=0.2,
        n_categories=2,
        replace_with="Other",
        missing_values="ignore",
        variables=["city", "grade"],
    ),
    "rare-label-numbers-to-text": lambda: RareLabelEncoder(
        tol=0.15, n_categories=2, ignore_format=True, variables=["count"]
    ),
    "rare-label-numbers-to-number": lambda: RareLabelEncoder(
        tol=0.15, n_categories=2, replace_with=-1, ignore_format=True, variables=["count"]
    ),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", ENCODERS)
def test_encoders_encode_learned_unseen_and_missing_values_as_feature_engine(name, runtime):
    step = fit(ENCODERS[name]())
    frame = pd.concat(
        [
            TRAIN.head(100),
            rows(
                TRAIN,
                colour=["red", "plum", "never seen", "teal"],
                city=["Lima", np.nan, "Paris", "Oslo"],
                grade=["D", np.nan, "Z", "A"],
                count=[0, 6, 9, 3],
                flag=[True, False, True, False],
            ),
        ],
        ignore_index=True,
    )
    frame = accepted_rows(step, frame)
    assert len(frame) > 100
    assert_graph_equals_transform(step, frame, runtime)


# -- creation -------------------------------------------------------------------------------------

MATH = ["sum", "mean", "prod", "max", "min", "std", "var", "median"]
WIDE = [f"w{i}" for i in range(11)]
WIDE_TRAIN = pd.DataFrame(
    np.random.default_rng(5).normal(0.0, 1.0, (300, 11)) * 10.0 ** np.arange(-5, 6), columns=WIDE
)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("missing_values", ["raise", "ignore"])
@pytest.mark.parametrize("width", [2, 3, 4, 9, 11])
def test_math_features_reduce_rows_bit_for_bit_as_pandas(width, missing_values, runtime):
    data = WIDE_TRAIN.copy()
    if missing_values == "ignore":  # a missing value in the batch: pandas sums a copy pairwise
        holes = np.random.default_rng(width).random(data.shape) < 0.25
        data = data.mask(holes)
        data.iloc[0, :width] = np.nan  # a row with nothing to reduce
    step = MathFeatures(variables=WIDE[:width], func=MATH, missing_values=missing_values)
    step.fit(data.fillna(0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = step.transform(data)
    graph = StepGraph(step, data)
    assert graph.names == list(expected.columns)
    for name, actual in zip(graph.names, graph.run(data, runtime), strict=True):
        np.testing.assert_array_equal(actual, expected[name].to_numpy(np.float64), err_msg=name)


RELATIVE = ["add", "sub", "mul", "div", "truediv", "floordiv", "mod"]
SIGNS = pd.DataFrame(
    {
        "a": [7.5, -7.5, 7.5, -7.5, 0.0, -0.0, 1e300, 5.0, 1e-300, 3.0, np.nan, 6.0],
        "b": [2.0, 2.0, -2.0, -2.0, 3.0, -3.0, 1e-300, 0.0, 7.0, np.nan, 2.0, 0.1],
        "c": [0.25, 0.0, -1.0, 3.0, 2.0, 0.5, -0.5, 1.0, 0.0, 4.0, 1.0, -0.0],
    }
)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("fill_value", [None, 0, -9.5])
def test_relative_features_as_pandas_and_numpy_divmod(fill_value, runtime):
    rng = np.random.default_rng(9)
    train = pd.DataFrame({"a": rng.normal(0, 50, 400), "b": rng.normal(0, 3, 400)})
    train["c"] = rng.choice([-3.0, -0.7, 0.3, 2.0, 5.0], 400)
    frame = pd.concat([train, SIGNS], ignore_index=True)
    funcs = [*RELATIVE, "pow"]
    step = RelativeFeatures(
        variables=["a", "b"], reference=["c"], func=funcs, fill_value=fill_value
    )
    step.fit(train)
    if fill_value is None:  # feature-engine refuses a batch holding a zero reference
        frame = frame[frame["c"] != 0].reset_index(drop=True)
        with pytest.raises(ValueError, match="zeroes"):
            step.transform(SIGNS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = step.transform(frame)
    graph = StepGraph(step, train)
    for name, actual in zip(graph.names, graph.run(frame, runtime), strict=True):
        want = expected[name].to_numpy(np.float64)
        if "_pow_" in name:  # onnxruntime's pow: within an ulp of numpy's
            np.testing.assert_allclose(actual, want, rtol=1e-15, err_msg=name)
        else:  # equal values (onnxruntime's Where gives +0.0 where numpy has -0.0)
            np.testing.assert_array_equal(actual, want, err_msg=name)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("drop_original", [False, True])
def test_cyclical_features_sin_and_cos(drop_original, runtime):
    step = fit(CyclicalFeatures(variables=["count", "signed"], drop_original=drop_original))
    frame = pd.concat(
        [TRAIN.head(80), rows(TRAIN, count=[0, 3, 6, 12, -6], signed=EDGE_NUMBERS[:12])],
        ignore_index=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = step.transform(frame)
    graph = StepGraph(step, TRAIN)
    assert graph.names == list(expected.columns)
    for name, dtype, actual in zip(
        graph.names, graph.types, graph.run(frame, runtime), strict=True
    ):
        want = expected_column(expected[name], dtype)
        if name.endswith(("_sin", "_cos")):  # onnxruntime's sin/cos: ~1e-12 relative, 1e-15 abs
            np.testing.assert_allclose(actual, want, rtol=1e-11, atol=1e-15, err_msg=name)
        else:
            np.testing.assert_array_equal(actual, want, err_msg=name)


# -- selection and wrappers -----------------------------------------------------------------------

NUMERIC_TRAIN = TRAIN[NUMBERS].assign(
    x=TRAIN["x"].fillna(1.0), twin=TRAIN["signed"], near=TRAIN["big"] * 2 + 1, flat=1.0
)
SELECTORS: dict[str, Callable[[], Any]] = {
    "drop-features": lambda: DropFeatures(features_to_drop=["count", "flat"]),
    "drop-constant": lambda: DropConstantFeatures(tol=0.9),
    "drop-duplicate": lambda: DropDuplicateFeatures(),
    "drop-correlated": lambda: DropCorrelatedFeatures(threshold=0.9),
    "smart-correlated": lambda: SmartCorrelatedSelection(threshold=0.9),
}


@pytest.mark.parametrize("name", SELECTORS)
def test_selectors_keep_feature_engines_columns(name):
    step = SELECTORS[name]().fit(NUMERIC_TRAIN, REG_TARGET)
    assert step.features_to_drop_  # each drops something here
    graph = StepGraph(step, NUMERIC_TRAIN)
    expected = step.transform(NUMERIC_TRAIN)
    assert graph.names == list(expected.columns)
    for name_, actual in zip(graph.names, graph.run(NUMERIC_TRAIN, "onnxruntime"), strict=True):
        np.testing.assert_array_equal(actual, expected[name_].to_numpy(np.float64))


WRAPPED: dict[str, Callable[[], Any]] = {
    "min-max-in-place": lambda: SklearnTransformerWrapper(
        MinMaxScaler(), variables=["big", "count"]
    ),
    "binarizer": lambda: SklearnTransformerWrapper(Binarizer(threshold=2), variables=["count"]),
    "one-hot-appended": lambda: SklearnTransformerWrapper(
        SklearnOneHotEncoder(sparse_output=False, handle_unknown="ignore"), variables=["colour"]
    ),
    "select-k-best-drops": lambda: SklearnTransformerWrapper(
        SelectKBest(f_regression, k=2), variables=["signed", "count", "big"]
    ),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", WRAPPED)
def test_wrapped_scikit_learn_transformers_land_where_feature_engine_puts_them(name, runtime):
    step = fit(WRAPPED[name](), REG_TARGET)
    frame = pd.concat(
        [TRAIN.head(80), rows(TRAIN, colour=["unseen"], count=[2])], ignore_index=True
    )
    assert_graph_equals_transform(step, frame, runtime)


# -- refusals -------------------------------------------------------------------------------------


def _export(pipeline: Any, sample: pd.DataFrame) -> onnx.ModelProto:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_onnx(pipeline, sample, "fe", generated_rows=300, seed=2)


def _refused_alike(pipeline: Any, sample: pd.DataFrame, column: str, values: list[Any]) -> None:
    """Each value makes feature-engine's pipeline raise, and the exported contract refuse it."""
    model = _export(pipeline, sample)
    schema = ModelSchema.from_metadata(read_metadata(model))
    frame_to_feeds(sample.head(20), schema)  # ordinary rows pass
    for value in values:
        row = rows(sample, **{column: [value]})
        with pytest.raises(Exception), warnings.catch_warnings():  # noqa: B017 (any refusal)
            warnings.simplefilter("ignore")
            pipeline.predict(row)
        with pytest.raises(RawInputError) as refused:
            frame_to_feeds(row, schema)
        assert column in str(refused.value)


def _model(*steps: tuple[str, Any], task: str = "classification") -> Pipeline:
    model = LogisticRegression(max_iter=2000) if task == "classification" else Ridge()
    return Pipeline([*steps, ("model", model)])


def test_what_feature_engine_refuses_in_transform_every_runtime_refuses():
    sample = TRAIN[["x", "signed", "count", "big"]]

    def fitted(*steps: tuple[str, Any]) -> Pipeline:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _model(*steps, task="regression").fit(sample, REG_TARGET)

    impute = ("impute", MeanMedianImputer(variables=["x"]))
    # a log of a value <= 0, through the imputer
    _refused_alike(fitted(impute, ("log", LogTransformer(variables=["x"]))), sample, "x", [0, -2.5])
    # log(x + C) with x + C <= 0
    step = ("log", LogCpTransformer(C=40, variables=["signed"]))
    _refused_alike(fitted(impute, step), sample, "signed", [-40, -100.5])
    # Box-Cox of a value <= 0
    _refused_alike(
        fitted(impute, ("bc", BoxCoxTransformer(variables=["big"]))), sample, "big", [0, -1.0]
    )
    # outside ArbitraryDiscretiser's edges with errors='raise'
    step = ("bins", ArbitraryDiscretiser(binning_dict={"signed": [-40, 0, 40]}, errors="raise"))
    _refused_alike(fitted(impute, step), sample, "signed", [-41, 40.5, 1000])
    # a missing value where the transformer raises on NaN (missing_values='raise')
    _refused_alike(
        fitted(impute, ("w", Winsorizer(variables=["signed"]))), sample, "signed", [np.nan]
    )


def test_unseen_and_missing_values_feature_engine_refuses_are_refused_by_the_contract():
    sample = TRAIN[["colour", "city", "signed"]]

    def fitted(*steps: tuple[str, Any]) -> Pipeline:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _model(*steps).fit(sample, TARGET)

    # unseen='raise'
    step = ("encode", OrdinalEncoder(variables=["colour"], unseen="raise"))
    impute = ("impute", CategoricalImputer(variables=["city"]))
    _refused_alike(
        fitted(step, impute, ("city", CountFrequencyEncoder(variables=["city"]))),
        sample,
        "colour",
        ["mauve"],
    )
    # unseen='ignore' gives NaN, which the model refuses
    step = ("encode", MeanEncoder(variables=["colour", "city"], missing_values="ignore"))
    fill = ("fill", ArbitraryNumberImputer(arbitrary_number=0.5, variables=["city"]))
    pipe = fitted(step, fill)
    _refused_alike(pipe, sample, "colour", ["mauve", np.nan])
    meta = {i["name"]: i for i in read_metadata(_export(pipe, sample))["inputs"]}
    assert meta["city"]["unknown_categories"] == "accepted"  # NaN imputed afterwards
    # after rare-label grouping, an unseen value is 'Rare': refused only if the encoder never saw
    # 'Rare' (tol=0: nothing is rare)
    rare = ("rare", RareLabelEncoder(tol=0.0, n_categories=1, variables=["colour"]))
    encode = ("encode", OrdinalEncoder(variables=["colour"]))
    _refused_alike(
        fitted(rare, encode, impute, ("c", CountFrequencyEncoder(variables=["city"]))),
        sample,
        "colour",
        ["mauve"],
    )
    rare = ("rare", RareLabelEncoder(tol=0.05, n_categories=1, variables=["colour"]))
    pipe = fitted(rare, encode, impute, ("c", CountFrequencyEncoder(variables=["city"])))
    meta = {i["name"]: i for i in read_metadata(_export(pipe, sample))["inputs"]}
    assert meta["colour"]["unknown_categories"] == "accepted"
    assert "Rare" not in meta["colour"]["categories"]  # written by the step, not a raw value


def test_a_missing_value_an_imputer_fills_with_text_stays_allowed_and_its_fill_is_not_a_raw_value():
    sample = TRAIN[["grade", "signed"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = _model(
            ("impute", CategoricalImputer(variables=["grade"])),
            ("encode", OrdinalEncoder(variables=["grade"], unseen="raise")),
        ).fit(sample, TARGET)
    model = _export(pipe, sample)
    (grade,) = [i for i in read_metadata(model)["inputs"] if i["name"] == "grade"]
    assert grade["missing_allowed"] and grade["unknown_categories"] == "error"
    assert sorted(grade["categories"]) == ["A", "B", "C", "D"]  # not 'Missing'


@pytest.mark.parametrize(
    "step, words",
    [
        (OutlierTrimmer(variables=["signed"]), "Winsorizer"),
        (DropMissingData(variables=["x"]), "Impute them instead"),
        (MathFeatures(variables=["signed", "big"], func=np.sum), "write 'sum'"),
    ],
    ids=["outlier-trimmer", "drop-missing-data", "math-features-callable"],
)
def test_steps_that_remove_rows_or_run_arbitrary_functions_are_refused(step, words):
    sample = TRAIN[["x", "signed", "big"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = _model(("step", step), ("impute", MeanMedianImputer()), task="regression")
        try:
            pipe.fit(sample, REG_TARGET)
        except ValueError:  # a row-removing step cannot even fit with the target: fit the step
            step.fit(sample)
            pipe = Pipeline([("step", step)])
    with pytest.raises(UnsupportedStepError) as refused:
        lookup(step, "step", "transformer")
    assert words in str(refused.value) and "'step'" in str(refused.value)


def test_a_text_fill_after_a_number_imputer_changes_nothing_as_in_pandas():
    """CategoricalImputer(ignore_format=True) over every column, after MeanMedianImputer: the
    imputed numbers hold no missing value, so pandas' fillna leaves them numbers."""
    pipe = fit(
        Pipeline(
            [
                ("numbers", MeanMedianImputer(variables=["x"])),
                ("text", CategoricalImputer(ignore_format=True)),
            ]
        )
    )
    frame = pd.concat(
        [TRAIN.head(50), rows(TRAIN, x=[np.nan], city=[np.nan], grade=[np.nan], code=[np.nan])],
        ignore_index=True,
    )
    g = Graph(raw_columns(TRAIN, list(TRAIN.columns)))
    cols = g.raw_cols()
    for name, step in pipe.steps:
        cols = lookup(step, name, "transformer").convert(step, cols, g, name)
    (x,) = [c for c in cols if c.name == "x"]
    assert g.natural_type(x) == DOUBLE
    for runtime in RUNTIMES:
        assert_graph_equals_transform(pipe, frame, runtime)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_computed_numbers_filled_with_text_then_encoded(runtime):
    """ArbitraryDiscretiser leaves NaN outside its edges; CategoricalImputer(ignore_format=True)
    writes 'Missing' there, among the bin numbers; an encoder learned both."""
    pipe = fit(
        Pipeline(
            [
                ("bins", ArbitraryDiscretiser(binning_dict={"signed": [-5, 0, 5]})),
                ("fill", CategoricalImputer(variables=["signed"], ignore_format=True)),
                ("encode", OrdinalEncoder(variables=["signed"], ignore_format=True)),
            ]
        )
    )
    assert "Missing" in pipe[-1].encoder_dict_["signed"]
    frame = pd.concat(
        [TRAIN.head(100), rows(TRAIN, signed=[-6.0, -5.0, 0.0, 5.0, 5.5])], ignore_index=True
    )
    assert_graph_equals_transform(pipe, frame, runtime)


AFTER_TEXT_FILL: dict[str, Callable[[], Any]] = {
    "ordinal": lambda: OrdinalEncoder(
        encoding_method="arbitrary", ignore_format=True, variables=["code"]
    ),
    "count-encode": lambda: CountFrequencyEncoder(
        ignore_format=True, unseen="encode", variables=["code", "count"]
    ),
    "one-hot": lambda: OneHotEncoder(ignore_format=True, variables=["code"]),
    "rare-label": lambda: RareLabelEncoder(
        tol=0.2, n_categories=2, ignore_format=True, variables=["code"]
    ),
    "rare-label-number": lambda: RareLabelEncoder(
        tol=0.2, n_categories=2, replace_with=0, ignore_format=True, variables=["code"]
    ),
    "indicator": lambda: AddMissingIndicator(missing_only=False, variables=["code", "x"]),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", AFTER_TEXT_FILL)
def test_numbers_filled_with_text_are_read_as_feature_engine_reads_them(name, runtime):
    """CategoricalImputer('missing', ignore_format=True) on number columns (as a config's
    categorical_imputer over every column does): pandas holds numbers and 'Missing'; the steps
    after it see 'Missing' where the raw value was missing, and the untouched numbers stay
    numbers."""
    pipe = fit(
        Pipeline(
            [
                ("fill", CategoricalImputer(ignore_format=True, variables=["code", "count"])),
                ("next", AFTER_TEXT_FILL[name]()),
            ]
        )
    )
    frame = pd.concat(
        [TRAIN.head(100), rows(TRAIN, code=[np.nan, 1, 4, 9], count=[0, 3, 6, 11])],
        ignore_index=True,
    )
    assert_graph_equals_transform(pipe, frame, runtime)


def test_a_categorical_imputer_over_every_column_keeps_untouched_numbers_numbers():
    """The pipeline a config builds from categorical_imputer without columns: every column,
    ignore_format=True; the numbers without missing values in training go on to the model as
    numbers, and a missing one (which feature-engine turns into 'Missing', refused by the model)
    is refused by the contract."""
    sample = TRAIN[["signed", "count", "colour"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = _model(
            ("fill", CategoricalImputer(ignore_format=True)),
            ("encode", OrdinalEncoder(variables=["colour"])),
        ).fit(sample, TARGET)
    _refused_alike(pipe, sample, "signed", [np.nan])
    meta = {i["name"]: i for i in read_metadata(_export(pipe, sample))["inputs"]}
    assert meta["signed"]["kind"] == "numeric" and meta["count"]["kind"] == "numeric"
