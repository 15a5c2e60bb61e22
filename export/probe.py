"""What scikit-learn refuses, column by column: the contract's missing and unseen-value rules.

A pipeline without an imputer raises on a missing value; an encoder with handle_unknown="error"
raises on a value it never saw. The exported contract must refuse the same rows in every runtime,
with a clear per-row error instead of an answer. Rather than predicting that from each step's
parameters, the exporter asks the fitted pipeline: for each raw column it runs a few known-good
rows with that column set to a missing value, then to a value no encoder learned, and records
whether scikit-learn raised. The categories an encoder learned (which the converters report, with
the raw column they read) are the values a refusing column accepts; those are checked to pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeport.errors import UnsupportedStepError
from pipeport.export.graph import STRING, RawColumn
from pipeport.export.raw_inputs import like

BASE_ROWS = 3


@dataclass(frozen=True)
class ColumnRules:
    missing_allowed: bool
    #: Every category the pipeline's encoders learned for the column (keys as fed to the graph).
    categories: tuple[Any, ...]
    unknown: str  # "accepted" or "error"
    #: When unknown == "error": the categories every refusing encoder accepts.
    accepted: tuple[Any, ...]
    #: The numbers the column accepts where scikit-learn raises outside them, and why.
    valid_range: dict[str, float] = field(default_factory=dict)
    valid_range_reason: str = ""


def predict(pipeline: Any, frame: pd.DataFrame, by_name: bool) -> Any:
    """scikit-learn's predict on raw rows, as the user calls it (a DataFrame, or an array when
    the pipeline was fitted on one)."""
    return pipeline.predict(frame if by_name else frame.to_numpy())


def _raises(pipeline: Any, frame: pd.DataFrame, by_name: bool) -> Exception | None:
    try:
        predict(pipeline, frame, by_name)
    except Exception as exc:  # any refusal by scikit-learn counts
        return exc
    return None


def base_rows(pipeline: Any, frame: pd.DataFrame, by_name: bool) -> pd.DataFrame:
    """A few sample rows scikit-learn predicts without complaint."""
    head = frame.head(200)
    if _raises(pipeline, head, by_name) is None:
        return head.head(BASE_ROWS).reset_index(drop=True)
    good: list[int] = []
    last: Exception | None = None
    for i in range(min(len(frame), 200)):
        last = _raises(pipeline, frame.iloc[[i]], by_name)
        if last is None:
            good.append(i)
            if len(good) == BASE_ROWS:
                break
    if not good:
        raise UnsupportedStepError(
            f"scikit-learn's predict fails on every sample row ({type(last).__name__}: {last}); "
            "pass raw rows the pipeline accepts as the sample"
        )
    return frame.iloc[good].reset_index(drop=True)


def with_column(frame: pd.DataFrame, name: str, values: Sequence[Any]) -> pd.DataFrame:
    out = frame.copy()
    out[name] = like(list(values), frame[name]).set_axis(frame.index)
    return out


def raw_value(key: Any, column: RawColumn) -> Any:
    """A raw value of `column` whose graph key is `key` (inverse of the contract's encoding)."""
    if column.chosen == STRING:
        if column.values == "numbers":
            number = float(key)
            return int(number) if number.is_integer() else number
        if column.values == "booleans":
            return key == "True"
        return key
    if column.values == "booleans":
        return bool(key)
    number = float(key)
    return int(number) if number.is_integer() and "int" in column.dtype else number


def unseen_value(column: RawColumn, keys: Sequence[Any]) -> Any | None:
    """A raw value no encoder learned for `column` (None if its domain has none left)."""
    if column.values == "text":
        return "pipeport-unseen-value"
    if column.values == "booleans":
        seen = {raw_value(k, column) for k in keys}
        left = [b for b in (False, True) if b not in seen]
        return left[0] if left else None
    numbers = [float(raw_value(k, column)) for k in keys]
    value = (max(numbers) if numbers else 0.0) + 1.0
    return int(value) if "int" in column.dtype else value + 0.5


def column_rules(
    pipeline: Any, frame: pd.DataFrame, columns: Sequence[RawColumn], by_name: bool
) -> dict[str, ColumnRules]:
    base = base_rows(pipeline, frame, by_name)
    rules: dict[str, ColumnRules] = {}
    for column in columns:
        if column.chosen is None:
            continue
        missing = _raises(pipeline, with_column(base, column.name, [np.nan] * len(base)), by_name)
        union: list[Any] = []
        for _where, keys, _refuses in column.categories:
            union.extend(k for k in keys if k not in union)
        unknown, accepted = "accepted", ()
        if union:
            unseen = unseen_value(column, union)
            refused = (
                unseen is not None
                and _raises(pipeline, with_column(base, column.name, [unseen] * len(base)), by_name)
                is not None
            )
            if refused:
                unknown, accepted = "error", _accepted(pipeline, base, column, union, by_name)
        valid_range, reasons = _valid_range(pipeline, base, column, by_name)
        rules[column.name] = ColumnRules(
            missing_allowed=missing is None,
            categories=tuple(union),
            unknown=unknown,
            accepted=accepted,
            valid_range=valid_range,
            valid_range_reason="; ".join(reasons),
        )
    return rules


_TIGHTER = {
    "greater_than": lambda new, old: new >= old,
    "greater_or_equal": lambda new, old: new > old,
    "less_than": lambda new, old: new <= old,
    "less_or_equal": lambda new, old: new < old,
}


def _valid_range(
    pipeline: Any, base: pd.DataFrame, column: RawColumn, by_name: bool
) -> tuple[dict[str, float], list[str]]:
    """The bounds steps noted for the column (export.graph.Graph.note_domain), each kept only
    where scikit-learn does raise on a value clearly outside it; the tightest of each side."""
    lower: tuple[str, float, str] | None = None
    upper: tuple[str, float, str] | None = None
    for bound, value, why in column.bounds:
        outside = (
            value - max(1.0, abs(value))
            if bound.startswith("greater")
            else value + max(1.0, abs(value))
        )
        if (
            _raises(pipeline, with_column(base, column.name, [outside] * len(base)), by_name)
            is None
        ):
            continue  # scikit-learn answers there (a model that takes NaN, say): no bound
        side = lower if bound.startswith("greater") else upper
        if side is None or _TIGHTER[bound](value, side[1]):
            if bound.startswith("greater"):
                lower = (bound, value, why)
            else:
                upper = (bound, value, why)
    chosen = [b for b in (lower, upper) if b is not None]
    return {b[0]: b[1] for b in chosen}, [b[2] for b in chosen]


def _accepted(
    pipeline: Any, base: pd.DataFrame, column: RawColumn, union: list[Any], by_name: bool
) -> tuple[Any, ...]:
    refusing = [set(keys) for _where, keys, refuses in column.categories if refuses]
    if not refusing:
        raise UnsupportedStepError(
            f"scikit-learn raises on a value of column {column.name!r} it never saw, but no "
            "encoder pipeport knows refuses it, so pipeport cannot tell which values to accept"
        )
    accepted = tuple(k for k in union if all(k in keys for keys in refusing))
    rows = pd.concat([base.iloc[[0]]] * len(accepted), ignore_index=True)
    problem = _raises(
        pipeline, with_column(rows, column.name, [raw_value(k, column) for k in accepted]), by_name
    )
    if problem is not None:
        raise UnsupportedStepError(
            f"scikit-learn refuses some of the categories its encoders learned for column "
            f"{column.name!r} ({type(problem).__name__}: {problem}); pipeport cannot tell which "
            "values to accept"
        )
    return accepted
