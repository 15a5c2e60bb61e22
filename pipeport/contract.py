"""The raw-row contract: how raw values become the graph's input tensors, in one place.

Every caller uses this module: the export gate (a raw DataFrame), the server (JSON rows, Open
Inference tensors), batch scoring (CSV/JSONL/Parquet), the parity harness and the benches. The JS
clients (clients/common/raw-rows.js) mirror it, and tests/fixtures/contract_cases.json, written
by hand, proves that both accept, refuse and encode the same rows the same way.

The rules (docs/onnx-contract.md):

- A row is an object keyed by raw column name. Every input column must be present; columns the
  pipeline does not read (`schema.unused_columns`) may be present and are ignored; any other key
  is an error.
- numeric column -> float64 `[N, 1]`. A number, or null (missing: NaN). JSON booleans too when the
  training column held booleans (true -> 1.0, as scikit-learn reads them).
- categorical column -> string `[N, 1]`. A string, or what pandas holds for such a column: a
  boolean (true -> "True") or a number (3 -> "3", 3.0 -> "3", 2.5 -> "2.5"), normalised exactly as
  training normalised it; null (missing) is the sentinel "" (MISSING_CATEGORY).
- missing where scikit-learn refuses it (`missing_allowed` false) and an unseen value where it
  raises (`unknown_categories` "error") are errors naming the row, the field and the value.
- a wrong JSON type, NaN/Infinity and out-of-range numbers are errors naming the row and field.

numpy and the standard library only (pandas objects are handled by duck typing), so the server
imports this module without pandas.
"""

from __future__ import annotations

import math
import numbers
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeport.errors import RawInputError, RowError
from pipeport.schema import NUMERIC, InputSpec, ModelSchema

#: What a missing categorical value is fed as, in every runtime.
MISSING_CATEGORY = ""

#: What pandas.read_csv reads as missing (its default na_values): a CSV is read here as pandas
#: read the training file, so "NA" in a text column is missing, not a category.
PANDAS_MISSING_TEXT = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)
#: What pandas.read_csv reads as booleans (its defaults).
PANDAS_BOOLEAN_TEXT = {
    "True": True,
    "TRUE": True,
    "true": True,
    "False": False,
    "FALSE": False,
    "false": False,
}

_NAN = float("nan")
_MISSING_TYPES = frozenset({"NAType", "NaTType"})  # pandas.NA, pandas.NaT (no pandas import)


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
    if isinstance(value, (bool, np.bool_)):
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


def is_missing(value: Any) -> bool:
    """None, NaN, pandas.NA or pandas.NaT: what a DataFrame holds for a missing value."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    if type(value).__name__ in _MISSING_TYPES:
        return True
    return isinstance(value, np.floating) and bool(np.isnan(value))


def normalise_category(value: Any) -> str:
    """The string a categorical value is fed as: what training made of it.

    True -> "True", 3 -> "3", 3.0 -> "3" (an integer column that pandas widened to float because
    it has missing values gives the same strings as without them), 2.5 -> "2.5" (Python's
    shortest repr), a missing value -> MISSING_CATEGORY. Raises ValueError for ±inf and for
    values that are not a string, number or boolean.
    """
    if type(value) is str:
        return value
    if is_missing(value):
        return MISSING_CATEGORY
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("number is not finite")
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, str):  # str subclasses (numpy.str_)
        return str(value)
    raise ValueError(f"expected a string, number, boolean or null, got {json_type(value)}")


class _Problem(Exception):
    pass


Converter = Callable[[Any], Any]


def _unknown_problem(value: Any, spec: InputSpec) -> _Problem:
    shown = ", ".join(repr(_plain(c)) for c in spec.categories[:10])
    more = f", … ({len(spec.categories)} in all)" if len(spec.categories) > 10 else ""
    return _Problem(
        f"{_plain(value)!r} is not a category this model was trained on (the pipeline refuses "
        f"unseen values in this column); expected one of {shown}{more}"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_MISSING_REFUSED = "a value is required (this column does not allow missing values)"
#: onnxruntime's string tensors end at a NUL character in Node.js and the browser, so a text
#: holding one would be read differently there: refused everywhere instead.
_NUL_REFUSED = "text must not contain the NUL character (U+0000)"

_RANGE_WORDS = {
    "greater_than": ("greater than", lambda x, b: x > b),
    "greater_or_equal": ("at least", lambda x, b: x >= b),
    "less_than": ("less than", lambda x, b: x < b),
    "less_or_equal": ("at most", lambda x, b: x <= b),
}


def _range_problem(value: float, spec: InputSpec) -> str:
    rule = " and ".join(f"{_RANGE_WORDS[k][0]} {_plain(v)!r}" for k, v in spec.valid_range.items())
    why = f" ({spec.valid_range_reason})" if spec.valid_range_reason else ""
    return f"{_plain(value)!r} is outside what this model accepts: it must be {rule}{why}"


def in_range(values: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Elementwise: inside the column's valid_range (NaN counts as inside: missing is judged
    on its own)."""
    ok = np.ones(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for key, bound in spec.valid_range.items():
            ok &= _RANGE_WORDS[key][1](values, bound) | np.isnan(values)
    return ok


def _numeric_converter(spec: InputSpec) -> Converter:
    missing_ok = spec.missing_allowed
    booleans = spec.values == "booleans"
    allowed = frozenset(spec.categories) if spec.unknown_categories == "error" else None

    def to_float(value: Any) -> float:
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
            raise _Problem(_MISSING_REFUSED)
        if isinstance(value, (bool, np.bool_)):
            if booleans:
                return 1.0 if value else 0.0
            raise _Problem("expected a number or null, got boolean")
        if isinstance(value, numbers.Integral):
            return _int_to_float(int(value))
        if isinstance(value, numbers.Real):  # numpy floats and other reals
            as_float = float(value)
            return as_float if math.isfinite(as_float) else _non_finite(as_float)
        if isinstance(value, NonFiniteToken):
            raise _Problem(f"{value.token} is not a number; send null for a missing value")
        raise _Problem(
            f"expected a number{', boolean' if booleans else ''} or null, got {json_type(value)}"
        )

    bounds = [(_RANGE_WORDS[k][1], v) for k, v in spec.valid_range.items()]
    if allowed is None and not bounds:
        return to_float

    def checked(value: Any) -> float:
        number = to_float(value)
        if number != number:  # NaN: missing, already judged
            return number
        if allowed is not None and number not in allowed:
            raise _unknown_problem(number, spec)
        for test, bound in bounds:
            if not test(number, bound):
                raise _Problem(_range_problem(number, spec))
        return number

    return checked


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
    allowed = frozenset(spec.categories) if spec.unknown_categories == "error" else None

    def convert(value: Any) -> str:
        if type(value) is str:
            text = value
        elif value is None:
            text = MISSING_CATEGORY
        elif isinstance(value, NonFiniteToken):
            raise _Problem(f"{value.token} is not a value; send null for a missing value")
        elif isinstance(value, float) and value != value:
            raise _Problem("NaN is not allowed; send null for a missing value")
        else:
            try:
                text = normalise_category(value)
            except ValueError as exc:
                raise _Problem(str(exc)) from None
        if text == MISSING_CATEGORY:
            if missing_ok:
                return text
            raise _Problem(_MISSING_REFUSED)
        if "\x00" in text:
            raise _Problem(_NUL_REFUSED)
        if allowed is not None and text not in allowed:
            raise _unknown_problem(text, spec)
        return text

    return convert


def converter(spec: InputSpec) -> Converter:
    """The function that turns one JSON value of this column into its tensor element, or raises
    `_Problem` (reported by the callers with its row and field)."""
    return _numeric_converter(spec) if spec.kind == NUMERIC else _categorical_converter(spec)


@dataclass(frozen=True)
class FeedPlan:
    """Per-schema work done once: column order, validators and ONNX names."""

    names: frozenset[str]
    unused: frozenset[str]
    # (raw name, onnx name, converter, is numeric, spec), in ONNX input order.
    columns: tuple[tuple[str, str, Converter, bool, InputSpec], ...]
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
            (spec.name, spec.onnx_name, converter(spec), spec.kind == NUMERIC, spec)
            for spec in schema.inputs
        )
        plan = FeedPlan(
            names=frozenset(schema.input_names),
            unused=frozenset(schema.unused_columns),
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


# -- JSON rows ------------------------------------------------------------------------------------


def raw_rows_to_feeds(
    rows: Sequence[Mapping[str, Any]], schema: ModelSchema, *, first_row: int = 0
) -> dict[str, np.ndarray]:
    """Validate raw rows (objects keyed by raw column name) and build the ONNX feeds.

    Raises `RawInputError` listing every problem (row index counted from `first_row`, field,
    problem); nothing is fed unless every row is valid.
    """
    plan = feed_plan(schema)
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
        raise RawInputError(
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
        for j, (name, _onnx, convert, _numeric, _spec) in enumerate(plan.columns):
            try:
                value = row[name]
            except KeyError:
                continue  # reported by _key_errors
            try:
                values[j][i] = convert(value)
            except _Problem as exc:
                errors.append(RowError(first_row + i, name, str(exc)))
    if errors:
        raise RawInputError(errors)
    return _build_feeds(values, plan, n)


def _one_row_feeds(row: Any, plan: FeedPlan) -> dict[str, np.ndarray] | None:
    """Feeds for one valid row; None when anything is wrong (the general path then reports it)."""
    if type(row) is not dict or len(row) != len(plan.columns) or not plan.names.issuperset(row):
        return None
    try:
        numbers_ = [convert(row[name]) for name, convert in plan.numeric_converters]
        texts = [convert(row[name]) for name, convert in plan.string_converters]
    except _Problem:
        return None
    feeds: dict[str, np.ndarray] = {}
    if numbers_:
        block = np.array(numbers_, dtype=np.float64).reshape(-1, 1, 1)
        feeds.update(zip(plan.numeric_onnx_names, block, strict=True))
    if texts:
        block = np.array(texts, dtype=object).reshape(-1, 1, 1)
        feeds.update(zip(plan.string_onnx_names, block, strict=True))
    return feeds


def _build_feeds(values: list[list[Any]], plan: FeedPlan, n: int) -> dict[str, np.ndarray]:
    """Column lists -> `[n, 1]` arrays: one numpy call per kind, each column a contiguous view."""
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
        if key not in plan.names and key not in plan.unused:
            errors.append(
                RowError(row_index, str(key), f"unknown field; expected fields: {plan.expected}")
            )
    return errors


# -- columns already in the graph's encoding (tensors, CSV) ---------------------------------------


def columns_to_feeds(
    columns: Mapping[str, Sequence[Any] | np.ndarray],
    schema: ModelSchema,
    *,
    first_row: int = 0,
) -> dict[str, np.ndarray]:
    """Validate whole columns already in the graph's encoding and build the feeds.

    For callers that hold tensors rather than JSON rows (Open Inference Protocol requests,
    columnar files): numeric columns are float64 with NaN meaning missing (±inf is an error);
    categorical columns are strings with "" meaning missing. Missing values where the model
    refuses them and unseen categories where it raises are errors too. Raises `RawInputError`.
    """
    plan = feed_plan(schema)
    errors: list[RowError] = []
    for name in columns:
        if name not in plan.names and name not in plan.unused:
            errors.append(
                RowError(None, str(name), f"unknown column; expected columns: {plan.expected}")
            )
    used = {k: v for k, v in columns.items() if k in plan.names}
    lengths = {len(values) for values in used.values()}
    if len(lengths) > 1:
        errors.append(
            RowError(
                None,
                None,
                "columns have different lengths: "
                + ", ".join(f"{k!r}: {len(v)}" for k, v in used.items()),
            )
        )
    feeds: dict[str, np.ndarray] = {}
    for name, onnx_name, _convert, numeric, spec in plan.columns:
        if name not in columns:
            errors.append(RowError(None, name, "missing column"))
            continue
        values = columns[name]
        if numeric:
            array = _numeric_column(spec, values, first_row, errors)
        else:
            array = _string_column(spec, values, first_row, errors)
        if array is not None:
            feeds[onnx_name] = array
    if errors:
        raise RawInputError(errors)
    return feeds


def _numeric_column(
    spec: InputSpec, values: Sequence[Any] | np.ndarray, first_row: int, errors: list[RowError]
) -> np.ndarray | None:
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    except (TypeError, ValueError):
        errors.append(RowError(None, spec.name, "expected numbers (NaN for missing)"))
        return None
    column = array[:, 0]
    for i in np.flatnonzero(np.isinf(column)):
        errors.append(RowError(first_row + int(i), spec.name, "number is not finite (±Infinity)"))
    missing = np.isnan(column)
    if not spec.missing_allowed:
        for i in np.flatnonzero(missing):
            errors.append(RowError(first_row + int(i), spec.name, _MISSING_REFUSED))
    if spec.unknown_categories == "error":
        known = np.isin(column, np.asarray(spec.categories, dtype=np.float64))
        for i in np.flatnonzero(~known & ~missing & np.isfinite(column)):
            errors.append(
                RowError(first_row + int(i), spec.name, str(_unknown_problem(column[i], spec)))
            )
    if spec.valid_range:
        for i in np.flatnonzero(~in_range(column, spec) & np.isfinite(column)):
            errors.append(
                RowError(first_row + int(i), spec.name, _range_problem(float(column[i]), spec))
            )
    return array


def _string_column(
    spec: InputSpec, values: Sequence[Any] | np.ndarray, first_row: int, errors: list[RowError]
) -> np.ndarray:
    checks = not spec.missing_allowed or spec.unknown_categories == "error"
    if (
        not checks and set(map(type, values)) == {str} and "\x00" not in "".join(values)
    ):  # the common case: no Python-level step per value (a quarter of the time of a loop)
        return np.array(values, dtype=object).reshape(-1, 1)
    convert = _categorical_converter(spec)
    array = np.empty((len(values), 1), dtype=object)
    for i, value in enumerate(values):
        if value is not None and not isinstance(value, str):
            errors.append(
                RowError(first_row + i, spec.name, f"expected a string, got {json_type(value)}")
            )
            continue
        try:
            array[i, 0] = convert(value)
        except _Problem as exc:
            errors.append(RowError(first_row + i, spec.name, str(exc)))
    return array


# -- CSV cells ------------------------------------------------------------------------------------


def csv_cell_reader(spec: InputSpec) -> Callable[[str], Any]:
    """A function from one CSV cell to the column's graph encoding (float with NaN, or str with
    ""), reading the text as pandas.read_csv read the training file: its missing markers are
    missing, True/False are booleans in a boolean column, and a categorical column that held
    numbers normalises "3.0" as the number 3.0 ("3"). Raises ValueError naming the problem."""
    if spec.kind == NUMERIC:
        # True/False in a numeric column: pandas reads a boolean column, scikit-learn 1.0/0.0.

        def read_number(text: str) -> float:
            if text in PANDAS_MISSING_TEXT:
                return _NAN
            if text in PANDAS_BOOLEAN_TEXT:
                return 1.0 if PANDAS_BOOLEAN_TEXT[text] else 0.0
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a number") from None
            if not math.isfinite(value):
                raise ValueError(
                    f"{text!r} is not a finite number (leave the field empty for a missing value)"
                )
            return value

        return read_number

    def read_text(text: str) -> str:
        if text in PANDAS_MISSING_TEXT:
            return MISSING_CATEGORY
        if spec.values == "booleans" and text in PANDAS_BOOLEAN_TEXT:
            return "True" if PANDAS_BOOLEAN_TEXT[text] else "False"
        if spec.values == "numbers":
            try:
                number = float(text)
            except ValueError:
                return text
            if math.isfinite(number):
                return normalise_category(number)
        return text

    return read_text


# -- pandas DataFrames ----------------------------------------------------------------------------


def frame_to_rows(frame: Any, schema: ModelSchema) -> list[dict[str, Any]]:
    """A raw DataFrame as the JSON rows a client sends for it: numbers, booleans and strings as
    pandas holds them (not pre-normalised, so the receiving side's normalisation is what is
    tested), None for a missing value. Only the schema's input columns."""
    columns = [
        (spec.name, [None if is_missing(v) else _native(v) for v in _values(frame, spec)])
        for spec in schema.inputs
    ]
    return [{name: values[i] for name, values in columns} for i in range(len(frame))]


def frame_to_feeds(
    frame: Any, schema: ModelSchema | Mapping[str, Any], *, first_row: int = 0
) -> dict[str, np.ndarray]:
    """ONNX feeds from a raw pandas DataFrame, by the same rules as JSON rows.

    `schema` is the file's schema or its metadata (`pipeport.read_metadata`). Columns the model
    does not take are ignored. Raises `RawInputError` (row = position in the frame +
    `first_row`, field, problem), as the server would for the same rows.
    """
    if not isinstance(schema, ModelSchema):
        schema = ModelSchema.from_metadata(dict(schema))
    plan = feed_plan(schema)
    errors: list[RowError] = []
    feeds: dict[str, np.ndarray] = {}
    n = len(frame)
    for name, onnx_name, convert, numeric, spec in plan.columns:
        if name not in frame.columns:
            errors.append(RowError(None, name, "missing column"))
            continue
        series = frame[name]
        if numeric and getattr(series.dtype, "kind", "O") in "fiub":
            # numpy-backed numbers/booleans: one vectorised pass, then the same checks as tensors
            array = series.to_numpy(dtype=np.float64).reshape(-1, 1)
            if spec.values != "booleans" and series.dtype.kind == "b":
                errors.append(RowError(None, name, "expected numbers, got a boolean column"))
                continue
            checked = _numeric_column(spec, array[:, 0], first_row, errors)
            if checked is not None:
                feeds[onnx_name] = checked
            continue
        out = np.empty((n, 1), dtype=np.float64 if numeric else object)
        for i, value in enumerate(_values(frame, spec)):
            try:
                out[i, 0] = convert(None if is_missing(value) else _native(value))
            except _Problem as exc:
                errors.append(RowError(first_row + i, name, str(exc)))
        feeds[onnx_name] = out
    if errors:
        raise RawInputError(errors)
    return feeds


def _values(frame: Any, spec: InputSpec) -> list[Any]:
    return list(frame[spec.name].tolist())


def _native(value: Any) -> Any:
    """numpy scalars -> Python scalars (what a JSON parser would give)."""
    if isinstance(value, np.generic):
        return value.item()
    return value
