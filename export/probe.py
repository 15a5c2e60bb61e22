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
from pipeport.export.raw_inputs import concat_like, like, retype_like

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


def refused_by_sklearn(
    pipeline: Any,
    frame: pd.DataFrame,
    task: str,
    by_name: bool,
    sample: pd.DataFrame | None = None,
) -> list[tuple[int, str]]:
    """The rows of `frame` scikit-learn raises on (found by halving), with the reason: one
    call when none does, a few more per refused row otherwise. With `sample`, each half is
    typed like it again (retype_like): a bool column is object while a missing value is in it,
    and a model that reads the DataFrame (LightGBM, XGBoost) refuses every row then."""
    from pipeport.export.parity import sklearn_outputs

    try:
        sklearn_outputs(pipeline, frame, task, by_name)
        return []
    except Exception as exc:  # any refusal by scikit-learn
        if len(frame) == 1:
            return [(0, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")]
    half = len(frame) // 2
    halves = [frame.iloc[:half], frame.iloc[half:]]
    if sample is not None:
        halves = [retype_like(part, sample) for part in halves]
    first = refused_by_sklearn(pipeline, halves[0], task, by_name, sample)
    second = refused_by_sklearn(pipeline, halves[1], task, by_name, sample)
    return first + [(half + i, reason) for i, reason in second]


@dataclass
class _Probes:
    """Probe rows for every column, asked of scikit-learn in one batch."""

    base: pd.DataFrame
    blocks: list[pd.DataFrame] = field(default_factory=list)
    keys: list[tuple[str, str, Any]] = field(default_factory=list)  # (column, probe, detail)

    def add(self, column: str, probe: str, value: Any, detail: Any = None) -> None:
        self.blocks.append(with_column(self.base, column, [value] * len(self.base)))
        self.keys.append((column, probe, detail))

    def raised(self, pipeline: Any, by_name: bool) -> set[tuple[str, str, Any]]:
        if not self.blocks:
            return set()
        frame = concat_like(self.blocks, self.base)
        n = len(self.base)
        bad = refused_by_sklearn(pipeline, frame, "regression", by_name, self.base)
        return {self.keys[row // n] for row, _reason in bad}


def _categories(column: RawColumn) -> list[Any]:
    union: list[Any] = []
    for _where, keys, _refuses in column.categories:
        union.extend(k for k in keys if k not in union)
    return union


def _outside(bound: str, value: float) -> float:
    return (
        value - max(1.0, abs(value))
        if bound.startswith("greater")
        else value + max(1.0, abs(value))
    )


def column_rules(
    pipeline: Any, frame: pd.DataFrame, columns: Sequence[RawColumn], by_name: bool
) -> dict[str, ColumnRules]:
    """For every raw column the graph reads: does scikit-learn refuse a missing value, a value
    no encoder learned, a number outside a step's domain? One batch of probe rows, a few sample
    rows each."""
    used = [c for c in columns if c.chosen is not None]
    probes = _Probes(base_rows(pipeline, frame, by_name))
    for column in used:
        probes.add(column.name, "missing", np.nan)
        union = _categories(column)
        unseen = unseen_value(column, union) if union else None
        if unseen is not None:
            probes.add(column.name, "unseen", unseen)
        for i, (bound, value, _why) in enumerate(column.bounds):
            probes.add(column.name, "bound", _outside(bound, value), i)
    raised = probes.raised(pipeline, by_name)
    rules: dict[str, ColumnRules] = {}
    for column in used:
        union = _categories(column)
        unknown, accepted = "accepted", ()
        if (column.name, "unseen", None) in raised:
            unknown, accepted = "error", _accepted(pipeline, probes.base, column, union, by_name)
        refused_bounds = {
            i for i in range(len(column.bounds)) if (column.name, "bound", i) in raised
        }
        valid_range, reasons = _valid_range(column, refused_bounds)
        rules[column.name] = ColumnRules(
            missing_allowed=(column.name, "missing", None) not in raised,
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


def _valid_range(column: RawColumn, refused: set[int]) -> tuple[dict[str, float], list[str]]:
    """The bounds steps noted for the column (export.graph.Graph.note_domain) that scikit-learn
    does raise outside of (`refused`: their positions), the tightest of each side."""
    lower: tuple[str, float, str] | None = None
    upper: tuple[str, float, str] | None = None
    for i, (bound, value, why) in enumerate(column.bounds):
        if i not in refused:
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
