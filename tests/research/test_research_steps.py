"""Categorical values become one string form, in the pipeline and in the manifest alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeport.research.config import load_config
from pipeport.research.steps import MISSING_CATEGORY, MissingCategory, normalise_category
from pipeport.research.train import train


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "True"),
        (False, "False"),
        (np.bool_(True), "True"),
        (3, "3"),
        (np.int64(3), "3"),
        (np.int32(-7), "-7"),
        (3.0, "3"),
        (np.float64(3.0), "3"),
        (-0.0, "0"),
        (2.5, "2.5"),
        (float("nan"), ""),
        (np.nan, ""),
        (None, ""),
        (pd.NA, ""),
        ("Biscoe", "Biscoe"),
        ("3", "3"),
        ("", ""),
        ("Île d'Oléron", "Île d'Oléron"),
    ],
)
def test_normalise_category(value, expected):
    assert normalise_category(value) == expected


def test_missing_sentinel_is_the_empty_string():
    # documented in design.md / docs: clients send "" for a missing category
    assert MISSING_CATEGORY == ""


def test_missing_category_step_turns_every_column_into_strings():
    frame = pd.DataFrame(
        {
            "ints": [3, 4, 3],
            "widened": [3.0, np.nan, 4.0],
            "bools": [True, False, True],
            "bools with gap": pd.Series([True, None, False], dtype=object),
            "text": pd.Series(["a", None, "b"], dtype="str"),
        }
    )
    out = MissingCategory().fit(frame).transform(frame)
    assert out.dtype == object
    assert out.tolist() == [
        ["3", "3", "True", "True", "a"],
        ["4", "", "False", "", ""],
        ["3", "4", "True", "False", "b"],
    ]


def test_missing_category_step_rejects_a_different_column_count():
    step = MissingCategory().fit(pd.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(ValueError, match="fitted on 2 columns, got 1"):
        step.transform(pd.DataFrame({"a": [1]}))


def test_missing_category_step_keeps_feature_names():
    step = MissingCategory().fit(pd.DataFrame({"island name": ["a"], "année": [1]}))
    assert list(step.get_feature_names_out()) == ["island name", "année"]


def test_categorical_int_bool_and_widened_columns_get_string_categories(write_project, tmp_path):
    result = train(load_config(write_project()), tmp_path / "out", log=lambda m: None)
    schema = {f["name"]: f for f in result.manifest["features"]}
    assert schema["année"]["categories"] == ["2007", "2008", "2009"]
    assert schema["is.adult"]["categories"] == ["False", "True"]
    assert schema["zone"]["categories"] == ["1", "2", "3"]  # read as 1.0, 2.0, 3.0 (gaps)
    assert schema["island name"]["categories"] == ["Biscoe", "Dream", "Torgersen"]
    assert schema["zone"]["missing"] > 0 and schema["année"]["missing"] == 0
    # the encoder inside the pipeline saw the same strings, plus "" where training had gaps
    encoder = result.pipeline.named_steps["preprocess"].named_transformers_["categorical"][-1]
    assert [list(c) for c in encoder.categories_] == [
        ["", "Biscoe", "Dream", "Torgersen"],
        ["2007", "2008", "2009"],
        ["False", "True"],
        ["", "1", "2", "3"],
    ]
