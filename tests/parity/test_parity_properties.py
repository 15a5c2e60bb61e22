"""Property-based raw rows (hypothesis), generated from the model's own schema metadata:
scikit-learn and onnxruntime agree on every one, whatever is missing, unseen or extreme."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeport.export.onnx_export import read_metadata
from pipeport.export.parity import compare, sklearn_outputs
from pipeport.parity_tests.harness import run_onnxruntime


def row_strategy(inputs: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for spec in inputs:
        if spec["kind"] == "categorical":
            fields[spec["name"]] = st.one_of(
                st.none(),
                st.sampled_from(spec["categories"]),
                st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=12),
            )
        else:
            lo, hi = spec["min"], spec["max"]
            span = hi - lo
            fields[spec["name"]] = st.one_of(
                st.none(),
                st.floats(lo - span, hi + span, allow_nan=False),
                st.floats(-1e6, 1e6, allow_nan=False),
                st.integers(-1000, 10000).map(float),
            )
    return st.fixed_dictionaries(fields)


def _check(directory: Path, rows: list[dict[str, Any]]) -> None:
    meta = read_metadata(onnx.load(str(directory / "pipeline.onnx")))
    pipeline = joblib.load(directory / "sklearn_pipeline.joblib")
    frame = pd.DataFrame(rows, columns=[s["name"] for s in meta["inputs"]])
    for spec in meta["inputs"]:  # the DataFrame a CSV with these values would give
        column = frame[spec["name"]]
        frame[spec["name"]] = column.astype(object if spec["kind"] == "categorical" else np.float64)
    expected = sklearn_outputs(pipeline, frame, meta["task"])
    actual = run_onnxruntime(directory / "pipeline.onnx", rows)
    report = compare(meta["task"], expected, actual, frame)
    assert report.passed, report.table()


def _inputs(directory: Path) -> list[dict[str, Any]]:
    return list(read_metadata(onnx.load(str(directory / "pipeline.onnx")))["inputs"])


@pytest.mark.parametrize("config", ["penguins-species", "penguins-body-mass"])
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_generated_rows_agree_with_sklearn(
    bundled_dirs: dict[str, Path], config: str, data: st.DataObject
) -> None:
    directory = bundled_dirs[config]
    rows = data.draw(st.lists(row_strategy(_inputs(directory)), min_size=1, max_size=40))
    _check(directory, rows)
