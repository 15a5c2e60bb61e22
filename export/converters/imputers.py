"""SimpleImputer (numbers and text, every strategy, add_indicator) and MissingIndicator.

A missing value becomes exactly `statistics_[j]`; any other value is untouched (IsNaN / Equal +
Where, in the column's own type). skl2onnx emits the ai.onnx.ml `Imputer` op instead, which
onnxruntime implements for float32 only and not at all for text.

What counts as missing is the imputer's `missing_values`: NaN (the default) is a missing raw
value, fed as NaN to a numeric input and as the sentinel "" to a text one; another value (a
number, a string such as "?") is matched as it is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.impute import MissingIndicator, SimpleImputer

from pipeport.contract import MISSING_CATEGORY, is_missing, normalise_category
from pipeport.errors import UnsupportedStepError
from pipeport.export.graph import DOUBLE, STRING, Col, Graph
from pipeport.export.registry import Converter, register


def _missing_mask(
    g: Graph, x: str, text: bool, missing_values: Any, empty: bool = False
) -> str | None:
    """[N, k] bool: where the value counts as missing; None: it never can (e.g. None on text,
    which the contract never produces: a missing value is NaN). `empty`: scikit-learn holds a
    missing value as "" here (after MissingCategory), which NaN does not match."""
    if is_missing(missing_values):
        if missing_values is None or empty:
            return None  # scikit-learn then matches None only, and a raw missing value is NaN
        if text:
            return g.op("Equal", [x, g.const(np.array([MISSING_CATEGORY], dtype=object), "empty")])
        return g.op("IsNaN", [x], "is_missing")
    if text:
        marker = np.array([normalise_category(missing_values)], dtype=object)
        return g.op("Equal", [x, g.const(marker, "missing_marker")], "is_missing")
    if isinstance(missing_values, str):
        return None  # a string marker never matches a number
    return g.op("Equal", [x, g.const(np.array([float(missing_values)]), "missing_marker")])


def _groups(cols: list[Col], g: Graph, mode: str) -> list[tuple[tuple[bool, bool], list[int]]]:
    """Runs of consecutive columns of one type (text or numbers; how missing is held), so each
    run is one matrix. `mode`: "numbers" when the imputer computed numbers (scikit-learn read
    every column as numbers), "text" when it fills with text (every column becomes text, a
    number in its normalised form, as the contract feeds a categorical column), else "each"."""
    runs: list[tuple[tuple[bool, bool], list[int]]] = []
    for j, col in enumerate(cols):
        text = mode == "text" or (mode == "each" and g.natural_type(col) == STRING)
        key = (text, col.missing_is_empty)
        if runs and runs[-1][0] == key:
            runs[-1][1].append(j)
        else:
            runs.append((key, [j]))
    return runs


def _fill_value(value: Any, text: bool, where: str, column: str) -> Any:
    if text:
        return normalise_category(value)
    if isinstance(value, str):
        raise UnsupportedStepError(
            f"Step '{where}' fills column {column!r}, which holds numbers, with the text "
            f"{value!r}; pipeport keeps a column one type"
        )
    return float(value)


def convert_simple_imputer(step: SimpleImputer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    stats = np.asarray(step.statistics_, dtype=object)
    kept = [j for j in range(len(cols)) if step.keep_empty_features or not is_missing(stats[j])]
    out: list[Col] = []
    pieces: list[tuple[list[int], str, int]] = []
    if np.asarray(step.statistics_).dtype.kind in "fiub":
        mode = "numbers"
    elif any(isinstance(s, str) for s in stats.tolist()):
        mode = "text"  # e.g. fill_value="missing" over text and integer codes together
    else:
        mode = "each"
    for (text, empty), idx in _groups(cols, g, mode):
        dtype = STRING if text else DOUBLE
        x = g.matrix([cols[j] for j in idx], where, step, want=dtype)
        mask = _missing_mask(g, x, text, step.missing_values, empty)
        if mask is not None:
            fills = [_fill_value(stats[j], text, where, cols[j].name) for j in idx]
            fill = g.const(np.array(fills, dtype=object if text else np.float64).reshape(1, -1))
            x = g.op("Where", [mask, fill, x], "imputed")
        pieces.append((idx, x, dtype))
    for idx, x, dtype in pieces:
        block = [
            replace(c, missing_is_empty=cols[j].missing_is_empty)
            for j, c in zip(
                idx,
                g.block(
                    x,
                    [cols[j].name for j in idx],
                    dtype,
                    raw=[cols[j].raw for j in idx],
                    affine=[cols[j].affine for j in idx],
                ),
                strict=True,
            )
        ]
        # scikit-learn drops all-missing columns (keep_empty_features=False)
        out.extend(c for j, c in zip(idx, block, strict=True) if j in kept)
    if step.add_indicator:
        indicator = step.indicator_
        out.extend(
            missing_indicators(indicator, cols, g, f"{where}__indicator", step.missing_values)
        )
    return out


def missing_indicators(
    indicator: MissingIndicator, cols: list[Col], g: Graph, where: str, missing_values: Any
) -> list[Col]:
    """0/1 (float64) columns: is the value missing, for the columns in `features_`."""
    out: list[Col] = []
    for j in np.asarray(indicator.features_, dtype=int).tolist():
        col = cols[j]
        text = g.natural_type(col) == STRING
        x = g.column(col, where, indicator, want=STRING if text else DOUBLE)
        mask = _missing_mask(g, x, text, missing_values, col.missing_is_empty)
        if mask is None:  # a marker the column can never hold: always 0, as in scikit-learn
            same = g.op("Equal", [x, x], "same")
            mask = g.op("Xor", [same, same], "never")
        flag = g.op("Cast", [mask], "missing_flag", to=DOUBLE)
        out.extend(g.block(flag, [f"missingindicator_{col.name}"]))
    return out


def convert_missing_indicator(
    step: MissingIndicator, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    return missing_indicators(step, cols, g, where, step.missing_values)


register(
    Converter(
        classes=(SimpleImputer,),
        role="transformer",
        convert=convert_simple_imputer,
        family="imputers",
        accepts=(
            "strategy mean, median, most_frequent, constant (fill_value) on numbers; "
            "most_frequent and constant on text and booleans; missing_values NaN, a number or "
            "a string; add_indicator; keep_empty_features"
        ),
        exactness="a missing value becomes statistics_ exactly (Where), others are untouched",
    )
)
register(
    Converter(
        classes=(MissingIndicator,),
        role="transformer",
        convert=convert_missing_indicator,
        family="imputers",
        accepts="features ('missing-only', 'all'), missing_values, error_on_new (every runtime "
        "refuses a missing value where scikit-learn raises)",
        exactness="IsNaN / Equal on the fitted features_, as 0/1",
    )
)
