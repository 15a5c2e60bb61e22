"""The raw-input guarantee: the saved sklearn_pipeline.joblib predicts on raw DataFrames.

For every estimator and every task it supports, a pipeline is trained on a generated file with
awkward columns (integers, booleans, text with gaps, integers widened to float, names with spaces,
dots and non-ASCII letters), saved, loaded back with joblib, and fed raw rows: missing values in
each column and in all at once, categories never seen, integer class labels, boolean targets and
12 classes. Every estimator must return sane outputs for all of them.

Where two inputs must mean the same thing (a missing number and the training median; a missing
category and the documented "" sentinel; an unseen category and a missing one in a column that had
none in training; 3, 3.0 and "3") the predictions must be identical. Those equivalences are a
property of the preprocessing, which is the same for every estimator, so they are checked on the
linear models, whose outputs move with any change in any encoded feature (a tree could hide one).
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import joblib
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from pipeport.research.config import load_config
from pipeport.research.estimators import ESTIMATORS
from pipeport.research.train import HOLDOUT_FILE, PIPELINE_FILE, train

#: Small settings so that 35 pipelines train in seconds (unknown estimators get none).
FAST_PARAMS = {
    "random_forest": {"n_estimators": 5},
    "extra_trees": {"n_estimators": 5},
    "gradient_boosting": {"n_estimators": 5},
    "hist_gradient_boosting": {"max_iter": 5},
    "mlp": {"max_iter": 30, "hidden_layer_sizes": [8]},
    "lightgbm": {"n_estimators": 5},
    "xgboost": {"n_estimators": 5},
}

#: The raw-input battery: every estimator for each task it has. How a pipeline reads its input
#: does not depend on the kind of class label, so classifiers run it on the 12-class target and the
#: other label kinds (integers, booleans) get the label tests below.
CASES = [
    (name, "classification", "many_classes")
    for name, spec in ESTIMATORS.items()
    if spec.classification is not None
] + [
    (name, "regression", "regression")
    for name, spec in ESTIMATORS.items()
    if spec.regression is not None
]
LABEL_CASES = [
    (name, "classification", kind)
    for name, spec in ESTIMATORS.items()
    if spec.classification is not None
    for kind in ("many_classes", "int_labels", "bool")
] + [c for c in CASES if c[1] == "regression"]

NUMERIC = ["bill length (mm)", "body.mass", "größe", "flag"]
CATEGORICAL = ["island name", "année", "is.adult", "zone"]
FEATURES = NUMERIC + CATEGORICAL
N_ROWS = 40  # rows fed to predict in each check
UNSEEN = {"island name": "Atlantis", "année": 1999, "is.adult": "maybe", "zone": 9.5}


def via_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as pandas.read_csv returns it after a round trip through CSV text."""
    return pd.read_csv(io.StringIO(frame.to_csv(index=False)))


@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread():
    # hist_gradient_boosting's OpenMP threads spin on tiny data when the machine is busy (seconds
    # per predict); one thread keeps this module fast. Determinism tests run without the limit.
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="session")
def train_case(make_frame, make_project, tmp_path_factory, config_helpers):
    """train_case((estimator, task, target_kind)) -> the trained case (memoised per session)."""
    cache: dict[tuple[str, str, str], SimpleNamespace] = {}

    def _train(case: tuple[str, str, str]) -> SimpleNamespace:
        if case not in cache:
            cache[case] = _train_case(
                case, make_frame, make_project, tmp_path_factory, config_helpers
            )
        return cache[case]

    return _train


def _train_case(case, make_frame, make_project, tmp_path_factory, config_helpers):
    estimator, task, kind = case
    doc = config_helpers.base_config(
        task=task, estimator=estimator, params=FAST_PARAMS.get(estimator), seed=3
    )
    config_path = make_project(make_frame(n=120, seed=11, target_kind=kind), config=doc)
    out = tmp_path_factory.mktemp("artifacts")
    result = train(load_config(config_path), out, log=lambda message: None)
    raw = pd.read_csv(config_path.parent / "data.csv")
    holdout = pd.read_csv(out / HOLDOUT_FILE)
    # the training rows, found independently: every row not held out ("body.mass" is a row key)
    train_rows = raw[~raw["body.mass"].isin(holdout["body.mass"])]
    assert len(train_rows) == result.manifest["data"]["rows_train"]
    trained = SimpleNamespace(
        estimator=estimator,
        task=task,
        kind=kind,
        pipeline=joblib.load(out / PIPELINE_FILE),
        raw=raw,
        rows=raw.head(N_ROWS).drop(columns=["target"]),
        medians={c: float(np.nanmedian(train_rows[c].astype(float))) for c in NUMERIC},
        had_missing={c: bool(train_rows[c].isna().any()) for c in CATEGORICAL},
        manifest=result.manifest,
    )
    trained.baseline = outputs(trained, trained.rows)
    return trained


@pytest.fixture(scope="module", params=CASES, ids=["-".join(c[:2]) for c in CASES])
def trained(request, train_case):
    return train_case(request.param)


@pytest.fixture(scope="module", params=LABEL_CASES, ids=["-".join(c) for c in LABEL_CASES])
def labelled(request, train_case):
    return train_case(request.param)


#: Linear models: any change in any encoded feature changes their output.
SENSITIVE = [
    ("logistic_regression", "classification", "many_classes"),
    ("ridge", "regression", "regression"),
]


@pytest.fixture(scope="module", params=SENSITIVE, ids=["-".join(c[:2]) for c in SENSITIVE])
def sensitive(request, train_case):
    return train_case(request.param)


def outputs(case, X: pd.DataFrame) -> np.ndarray:
    """predict_proba (classification) or predict (regression), checked for shape and sanity."""
    pipe = case.pipeline
    if case.task == "classification":
        proba = pipe.predict_proba(X)
        assert proba.shape == (len(X), len(pipe.classes_))
        assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
        # float32 probabilities (XGBoost's) sum to 1 within float32 rounding, float64 ones within
        # float64 rounding
        rtol = 1e-9 if proba.dtype == np.float64 else 8 * np.finfo(proba.dtype).eps
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=rtol)
        return proba
    values = pipe.predict(X)
    assert values.shape == (len(X),)
    assert np.all(np.isfinite(values))
    return values


def assert_same(case, a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    left, right = outputs(case, a), outputs(case, b)
    assert np.array_equal(left, right), f"{case.estimator}: {what} changed the predictions"


def test_generated_data_covers_int_bool_and_missing_columns(trained, config_helpers):
    kinds = {c: config_helpers.column_kind(trained.raw[c]) for c in FEATURES}
    assert kinds == config_helpers.FRAME_KINDS
    # both kinds of categorical column are exercised: with and without missing values in training
    assert trained.had_missing == {
        "island name": True,
        "année": False,
        "is.adult": False,
        "zone": True,
    }


def test_classes_are_the_raw_labels(labelled, config_helpers):
    if labelled.task != "classification":
        assert labelled.manifest["classes"] is None
        return
    expected = config_helpers.EXPECTED_CLASSES[labelled.kind]
    assert list(labelled.pipeline.classes_) == expected
    assert labelled.manifest["classes"] == expected


def test_predicted_labels_are_the_argmax_of_probabilities(labelled, config_helpers):
    # labels come from the arg-max of the probabilities (the rule every runtime reproduces)
    pipe, rows = labelled.pipeline, labelled.rows
    predicted = pipe.predict(rows)
    if labelled.task != "classification":
        assert np.array_equal(predicted, labelled.baseline)
        return
    assert list(predicted) == list(pipe.classes_[np.argmax(labelled.baseline, axis=1)])
    assert set(predicted.tolist()) <= set(config_helpers.EXPECTED_CLASSES[labelled.kind])
    if labelled.kind == "int_labels":
        assert np.issubdtype(np.asarray(predicted).dtype, np.integer)


def test_predicts_on_the_raw_file_as_read_csv_gives_it(trained):
    # the whole file, target and all, straight from pandas.read_csv
    assert len(outputs(trained, trained.raw)) == len(trained.raw)


@pytest.mark.parametrize("column", FEATURES)
def test_whole_column_missing_is_predicted(trained, column):
    missing = trained.rows.copy()
    missing[column] = np.nan  # float NaN, whatever the column held in training
    assert len(outputs(trained, missing)) == N_ROWS


@pytest.mark.parametrize("column", FEATURES)
def test_missing_value_means_the_imputed_value(sensitive, column):
    rows = sensitive.rows
    missing = rows.copy()
    missing[column] = np.nan
    equivalent = rows.copy()
    if column in NUMERIC:
        equivalent[column] = sensitive.medians[column]
        meaning = "the training median"
    elif sensitive.had_missing[column]:
        equivalent[column] = ""  # the documented missing-category sentinel
        meaning = 'the "" sentinel'
    else:
        equivalent[column] = UNSEEN[column]  # neither was seen in training: both are ignored
        meaning = "an unseen category"
    assert_same(sensitive, missing, equivalent, f"NaN in {column!r} vs {meaning}")
    # and the missing value really matters: it is not the value the rows had
    assert not np.array_equal(outputs(sensitive, missing), sensitive.baseline)


def test_one_blank_field_per_row_read_from_csv(trained):
    # row j has a blank in feature j only (one column at a time, all in one file): read back,
    # bool columns become object and int columns float, as pandas.read_csv gives them
    as_text = trained.rows.astype(object)
    for j, column in enumerate(FEATURES):
        as_text.loc[j, column] = None
    from_csv = via_csv(as_text)
    for j, column in enumerate(FEATURES):
        assert pd.isna(from_csv.loc[j, column])
    assert from_csv["flag"].dtype == object and from_csv["größe"].dtype == "float64"
    gaps = outputs(trained, from_csv)
    # the rows without a blank are untouched
    n = len(FEATURES)
    assert np.array_equal(trained.baseline[n:], gaps[n:])


def test_missing_values_in_every_column_at_once(trained):
    empty = pd.DataFrame({c: [np.nan] * 3 for c in FEATURES})
    assert len(outputs(trained, empty)) == 3
    # read from CSV: every field blank
    blank = pd.read_csv(io.StringIO(",".join(f'"{c}"' for c in FEATURES) + "\n" + "," * 7 + "\n"))
    assert blank.shape == (1, 8) and blank.isna().all(axis=None)
    assert len(outputs(trained, blank)) == 1


def test_row_of_missing_values_means_every_imputed_value(sensitive):
    empty = pd.DataFrame({c: [np.nan] * 3 for c in FEATURES})
    equivalent = pd.DataFrame({c: [sensitive.medians[c]] * 3 for c in NUMERIC})
    for c in CATEGORICAL:
        equivalent[c] = [""] * 3 if sensitive.had_missing[c] else [UNSEEN[c]] * 3
    assert_same(sensitive, empty, equivalent[FEATURES], "a row of NaN")


def test_unseen_categories_are_ignored_not_errors(trained):
    rows = trained.rows.copy()
    for column, value in UNSEEN.items():
        rows[column] = value
    assert len(outputs(trained, rows)) == N_ROWS
    assert len(outputs(trained, via_csv(rows))) == N_ROWS


@pytest.mark.parametrize(
    ("column", "respell"),
    [
        ("größe", lambda s: s.astype("float64")),  # numeric int as float
        ("body.mass", lambda s: s.astype("float64")),
        ("flag", lambda s: s.astype("int64")),  # numeric bool as 0/1
        ("flag", lambda s: s.astype(object)),  # numeric bool in an object column
        ("année", lambda s: s.astype("float64")),  # categorical int widened: 2008.0 -> "2008"
        ("année", lambda s: s.astype(str)),  # categorical int as text
        ("is.adult", lambda s: s.map({True: "True", False: "False"})),  # bool as text
        ("is.adult", lambda s: s.astype(object)),
        ("zone", lambda s: s.astype("Int64")),  # float-read categorical as nullable int
        ("zone", lambda s: s.map(lambda v: v if pd.isna(v) else str(int(v)))),  # as text
    ],
    ids=[
        "numeric-int-as-float",
        "numeric-int-key-as-float",
        "numeric-bool-as-int",
        "numeric-bool-as-object",
        "categorical-int-as-float",
        "categorical-int-as-text",
        "categorical-bool-as-text",
        "categorical-bool-as-object",
        "categorical-float-as-nullable-int",
        "categorical-float-as-text",
    ],
)
def test_same_value_in_another_type_gives_same_prediction(sensitive, column, respell):
    rows = sensitive.rows
    other = rows.copy()
    other[column] = respell(rows[column])
    assert other[column].dtype != rows[column].dtype  # really a different spelling
    retyped = outputs(sensitive, other)
    assert np.array_equal(sensitive.baseline, retyped), f"retyping {column!r} changed predictions"
