"""Logged raw rows through a model: scikit-learn (as a DataFrame built the way pandas read the
training data) or an ONNX file (by its own contract), and what each refuses.

The JSON rows a client sent are the contract's input (docs/onnx-contract.md); scikit-learn
takes a DataFrame. `rows_to_frame` is the contract read backwards, per column, from the schema
in the file: numbers as float64 (int64 where training had integers and nothing is missing),
missing values as NaN (never None: scikit-learn's imputers tell them apart), text as text with
non-string values normalised as the contract normalises them, booleans as booleans.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeport.contract import is_missing, normalise_category, raw_rows_to_feeds
from pipeport.errors import RawInputError
from pipeport.export.parity import sklearn_outputs
from pipeport.export.probe import refused_by_sklearn
from pipeport.export.raw_inputs import as_raw_frame
from pipeport.parity_tests.harness import predictions_to_arrays
from pipeport.schema import CATEGORICAL, ROW_VALUE_OUTPUTS, InputSpec, ModelSchema

#: A model's task in words, for messages.
TASK_WORDS = {
    "classification": "a classifier",
    "regression": "a regressor",
    "anomaly": "an anomaly model (labels -1/1 and scores)",
}


@dataclass
class Scored:
    """Outputs on the rows a model answered, and the rows it refused (position, why)."""

    outputs: dict[str, np.ndarray]
    kept: list[int]
    refused: list[tuple[int, str]] = field(default_factory=list)


def rows_to_frame(rows: list[dict[str, Any]], schema: ModelSchema) -> pd.DataFrame:
    """Raw JSON rows as the DataFrame pandas.read_csv gave training (the inputs' columns, then
    the unused columns, NaN where a row lacks one: the server ignores them)."""
    columns: dict[str, Any] = {}
    for spec in schema.inputs:
        columns[spec.name] = _column([row.get(spec.name) for row in rows], spec)
    for name in schema.unused_columns:
        values = [row.get(name) for row in rows]
        columns[name] = pd.Series(
            [np.nan if is_missing(v) else v for v in values], dtype=object
        ).infer_objects()
    return pd.DataFrame(columns, index=range(len(rows)))


def _column(values: list[Any], spec: InputSpec) -> pd.Series:
    missing = [is_missing(v) or (spec.kind == CATEGORICAL and v == "") for v in values]
    if spec.values == "booleans":
        flags = [None if m else _boolean(v) for v, m in zip(values, missing, strict=True)]
        if not any(missing):
            return pd.Series(flags, dtype=bool)
        return pd.Series([np.nan if f is None else f for f in flags], dtype=object)
    if spec.values == "numbers":
        numbers = [np.nan if m else _number(v) for v, m in zip(values, missing, strict=True)]
        series = pd.Series(numbers, dtype=object).infer_objects()
        if series.dtype == object:  # a text value in a column of numbers: left to the model
            return series
        series = series.astype(np.float64)
        if spec.dtype.startswith(("int", "Int", "uint")) and not any(missing):
            whole = series.to_numpy()
            if np.all(np.floor(whole) == whole):
                return series.astype(np.int64)
        return series
    texts = [
        np.nan if m else (v if isinstance(v, str) else normalise_category(v))
        for v, m in zip(values, missing, strict=True)
    ]
    series = pd.Series(texts, dtype=object)
    if spec.dtype == "category":
        seen = [t for t in dict.fromkeys(texts) if isinstance(t, str)]
        categories = list(dict.fromkeys([*map(str, spec.categories), *seen]))
        return series.astype(pd.CategoricalDtype(categories))
    return series


def _boolean(value: Any) -> Any:
    if isinstance(value, str) and value in ("True", "true", "TRUE", "False", "false", "FALSE"):
        return value.lower() == "true"
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def score_with_sklearn(pipeline: Any, rows: list[dict[str, Any]], schema: ModelSchema) -> Scored:
    """scikit-learn's outputs on `rows` (the keys the schema's outputs have)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unseen categories and the like: expected on real rows
        frame, _names, by_name = as_raw_frame(pipeline, rows_to_frame(rows, schema))
        refused = refused_by_sklearn(pipeline, frame, schema.task, by_name)
        bad = {i for i, _ in refused}
        kept = [i for i in range(len(rows)) if i not in bad]
        part = frame.iloc[kept].reset_index(drop=True)
        outputs = (
            sklearn_outputs(pipeline, part, schema.task, by_name, schema.output_keys())
            if kept
            else {}
        )
    return Scored({k: np.asarray(v) for k, v in outputs.items()}, kept, list(refused))


def score_with_onnx(model: Any, rows: list[dict[str, Any]]) -> Scored:
    """An ONNX file's outputs on `rows`, each fed by the file's own contract: it takes the
    columns it knows (and ignores its unused ones) from each row; rows it refuses are set aside
    with why (a column it needs that the row lacks, a value its contract refuses)."""
    schema: ModelSchema = model.schema
    known = set(schema.input_names) | set(schema.unused_columns)
    projected = [{k: v for k, v in row.items() if k in known} for row in rows]
    refused: list[tuple[int, str]] = []
    try:
        raw_rows_to_feeds(projected, schema)
    except RawInputError as exc:
        reasons: dict[int, str] = {}
        for error in exc.errors:
            if error.row is not None:
                reasons.setdefault(int(error.row), f"{error.field}: {error.problem}")
        refused = sorted(reasons.items())
    bad = {i for i, _ in refused}
    kept = [i for i in range(len(rows)) if i not in bad]
    outputs: dict[str, np.ndarray] = {}
    if kept:
        feeds = raw_rows_to_feeds([projected[i] for i in kept], schema)
        keys = list(schema.output_keys())
        values = model.run([schema.outputs[k] for k in keys], feeds)
        outputs = {k: np.asarray(v) for k, v in zip(keys, values, strict=True)}
        for key in ROW_VALUE_OUTPUTS:  # [N, 1] in the graph; one value per row here
            if key in outputs:
                outputs[key] = outputs[key].reshape(-1)
    return Scored(outputs, kept, refused)


def logged_arrays(predictions: list[dict[str, Any]], schema: ModelSchema) -> dict[str, np.ndarray]:
    """Logged predictions (the shape /v1/predict answers) as the arrays `export.parity.compare`
    takes, read as the parity harness reads a JSON runtime's (`predictions_to_arrays`)."""
    return predictions_to_arrays(predictions, schema.task, list(schema.classes))


def take(outputs: dict[str, np.ndarray], positions: list[int]) -> dict[str, np.ndarray]:
    """The rows at `positions` of every output."""
    index = np.asarray(positions, dtype=np.int64)
    return {k: np.asarray(v)[index] for k, v in outputs.items()}
