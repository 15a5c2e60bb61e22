"""Data validation: a mismatch between the raw file and the config names what is wrong and where."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from pipeport.research.config import load_config
from pipeport.research.data import load_training_data
from pipeport.research.errors import DataError


def _load(config_path):
    return load_training_data(load_config(config_path))


def test_generated_file_reads_back_with_intended_column_types(write_project, config_helpers):
    # guards the raw-input tests: int, bool, float and text columns really are what they claim
    raw = _load(write_project())
    kinds = {c: config_helpers.column_kind(raw.frame[c]) for c in config_helpers.FEATURES}
    assert kinds == config_helpers.FRAME_KINDS


def test_missing_column_is_named_and_file_columns_listed(write_project, make_frame):
    frame = make_frame().drop(columns=["zone"])
    path = write_project(frame=frame)
    with pytest.raises(DataError) as caught:
        _load(path)
    listed = ", ".join(repr(c) for c in frame.columns)
    assert str(caught.value) == (
        f"column(s) not in data.csv: 'zone'. Columns in the file: {listed}"
    )


def test_every_missing_column_is_named_including_the_target(write_project, make_frame):
    frame = make_frame().drop(columns=["année", "target"])
    with pytest.raises(DataError, match=r"column\(s\) not in data\.csv: 'année', 'target'\."):
        _load(write_project(frame=frame))


def test_sha256_pin_mismatch_shows_expected_and_actual_hash(write_project, config_helpers):
    doc = config_helpers.base_config()
    doc["data"]["sha256"] = "0123456789abcdef" * 4
    path = write_project(config=doc)
    actual = hashlib.sha256((path.parent / "data.csv").read_bytes()).hexdigest()
    with pytest.raises(DataError) as caught:
        _load(path)
    message = str(caught.value)
    assert f"expected {'0123456789abcdef' * 4}" in message
    assert f"actual {actual}" in message
    assert "config.toml" in message
    assert "\n" not in message  # the CLI prints user errors as one line


def test_matching_sha256_pin_is_accepted_and_recorded(write_project, config_helpers):
    path = write_project()
    digest = hashlib.sha256((path.parent / "data.csv").read_bytes()).hexdigest()
    doc = config_helpers.base_config()
    doc["data"]["sha256"] = digest.upper()
    path = write_project(config=doc)
    assert _load(path).sha256 == digest


def test_text_in_float_column_names_column_and_first_bad_row(write_project, make_frame):
    frame = make_frame()
    column = frame["bill length (mm)"].astype(object)
    column[5] = "about 40"
    column[9] = "unknown"
    frame["bill length (mm)"] = column
    path = write_project(frame=frame)
    lines = (path.parent / "data.csv").read_text(encoding="utf-8").splitlines()
    assert "about 40" in lines[6]  # line 7 of the file: header + rows 0..5
    with pytest.raises(DataError) as caught:
        _load(path)
    assert str(caught.value) == (
        "column 'bill length (mm)' is declared numeric but holds text: first bad value "
        "'about 40' at row 5 (line 7 of the file). Declare it categorical, or clean the data."
    )


def test_text_in_first_row_of_integer_column_is_row_zero(write_project, make_frame):
    frame = make_frame()
    column = frame["größe"].astype(object)
    column[0] = "three"
    frame["größe"] = column
    with pytest.raises(DataError, match=r"column 'größe' .* 'three' at row 0 \(line 2 of"):
        _load(write_project(frame=frame))


def test_rows_with_missing_target_are_dropped_and_counted(write_project, make_frame):
    frame = make_frame(n=120)
    target = frame["target"].astype(object)
    dropped = [0, 3, 17, 50, 51, 99, 119]
    target[dropped] = None
    frame["target"] = target
    raw = _load(write_project(frame=frame))
    assert raw.rows_read == 120
    assert raw.rows_missing_target == 7
    assert len(raw.frame) == 113
    assert raw.frame["target"].notna().all()
    # the rows kept are the others, in file order
    kept = frame.drop(index=dropped)["body.mass"].to_numpy()
    assert np.array_equal(raw.frame["body.mass"].to_numpy(), kept)


def test_only_configured_columns_are_kept(write_project, make_frame, config_helpers):
    frame = make_frame()
    frame["unused notes"] = "x"
    raw = _load(write_project(frame=frame))
    assert list(raw.frame.columns) == [*config_helpers.FEATURES, "target"]


def test_regression_target_holding_text_is_rejected(write_project, make_frame, config_helpers):
    doc = config_helpers.base_config(task="regression")
    with pytest.raises(DataError, match=r"regression target 'target' must be numeric"):
        _load(write_project(config=doc, frame=make_frame(target_kind="many_classes")))


def test_regression_target_of_booleans_is_rejected(write_project, make_frame, config_helpers):
    doc = config_helpers.base_config(task="regression")
    with pytest.raises(DataError, match=r"regression target 'target' must be numeric.*bool"):
        _load(write_project(config=doc, frame=make_frame(target_kind="bool")))


def test_missing_data_file_is_named(write_project, config_helpers):
    doc = config_helpers.base_config(data_path="elsewhere/penguins.csv")
    path = write_project(config=doc)
    with pytest.raises(DataError) as caught:
        _load(path)
    expected = (path.parent / "elsewhere" / "penguins.csv").resolve()
    assert str(caught.value).startswith(f"data file not found: {expected}")


def test_fewer_than_two_rows_with_a_target_is_rejected(write_project, make_frame):
    frame = make_frame(n=20)
    frame["target"] = [None] * 19 + ["class 01"]
    with pytest.raises(DataError, match=r"only 1 row\(s\) with a target value"):
        _load(write_project(frame=frame))


def test_empty_csv_is_reported_not_raised_raw(write_project):
    path = write_project()
    (path.parent / "data.csv").write_text("")
    with pytest.raises(DataError, match=r"cannot read .*data\.csv"):
        _load(path)


def test_numeric_column_of_missing_values_and_numbers_is_accepted(write_project, make_frame):
    frame = make_frame()
    frame["bill length (mm)"] = np.nan
    raw = _load(write_project(frame=frame))
    assert pd.api.types.is_float_dtype(raw.frame["bill length (mm)"])
    assert raw.frame["bill length (mm)"].isna().all()
