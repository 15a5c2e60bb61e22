"""The raw rows every runtime is fed: held-out rows, edge cases built from the schema, and
conversions between the raw DataFrame (what scikit-learn sees) and JSON rows (what the others see).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
import pandas as pd
from onnx import numpy_helper

from pipeport.research.steps import normalise_category


def frame_to_rows(frame: pd.DataFrame, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw DataFrame -> JSON rows per the raw-row contract.

    Numeric: a float, or None when missing (booleans become 1.0/0.0, as scikit-learn reads them).
    Categorical: the string scikit-learn's MissingCategory step makes of the value, or None.
    """
    columns = []
    for spec in inputs:
        values = frame[spec["name"]].tolist()
        if spec["kind"] == "categorical":
            out = [normalise_category(v) or None for v in values]
        else:
            out = []
            for v in values:
                if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
                    out.append(None)
                else:
                    out.append(float(v))
        columns.append((spec["name"], out))
    return [{name: col[i] for name, col in columns} for i in range(len(frame))]


def _base_row(sample: pd.DataFrame, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for spec in inputs:
        series = (
            sample[spec["name"]].dropna() if spec["name"] in sample else pd.Series(dtype=object)
        )
        if spec["kind"] == "categorical":
            cats = spec.get("categories") or ["a"]
            row[spec["name"]] = series.mode().iloc[0] if len(series) else cats[0]
        else:
            numbers = pd.to_numeric(series, errors="coerce").dropna()
            row[spec["name"]] = float(numbers.median()) if len(numbers) else 0.0
    return row


def tree_thresholds(model: onnx.ModelProto) -> list[tuple[int, float]]:
    """(feature index, split value) of every TreeEnsemble node in the graph."""
    out: list[tuple[int, float]] = []
    for node in model.graph.node:
        if node.op_type != "TreeEnsemble":
            continue
        attrs = {a.name: a for a in node.attribute}
        features = list(attrs["nodes_featureids"].ints)
        splits = numpy_helper.to_array(attrs["nodes_splits"].t).tolist()
        out.extend(zip(features, splits, strict=True))
    return out


def threshold_values(
    pipeline: Any, model: onnx.ModelProto, limit: int = 200
) -> dict[str, list[float]]:
    """Raw numeric values that land exactly on the graph's tree split values (and one float32
    step either side), per raw column. The split values are read from the graph; mapping a tree
    feature back to its raw column undoes SelectKBest and StandardScaler of the sklearn pipeline.
    """
    thresholds = tree_thresholds(model)
    if not thresholds:
        return {}
    preprocess = pipeline.steps[0][1]
    names = list(preprocess.get_feature_names_out())
    if "select" in pipeline.named_steps:
        names = [
            n
            for n, keep in zip(names, pipeline.named_steps["select"].get_support(), strict=True)
            if keep
        ]
    numeric = (
        dict(zip(*_numeric_scaling(preprocess), strict=True))
        if _numeric_scaling(preprocess)
        else {}
    )
    values: dict[str, set[float]] = {}
    for feature, split in thresholds:
        if feature >= len(names):
            continue
        column = names[feature].split("__", 1)[-1]
        if column not in numeric:
            continue
        mean, scale = numeric[column]
        x = split * scale + mean
        for v in (
            x,
            float(np.nextafter(np.float32(x), np.float32(np.inf))),
            float(np.nextafter(np.float32(x), np.float32(-np.inf))),
        ):
            values.setdefault(column, set()).add(float(v))
    return {c: sorted(v)[:limit] for c, v in values.items()}


def _numeric_scaling(preprocess: Any) -> tuple[list[str], list[tuple[float, float]]] | None:
    for name, transformer, columns in preprocess.transformers_:
        if name != "numeric":
            continue
        scaler = (
            transformer.named_steps.get("scale") if hasattr(transformer, "named_steps") else None
        )
        if scaler is None:
            return None
        mean = scaler.mean_ if scaler.with_mean else np.zeros(len(columns))
        scale = scaler.scale_ if scaler.with_std else np.ones(len(columns))
        return list(columns), list(zip(mean.tolist(), scale.tolist(), strict=True))
    return None


def edge_case_frame(
    sample: pd.DataFrame,
    inputs: list[dict[str, Any]],
    thresholds: dict[str, list[float]] | None = None,
) -> pd.DataFrame:
    """Rows built from the schema: a missing value in each column alone and in all at once, an
    unseen category in each categorical column, extreme and boundary numbers, split values."""
    base = _base_row(sample, inputs)
    rows: list[dict[str, Any]] = [dict(base)]
    rows.append({k: np.nan for k in base})
    for spec in inputs:
        name = spec["name"]
        rows.append({**base, name: np.nan})
        if spec["kind"] == "categorical":
            for v in ("__never_seen__", "ünïcödé ✓", " "):
                rows.append({**base, name: v})
            for cat in spec.get("categories", [])[:50]:
                rows.append({**base, name: cat})
        else:
            lo, hi = spec.get("min"), spec.get("max")
            # Up to 1e15: beyond that scikit-learn's own input checks reject the scaled values
            # as overflowing in some models, and there is nothing left to compare.
            extremes = [0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 5e-324, 1e9, -1e9, 1e15, -1e15]
            if lo is not None and hi is not None:
                extremes += [
                    lo,
                    hi,
                    float(np.nextafter(lo, -np.inf)),
                    float(np.nextafter(hi, np.inf)),
                    (lo + hi) / 2,
                    lo - (hi - lo),
                    hi + (hi - lo),
                ]
            for v in extremes + list((thresholds or {}).get(name, [])):
                rows.append({**base, name: v})
    frame = pd.DataFrame(rows, columns=[s["name"] for s in inputs])
    for spec in inputs:
        if spec["kind"] == "categorical":
            frame[spec["name"]] = frame[spec["name"]].astype(object)
    return frame


def property_rows(inputs: list[dict[str, Any]], n: int) -> pd.DataFrame:
    """n raw rows drawn by hypothesis from the schema (deterministic: derandomized, no database).

    Numeric: missing, values around and far beyond the training range, integers; categorical:
    missing, seen categories, arbitrary unicode text. The same strategies as the property tests
    in tests/parity/test_parity_properties.py, collected here so the CLI can run them too.
    """
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    fields: dict[str, Any] = {}
    for spec in inputs:
        if spec["kind"] == "categorical":
            seen = spec.get("categories") or ["a"]
            fields[spec["name"]] = st.one_of(
                st.none(), st.sampled_from(seen), st.text(min_size=1, max_size=12)
            )
        else:
            lo = spec.get("min") if spec.get("min") is not None else -1.0
            hi = spec.get("max") if spec.get("max") is not None else 1.0
            span = max(hi - lo, 1.0)
            fields[spec["name"]] = st.one_of(
                st.none(),
                st.floats(lo - span, hi + span, allow_nan=False),
                st.floats(-1e6, 1e6, allow_nan=False),
                st.integers(-1000, 10_000).map(float),
            )
    drawn: list[dict[str, Any]] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.fixed_dictionaries(fields))
    def collect(row: dict[str, Any]) -> None:
        drawn.append(row)

    collect()
    frame = pd.DataFrame(drawn[:n], columns=[s["name"] for s in inputs])
    for spec in inputs:
        column = frame[spec["name"]]
        frame[spec["name"]] = column.astype(object if spec["kind"] == "categorical" else np.float64)
    return frame
