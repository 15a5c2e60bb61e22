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


#: Frames at least this long look for a value that makes scikit-learn raise (see below).
BY_VALUE_ROWS = 256
#: Rows with such a value that must each be refused alone before all of them are left out.
BY_VALUE_CHECKS = 8


def refused_by_sklearn(
    pipeline: Any,
    frame: pd.DataFrame,
    task: str,
    by_name: bool,
    sample: pd.DataFrame | None = None,
    *,
    by_value: bool = True,
) -> list[tuple[int, str]]:
    """The rows of `frame` scikit-learn raises on, with the reason: one call when none does.

    Otherwise the rows are found by halving, a few calls per refused row. Many refused rows
    (a division by a column that is zero in 3% of 10,000 generated rows) would take thousands of
    calls, so with `by_value` a long frame first looks for the value behind the first refused
    row: the column whose value, put into a row scikit-learn accepts, makes it raise. When
    other rows hold that value too, `BY_VALUE_CHECKS` of them are each checked to be refused
    alone; then all of them are left out (their reason says so) and the search goes on in the
    rest. Anything else (no single culprit, a value no other row holds, a checked row that is
    accepted) falls back to halving. With `sample`, each part is typed like it again
    (retype_like): a bool column is object while a missing value is in it, and a model that
    reads the DataFrame (LightGBM, XGBoost) refuses every row then."""
    first = _refusal(pipeline, frame, task, by_name)
    if first is None:
        return []
    if len(frame) == 1:
        return [(0, first)]
    if by_value and len(frame) >= BY_VALUE_ROWS:
        found = _refused_by_value(pipeline, frame, task, by_name, sample)
        if found is not None:
            return found
    return _halving(pipeline, frame, task, by_name, sample)


def _refusal(pipeline: Any, frame: pd.DataFrame, task: str, by_name: bool) -> str | None:
    from pipeport.export.parity import sklearn_outputs

    try:
        sklearn_outputs(pipeline, frame, task, by_name)
    except Exception as exc:  # any refusal by scikit-learn
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return None


def _typed(frame: pd.DataFrame, sample: pd.DataFrame | None) -> pd.DataFrame:
    return frame if sample is None else retype_like(frame, sample)


def _halving(
    pipeline: Any, frame: pd.DataFrame, task: str, by_name: bool, sample: pd.DataFrame | None
) -> list[tuple[int, str]]:
    half = len(frame) // 2
    first = refused_by_sklearn(
        pipeline, _typed(frame.iloc[:half], sample), task, by_name, sample, by_value=False
    )
    second = refused_by_sklearn(
        pipeline, _typed(frame.iloc[half:], sample), task, by_name, sample, by_value=False
    )
    return first + [(half + i, reason) for i, reason in second]


def _refused_by_value(
    pipeline: Any, frame: pd.DataFrame, task: str, by_name: bool, sample: pd.DataFrame | None
) -> list[tuple[int, str]] | None:
    """The refused rows of `frame` by the value behind the first one (None: no such value)."""
    located = _first_refused(pipeline, frame, task, by_name, sample)
    if located is None:
        return None
    row, good = located
    culprit = _culprit(pipeline, frame, row, good, task, by_name, sample)
    if culprit is None:
        return None
    column, reason = culprit
    value = frame[column].iloc[row]
    same = np.asarray(frame[column].isna() if pd.isna(value) else frame[column] == value, bool)
    holders = np.flatnonzero(same)
    if len(holders) < 2:
        return None
    for i in holders[:: max(1, len(holders) // BY_VALUE_CHECKS)][:BY_VALUE_CHECKS]:
        if _refusal(pipeline, _typed(frame.iloc[[i]], sample), task, by_name) is None:
            return None
    checked = min(BY_VALUE_CHECKS, len(holders))
    shown = value.item() if isinstance(value, np.generic) else value
    why = f"{reason} (every row with {column} = {shown!r}; {checked} checked alone)"
    rest_index = np.flatnonzero(~same)
    out = [(int(i), why) for i in holders]
    if len(rest_index):
        rest = _typed(frame.iloc[rest_index], sample)
        for i, reason_rest in refused_by_sklearn(pipeline, rest, task, by_name, sample):
            out.append((int(rest_index[i]), reason_rest))
    return sorted(out)


def _first_refused(
    pipeline: Any, frame: pd.DataFrame, task: str, by_name: bool, sample: pd.DataFrame | None
) -> tuple[int, int] | None:
    """A refused row of `frame` and an accepted one (positions), by halving towards a refused
    row; None when refusals are not row by row (the last row left is accepted alone)."""
    start, length, good = 0, len(frame), None
    while length > 1:
        half = length // 2
        left = _typed(frame.iloc[start : start + half], sample)
        if _refusal(pipeline, left, task, by_name) is not None:
            length = half
        else:
            good = start  # every row of the left half is accepted
            start, length = start + half, length - half
    if _refusal(pipeline, _typed(frame.iloc[[start]], sample), task, by_name) is None:
        return None
    candidates = range(min(len(frame), 16)) if good is None else range(0)
    for i in candidates:
        alone = _typed(frame.iloc[[i]], sample)
        if i != start and _refusal(pipeline, alone, task, by_name) is None:
            good = i
            break
    return None if good is None else (start, good)


def _culprit(
    pipeline: Any,
    frame: pd.DataFrame,
    row: int,
    good: int,
    task: str,
    by_name: bool,
    sample: pd.DataFrame | None,
) -> tuple[str, str] | None:
    """The one column whose value in `row`, put into the accepted row `good`, makes scikit-learn
    raise (None when no single column does, or several do)."""
    columns = [c for c in frame.columns if not _same(frame[c].iloc[row], frame[c].iloc[good])]
    if not columns:
        return None
    variants = []
    for column in columns:
        variant = frame.iloc[[good]].copy()
        variant[column] = frame[column].iloc[[row]].to_numpy()
        variants.append(variant)
    trial = _typed(pd.concat(variants, ignore_index=True), frame if sample is None else sample)
    raising = refused_by_sklearn(pipeline, trial, task, by_name, sample, by_value=False)
    if len(raising) != 1:
        return None
    position, reason = raising[0]
    return str(columns[position]), reason


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b) or (a != a and b != b)
    except (TypeError, ValueError):
        return False


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
        bad = refused_by_sklearn(pipeline, frame, "regression", by_name, self.base, by_value=False)
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
