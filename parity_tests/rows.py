"""The raw rows every runtime is fed: the given rows, edge cases built from the schema, rows drawn
by hypothesis, and raw values aimed at the graph's tree split points.

Rows are raw DataFrame rows (what scikit-learn sees); every other runtime receives them as the
JSON rows a client would send (pipeport.contract.frame_to_rows). Rows the contract refuses (a
missing value where scikit-learn raises, an unseen category where it raises) are set aside by
`split_admissible` before comparing: no runtime answers them, by design.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pipeport.contract import frame_to_feeds, is_missing
from pipeport.errors import RawInputError
from pipeport.export.parity import raw_value_of
from pipeport.export.raw_inputs import like
from pipeport.schema import CATEGORICAL, InputSpec, ModelSchema


def split_admissible(frame: pd.DataFrame, schema: ModelSchema) -> tuple[pd.DataFrame, list[int]]:
    """(the rows the contract accepts, the positions of those it refuses)."""
    try:
        frame_to_feeds(frame, schema)
        return frame.reset_index(drop=True), []
    except RawInputError as exc:
        if any(e.row is None for e in exc.errors):
            raise ValueError("; ".join(e.describe() for e in exc.errors[:5])) from None
        refused = sorted({int(e.row) for e in exc.errors if e.row is not None})
    keep = [i for i in range(len(frame)) if i not in set(refused)]
    return frame.iloc[keep].reset_index(drop=True), refused


def _base_row(sample: pd.DataFrame) -> dict[str, Any]:
    """A typical raw row: each column's most common value."""
    row: dict[str, Any] = {}
    for name in sample.columns:
        values = sample[name].dropna()
        row[name] = values.mode().iloc[0] if len(values) else np.nan
    return row


def _frame(rows: list[dict[str, Any]], sample: pd.DataFrame) -> pd.DataFrame:
    """Rows as the DataFrame pandas.read_csv would give for them (dtypes like the sample's)."""
    return pd.DataFrame(
        {name: like([r[name] for r in rows], sample[name]) for name in sample.columns}
    )


def _numbers_to_try(spec: InputSpec) -> list[float]:
    # Up to 1e15: beyond that scikit-learn's own input checks reject the scaled values as
    # overflowing in some models, and there is nothing left to compare.
    values = [0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 5e-324, 1e9, -1e9, 1e15, -1e15]
    lo, hi = spec.min, spec.max
    if lo is not None and hi is not None:
        values += [
            lo,
            hi,
            float(np.nextafter(lo, -np.inf)),
            float(np.nextafter(hi, np.inf)),
            (lo + hi) / 2,
            lo - (hi - lo),
            hi + (hi - lo),
        ]
    return values


def edge_case_frame(
    sample: pd.DataFrame,
    schema: ModelSchema,
    thresholds: dict[str, list[float]] | None = None,
) -> pd.DataFrame:
    """Rows built from the schema: a missing value in each column alone and in all at once, unseen
    and unicode categories, every learned category, extreme and boundary numbers, split values.
    (Rows the contract refuses are removed later, by split_admissible.)"""
    base = _base_row(sample)
    rows: list[dict[str, Any]] = [dict(base), {k: np.nan for k in base}]
    for spec in schema.inputs:
        name = spec.name
        rows.append({**base, name: np.nan})
        rows.extend({**base, name: raw_value_of(c, spec)} for c in spec.categories[:50])
        if spec.kind == CATEGORICAL and spec.values == "text":
            rows.extend({**base, name: v} for v in ("__never_seen__", "ünïcödé ✓", " "))
        elif spec.values == "booleans":
            rows.extend({**base, name: v} for v in (True, False))
        else:
            numbers = _numbers_to_try(spec) + list((thresholds or {}).get(name, []))
            if spec.kind == CATEGORICAL:  # numbers read as text: whole and fractional ones
                numbers = [v for v in numbers if abs(v) < 1e15]
            rows.extend({**base, name: v} for v in numbers)
    return _frame(rows, sample)


def property_rows(sample: pd.DataFrame, schema: ModelSchema, n: int) -> pd.DataFrame:
    """n raw rows drawn by hypothesis from the schema (deterministic: derandomized, no database).

    Numeric: missing, values around and far beyond the training range, integers; categorical:
    missing, learned categories, arbitrary unicode text; booleans; columns the model does not
    read: values from the sample. The strategies of tests/parity/test_parity_properties.py,
    collected here so the CLI can run them too.
    """
    from hypothesis import HealthCheck, given, settings

    drawn: list[dict[str, Any]] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(row_strategy(sample, schema))
    def collect(row: dict[str, Any]) -> None:
        drawn.append(row)

    collect()
    return _frame(drawn[:n], sample)


def row_strategy(sample: pd.DataFrame, schema: ModelSchema) -> Any:
    """A hypothesis strategy for one raw row (all of the sample's columns)."""
    from hypothesis import strategies as st

    specs = {spec.name: spec for spec in schema.inputs}
    fields: dict[str, Any] = {}
    for name in sample.columns:
        spec = specs.get(name)
        observed = [v for v in sample[name].tolist() if not is_missing(v)] or [np.nan]
        if spec is None:
            fields[name] = st.sampled_from(observed)
            continue
        known = [raw_value_of(c, spec) for c in spec.categories] or observed
        choices: list[Any] = [st.none(), st.sampled_from(known)]
        if spec.values == "text":
            # no NUL: the contract refuses it (onnxruntime's string tensors end there)
            text = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=12)
            choices.append(text)
        elif spec.values == "booleans":
            choices.append(st.booleans())
        else:
            lo = spec.min if spec.min is not None else -1.0
            hi = spec.max if spec.max is not None else 1.0
            span = max(hi - lo, 1.0)
            choices += [
                st.floats(lo - span, hi + span, allow_nan=False),
                st.floats(-1e6, 1e6, allow_nan=False),
                st.integers(-1000, 10_000).map(float),
            ]
        fields[name] = st.one_of(*choices).map(lambda v: np.nan if v is None else v)
    return st.fixed_dictionaries(fields)


def threshold_values(
    pipeline: Any, sample: pd.DataFrame, limit: int = 200
) -> dict[str, list[float]]:
    """Raw numeric values that land exactly on the graph's tree split values (and one float32
    step either side), per raw column: the split values mapped back through the affine steps
    (imputation, scaling) between the raw column and the model, as the exporter traced them."""
    from onnx import numpy_helper

    from pipeport.export.onnx_export import Conversion

    conversion = Conversion(pipeline, sample)
    graph = conversion.graph
    producer = {out: node for node in graph.nodes for out in node.output}
    values: dict[str, set[float]] = {}
    for node in graph.nodes:
        if node.op_type != "TreeEnsemble":
            continue
        source = node.input[0]  # back through the float32 round trip to the matrix built
        while source not in graph.matrix_cols and source in producer:
            if producer[source].op_type != "Cast":
                break
            source = producer[source].input[0]
        lineage = graph.matrix_cols.get(source, graph.model_inputs)
        attrs = {a.name: a for a in node.attribute}
        features = list(attrs["nodes_featureids"].ints)
        splits = numpy_helper.to_array(attrs["nodes_splits"].t).tolist()
        for feature, split in zip(features, splits, strict=True):
            affine = lineage[feature].affine if feature < len(lineage) else None
            if affine is None or affine[1] == 0:
                continue
            raw, scale, offset = affine
            for t in (
                split,
                float(np.nextafter(np.float32(split), np.float32(np.inf))),
                float(np.nextafter(np.float32(split), np.float32(-np.inf))),
            ):
                x = (t - offset) / scale
                if math.isfinite(x):
                    values.setdefault(raw, set()).add(float(x))
    return {c: sorted(v)[:limit] for c, v in values.items()}
