"""raw_rows_to_feeds / columns_to_feeds: the shared validation and tensor-building core."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from model_builders import CATEGORICAL, NUMERIC, NUMERIC_ONNX

from pipeport.contract import (
    NonFiniteToken,
    RawInputError,
    RowError,
    columns_to_feeds,
    raw_rows_to_feeds,
)
from pipeport.serving.model import load_model


@pytest.fixture(scope="module")
def schema(classifier_path):
    return load_model(classifier_path).schema


def test_valid_rows_become_float64_and_string_column_tensors(schema):
    feeds = raw_rows_to_feeds(
        [{NUMERIC: 40, CATEGORICAL: "Dream"}, {NUMERIC: 41.5, CATEGORICAL: "Biscoe"}], schema
    )
    assert set(feeds) == {NUMERIC_ONNX, CATEGORICAL}  # keyed by ONNX input name
    assert feeds[NUMERIC_ONNX].dtype == np.float64
    assert feeds[NUMERIC_ONNX].shape == (2, 1)
    assert feeds[NUMERIC_ONNX][:, 0].tolist() == [40.0, 41.5]
    assert feeds[CATEGORICAL].shape == (2, 1)
    assert feeds[CATEGORICAL][:, 0].tolist() == ["Dream", "Biscoe"]


def test_null_is_fed_as_nan_and_empty_string_sentinel(schema):
    feeds = raw_rows_to_feeds([{NUMERIC: None, CATEGORICAL: None}], schema)
    assert math.isnan(feeds[NUMERIC_ONNX][0, 0])
    assert feeds[CATEGORICAL][0, 0] == ""


def test_unseen_category_is_accepted(schema):
    feeds = raw_rows_to_feeds([{NUMERIC: 1.0, CATEGORICAL: "Atlantis"}], schema)
    assert feeds[CATEGORICAL][0, 0] == "Atlantis"


def test_every_problem_is_reported_with_row_and_field(schema):
    rows = [
        {NUMERIC: 1.0, CATEGORICAL: "Dream"},
        {NUMERIC: "40", CATEGORICAL: {"a": 3}},
        {CATEGORICAL: "Dream", "extra": 1},
        "not an object",
        {NUMERIC: True, CATEGORICAL: ["x"]},
    ]
    with pytest.raises(RawInputError) as caught:
        raw_rows_to_feeds(rows, schema)
    found = {(e.row, e.field) for e in caught.value.errors}
    assert found == {
        (1, NUMERIC),
        (1, CATEGORICAL),
        (2, NUMERIC),
        (2, "extra"),
        (3, None),
        (4, NUMERIC),
        (4, CATEGORICAL),
    }
    assert all(isinstance(e, RowError) and e.problem for e in caught.value.errors)


@pytest.mark.parametrize(
    "value, needle",
    [
        (float("nan"), "NaN"),
        (float("inf"), "finite"),
        (-float("inf"), "finite"),
        (10**400, "out of range"),
        (NonFiniteToken("Infinity"), "Infinity"),
        (True, "boolean"),
        ({"a": 1}, "object"),
    ],
)
def test_non_finite_overflowing_and_wrongly_typed_numbers_are_rejected(schema, value, needle):
    with pytest.raises(RawInputError) as caught:
        raw_rows_to_feeds([{NUMERIC: value, CATEGORICAL: "Dream"}], schema)
    (error,) = caught.value.errors
    assert (error.row, error.field) == (0, NUMERIC)
    assert needle in error.problem


def test_overflowing_json_number_is_rejected(schema):
    row = json.loads(f'{{"{NUMERIC}": 1e999, "{CATEGORICAL}": "Dream"}}')  # parsed as inf
    with pytest.raises(RawInputError) as caught:
        raw_rows_to_feeds([row], schema)
    assert "finite" in caught.value.errors[0].problem


def test_numpy_scalars_are_accepted(schema):
    feeds = raw_rows_to_feeds([{NUMERIC: np.float64(2.5), CATEGORICAL: np.str_("Dream")}], schema)
    assert feeds[NUMERIC_ONNX][0, 0] == 2.5
    feeds = raw_rows_to_feeds([{NUMERIC: np.int64(3), CATEGORICAL: "Dream"}], schema)
    assert feeds[NUMERIC_ONNX][0, 0] == 3.0


def test_first_row_offsets_reported_row_indices(schema):
    with pytest.raises(RawInputError) as caught:
        raw_rows_to_feeds([{NUMERIC: "x", CATEGORICAL: "Dream"}], schema, first_row=500)
    assert caught.value.errors[0].row == 500


def test_rows_must_be_a_sequence(schema):
    with pytest.raises(RawInputError):
        raw_rows_to_feeds({"rows": []}, schema)  # type: ignore[arg-type]


def test_feeds_run_in_the_session(classifier_path):
    model = load_model(classifier_path)
    feeds = raw_rows_to_feeds([{NUMERIC: 40.0, CATEGORICAL: "Dream"}], model.schema)
    label, probabilities = model.session.run(None, feeds)
    assert label.tolist() == ["Adelie"]
    assert probabilities.shape == (1, 3)


def test_columns_to_feeds_takes_nan_and_empty_string_as_missing(schema):
    feeds = columns_to_feeds({NUMERIC: np.array([1.0, np.nan]), CATEGORICAL: ["Dream", ""]}, schema)
    assert math.isnan(feeds[NUMERIC_ONNX][1, 0])
    assert feeds[CATEGORICAL][:, 0].tolist() == ["Dream", ""]


def test_columns_to_feeds_rejects_infinity_unknown_and_missing_columns(schema):
    with pytest.raises(RawInputError) as caught:
        columns_to_feeds({NUMERIC: [1.0, float("inf")], "other": ["a", "b"]}, schema)
    found = {(e.row, e.field) for e in caught.value.errors}
    assert (1, NUMERIC) in found
    assert (None, "other") in found
    assert (None, CATEGORICAL) in found


def test_row_errors_message_summarises_the_first_problems(schema):
    rows = [{NUMERIC: "x", CATEGORICAL: "Dream"} for _ in range(8)]
    with pytest.raises(RawInputError) as caught:
        raw_rows_to_feeds(rows, schema)
    assert len(caught.value.errors) == 8
    assert "and 3 more" in str(caught.value)


@pytest.mark.parametrize(
    "row",
    [
        {NUMERIC: 40.0, CATEGORICAL: "Dream"},
        {NUMERIC: None, CATEGORICAL: None},
        {NUMERIC: 7, CATEGORICAL: "島 never seen"},
        {NUMERIC: np.float64(2.5), CATEGORICAL: np.str_("Biscoe")},
        {CATEGORICAL: "", NUMERIC: -0.0},  # keys in another order
    ],
)
def test_one_row_takes_a_shortcut_that_builds_the_same_tensors(schema, row):
    alone = raw_rows_to_feeds([row], schema)
    pair = raw_rows_to_feeds([row, row], schema)
    assert set(alone) == set(pair)
    for name, array in alone.items():
        assert array.shape == (1, 1) and array.dtype == pair[name].dtype
        assert array.flags.c_contiguous
        assert repr(array[0, 0]) == repr(pair[name][0, 0])  # NaN and -0.0 compared exactly


@pytest.mark.parametrize(
    "row",
    [
        {NUMERIC: "40", CATEGORICAL: "Dream"},
        {NUMERIC: 40.0},
        {NUMERIC: 40.0, CATEGORICAL: "Dream", "extra": 1},
        [40.0, "Dream"],
    ],
)
def test_one_bad_row_is_reported_as_in_a_batch(schema, row):
    with pytest.raises(RawInputError) as alone:
        raw_rows_to_feeds([row], schema)
    with pytest.raises(RawInputError) as batch:
        raw_rows_to_feeds([row, {NUMERIC: 1.0, CATEGORICAL: "Dream"}], schema)
    assert alone.value.errors == batch.value.errors
