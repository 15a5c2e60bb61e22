"""Raw rows (or columns) → onnxruntime feeds, with validation: the one place that does it.

The server, `pipeport predict` and the parity harness all call `raw_rows_to_feeds`, so a row that
is valid in one is valid in all, and is fed to the graph the same way. Pure functions only: no
I/O, no HTTP. Per-column validators are compiled once per schema and cached.

Encoding (docs/onnx-contract.md): numeric → float64 `[N, 1]`, missing = NaN; categorical →
string `[N, 1]`, missing = "" (the pipeline's missing-category sentinel).
"""

from __future__ import annotations

import math
import numbers
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from pipeport.serving.model import InputSpec, ModelSchema

_NAN = float("nan")


class RowError(NamedTuple):
    """One problem: the row index (None for the request as a whole), the field, what is wrong."""

    row: int | None
    field: str | None
    problem: str


class RowErrors(ValueError):
    """Raised with every problem found, not just the first, so a client can fix them at once."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        shown = "; ".join(_describe(e) for e in self.errors[:5])
        more = len(self.errors) - 5
        super().__init__(shown + (f"; and {more} more" if more > 0 else ""))


def _describe(error: RowError) -> str:
    where = []
    if error.row is not None:
        where.append(f"row {error.row}")
    if error.field is not None:
        where.append(f"field {error.field!r}")
    return (", ".join(where) + ": " if where else "") + error.problem


class NonFiniteToken:
    """What a JSON parser gives for the non-standard tokens NaN/Infinity/-Infinity.

    Parse with `json.loads(..., parse_constant=NonFiniteToken)` so such a value reaches the
    validator and is reported with its row and field, rather than failing the whole body.
    """

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, for error messages a client understands."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, numbers.Number):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, NonFiniteToken):
        return value.token
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


class _Problem(Exception):
    pass


Converter = Callable[[Any], Any]


def _numeric_converter(spec: InputSpec) -> Converter:
    missing_ok = spec.missing_allowed

    def convert(value: Any) -> float:
        kind = type(value)
        if kind is float:
            if value - value == 0.0:  # false for NaN and ±inf, cheaper than math.isfinite
                return value
            return _non_finite(value)
        if kind is int:
            return _int_to_float(value)
        if value is None:
            if missing_ok:
                return _NAN
            raise _Problem("a value is required (this column does not allow missing values)")
        if isinstance(value, (bool, np.bool_)):
            raise _Problem("expected a number or null, got boolean")
        if isinstance(value, numbers.Integral):
            return _int_to_float(int(value))
        if isinstance(value, numbers.Real):  # numpy floats and other reals
            as_float = float(value)
            return as_float if math.isfinite(as_float) else _non_finite(as_float)
        if isinstance(value, NonFiniteToken):
            raise _Problem(f"{value.token} is not a number; send null for a missing value")
        raise _Problem(f"expected a number or null, got {json_type(value)}")

    return convert


def _non_finite(value: float) -> float:
    if math.isnan(value):
        raise _Problem("NaN is not allowed; send null for a missing value")
    raise _Problem("number is not finite (out of range for a 64-bit float)")


def _int_to_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise _Problem("number is out of range for a 64-bit float") from None


def _categorical_converter(spec: InputSpec) -> Converter:
    missing_ok = spec.missing_allowed

    def convert(value: Any) -> str:
        if type(value) is str or isinstance(value, str):
            if value or missing_ok:
                return str(value)
            raise _Problem("a value is required (this column does not allow missing values)")
        if value is None:
            if missing_ok:
                return ""
            raise _Problem("a value is required (this column does not allow missing values)")
        raise _Problem(f"expected a string or null, got {json_type(value)}")

    return convert


@dataclass(frozen=True)
class FeedPlan:
    """Per-schema work done once: column order, validators and ONNX names."""

    names: frozenset[str]
    # (raw name, onnx name, converter, is numeric, missing allowed), in ONNX input order.
    columns: tuple[tuple[str, str, Converter, bool, bool], ...]
    # Indexes into `columns` of the numeric and of the categorical (string) columns.
    numeric_positions: tuple[int, ...] = ()
    string_positions: tuple[int, ...] = ()
    numeric_onnx_names: tuple[str, ...] = ()
    string_onnx_names: tuple[str, ...] = ()
    # (raw name, converter) of the numeric and of the categorical columns, in those orders.
    numeric_converters: tuple[tuple[str, Converter], ...] = ()
    string_converters: tuple[tuple[str, Converter], ...] = ()

    @property
    def expected(self) -> str:
        return ", ".join(repr(name) for name, *_ in self.columns)


_PLANS: weakref.WeakKeyDictionary[ModelSchema, FeedPlan] = weakref.WeakKeyDictionary()


def feed_plan(schema: ModelSchema) -> FeedPlan:
    """The compiled plan for `schema` (built on first use, then cached for its lifetime)."""
    plan = _PLANS.get(schema)
    if plan is None:
        columns = tuple(
            (
                spec.name,
                spec.onnx_name,
                _numeric_converter(spec)
                if spec.kind == "numeric"
                else _categorical_converter(spec),
                spec.kind == "numeric",
                spec.missing_allowed,
            )
            for spec in schema.inputs
        )
        plan = FeedPlan(
            names=frozenset(schema.input_names),
            columns=columns,
            numeric_positions=tuple(j for j, column in enumerate(columns) if column[3]),
            string_positions=tuple(j for j, column in enumerate(columns) if not column[3]),
            numeric_onnx_names=tuple(column[1] for column in columns if column[3]),
            string_onnx_names=tuple(column[1] for column in columns if not column[3]),
            numeric_converters=tuple((column[0], column[2]) for column in columns if column[3]),
            string_converters=tuple((column[0], column[2]) for column in columns if not column[3]),
        )
        _PLANS[schema] = plan
    return plan


def raw_rows_to_feeds(
    rows: Sequence[Mapping[str, Any]], schema: ModelSchema, *, first_row: int = 0
) -> dict[str, np.ndarray]:
    """Validate raw rows (JSON objects keyed by raw column name) and build the ONNX feeds.

    Raises `RowErrors` listing every problem (row index counted from `first_row`, field,
    problem); nothing is fed unless every row is valid.
    """
    plan = feed_plan(schema)
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
        raise RowErrors(
            [RowError(None, "rows", f"expected an array of objects, got {json_type(rows)}")]
        )
    n = len(rows)
    names = plan.names
    width = len(plan.columns)
    if n == 1:  # the common request: one well-formed row, without the general loop's bookkeeping
        feeds = _one_row_feeds(rows[0], plan)
        if feeds is not None:
            return feeds
    values: list[list[Any]] = [[None] * n for _ in range(width)]
    errors: list[RowError] = []
    for i, row in enumerate(rows):
        if type(row) is not dict and not isinstance(row, Mapping):
            errors.append(
                RowError(first_row + i, None, f"expected a JSON object, got {json_type(row)}")
            )
            continue
        if len(row) != width or not names.issuperset(row):
            errors.extend(_key_errors(first_row + i, row, plan))
        for j, (name, _onnx, convert, _numeric, _missing_ok) in enumerate(plan.columns):
            try:
                value = row[name]
            except KeyError:
                continue  # reported by _key_errors
            try:
                values[j][i] = convert(value)
            except _Problem as exc:
                errors.append(RowError(first_row + i, name, str(exc)))
    if errors:
        raise RowErrors(errors)
    return _build_feeds(values, plan, n)


def _one_row_feeds(row: Any, plan: FeedPlan) -> dict[str, np.ndarray] | None:
    """Feeds for one valid row; None when anything is wrong (the general path then reports it)."""
    if type(row) is not dict or len(row) != len(plan.columns) or not plan.names.issuperset(row):
        return None
    try:
        numbers = [convert(row[name]) for name, convert in plan.numeric_converters]
        texts = [convert(row[name]) for name, convert in plan.string_converters]
    except _Problem:
        return None
    feeds: dict[str, np.ndarray] = {}
    if numbers:
        block = np.array(numbers, dtype=np.float64).reshape(-1, 1, 1)
        feeds.update(zip(plan.numeric_onnx_names, block, strict=True))
    if texts:
        block = np.array(texts, dtype=object).reshape(-1, 1, 1)
        feeds.update(zip(plan.string_onnx_names, block, strict=True))
    return feeds


def _build_feeds(values: list[list[Any]], plan: FeedPlan, n: int) -> dict[str, np.ndarray]:
    """Column lists → `[n, 1]` arrays: one numpy call per kind, each column a contiguous view."""
    feeds: dict[str, np.ndarray] = {}
    for positions, names, dtype in (
        (plan.numeric_positions, plan.numeric_onnx_names, np.float64),
        (plan.string_positions, plan.string_onnx_names, object),
    ):
        if positions:
            block = np.array([values[j] for j in positions], dtype=dtype)
            feeds.update(zip(names, block.reshape(len(positions), n, 1), strict=True))
    return feeds


def _key_errors(row_index: int, row: Mapping[str, Any], plan: FeedPlan) -> list[RowError]:
    errors = [
        RowError(row_index, name, "missing field (send null for a missing value)")
        for name, *_ in plan.columns
        if name not in row
    ]
    for key in row:
        if key not in plan.names:
            errors.append(
                RowError(row_index, str(key), f"unknown field; expected fields: {plan.expected}")
            )
    return errors


def columns_to_feeds(
    columns: Mapping[str, Sequence[Any] | np.ndarray],
    schema: ModelSchema,
    *,
    first_row: int = 0,
) -> dict[str, np.ndarray]:
    """Validate whole columns already in the graph's encoding and build the feeds.

    For callers that hold tensors rather than JSON rows (Open Inference Protocol requests,
    columnar files): numeric columns are float64 with NaN meaning missing (±inf is an error);
    categorical columns are strings with "" meaning missing. Raises `RowErrors`.
    """
    plan = feed_plan(schema)
    errors: list[RowError] = []
    for name in columns:
        if name not in plan.names:
            errors.append(
                RowError(None, str(name), f"unknown column; expected columns: {plan.expected}")
            )
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        errors.append(
            RowError(
                None,
                None,
                "columns have different lengths: "
                + ", ".join(f"{k!r}: {len(v)}" for k, v in columns.items()),
            )
        )
    feeds: dict[str, np.ndarray] = {}
    for name, onnx_name, convert, numeric, missing_ok in plan.columns:
        if name not in columns:
            errors.append(RowError(None, name, "missing column"))
            continue
        values = columns[name]
        if numeric:
            array = _numeric_column(name, values, missing_ok, first_row, errors)
        else:
            array = _string_column(name, values, convert, missing_ok, first_row, errors)
        if array is not None:
            feeds[onnx_name] = array
    if errors:
        raise RowErrors(errors)
    return feeds


def _numeric_column(
    name: str,
    values: Sequence[Any] | np.ndarray,
    missing_ok: bool,
    first_row: int,
    errors: list[RowError],
) -> np.ndarray | None:
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    except (TypeError, ValueError):
        errors.append(RowError(None, name, "expected numbers (NaN for missing)"))
        return None
    column = array[:, 0]
    for i in np.flatnonzero(np.isinf(column)):
        errors.append(RowError(first_row + int(i), name, "number is not finite (±Infinity)"))
    if not missing_ok:
        for i in np.flatnonzero(np.isnan(column)):
            errors.append(
                RowError(
                    first_row + int(i),
                    name,
                    "a value is required (this column does not allow missing values)",
                )
            )
    return array


def _string_column(
    name: str,
    values: Sequence[Any] | np.ndarray,
    convert: Converter,
    missing_ok: bool,
    first_row: int,
    errors: list[RowError],
) -> np.ndarray:
    if all(type(value) is str for value in values):  # the common case, without a call per value
        array = np.array(values, dtype=object).reshape(-1, 1)
        if missing_ok or all(values):
            return array
    array = np.empty((len(values), 1), dtype=object)
    for i, value in enumerate(values):
        if type(value) is not str and value is not None:
            errors.append(
                RowError(first_row + i, name, f"expected a string, got {json_type(value)}")
            )
            continue
        try:
            array[i, 0] = convert(value)
        except _Problem as exc:
            errors.append(RowError(first_row + i, name, str(exc)))
    return array
