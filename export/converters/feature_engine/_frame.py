"""What every feature-engine converter shares: a DataFrame of named columns in, one out.

A feature-engine transformer takes a pandas DataFrame, transforms its `variables_` in place (by
name), passes the other columns through, appends the columns it creates (`age_na`,
`fare_sub_age`, `month_sin`) and drops the ones it removes. `Frame` mirrors that over the graph's
columns: the step's input columns keyed by the names it was fitted with (`feature_names_in_`),
replaced, appended and dropped as pandas would, and checked on the way out against the step's own
`get_feature_names_out()`, so a converter that misreads feature-engine's column order is refused
rather than exported.

Lookup steps (encoders, text-valued discretisers) learn their tables by *probing* the fitted step:
`probe` runs `step.transform` on a small frame built like the one it was fitted on (the values
under test in one column, a value the step accepts in every other), so every output is
feature-engine's own and every refusal (an unseen category, a missing value) is its own too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
import pandas as pd

from pipeport.contract import is_missing, normalise_category
from pipeport.errors import UnsupportedStepError
from pipeport.export.graph import DOUBLE, STRING, Col, Graph


class Frame:
    """The DataFrame a feature-engine step receives, as the graph's columns, by name."""

    def __init__(self, step: Any, cols: Sequence[Col], g: Graph, where: str) -> None:
        names = list(getattr(step, "feature_names_in_", []))
        if len(names) != len(cols):
            raise UnsupportedStepError(
                f"Step '{where}' ({type(step).__name__}) was fitted on {len(names)} columns but "
                f"receives {len(cols)} here; was it fitted outside this pipeline?"
            )
        self.step, self.g, self.where = step, g, where
        self._cols: dict[Any, Col] = {
            name: col if col.name == str(name) else replace(col, name=str(name))
            for name, col in zip(names, cols, strict=True)
        }

    def __getitem__(self, name: Any) -> Col:
        return self._cols[name]

    def __setitem__(self, name: Any, col: Col) -> None:
        """`X[name] = ...`: replaces the column where it is, or appends it."""
        self._cols[name] = col if col.name == str(name) else replace(col, name=str(name))

    def __contains__(self, name: Any) -> bool:
        return name in self._cols

    def drop(self, names: Sequence[Any]) -> None:
        for name in names:
            del self._cols[name]

    def numbers(self, variables: Sequence[Any]) -> str:
        """The variables as one float64 [N, k] tensor."""
        return self.g.matrix([self._cols[v] for v in variables], self.where, self.step)

    def put(
        self,
        variables: Sequence[Any],
        tensor: str,
        dtype: int = DOUBLE,
        *,
        keep_lineage: bool = False,
    ) -> None:
        """Set `variables` to the columns of `tensor` ([N, len(variables)]). `keep_lineage`:
        the values repeat the old ones wherever those were not missing (an imputer), so the raw
        column and affine map they came from still hold."""
        old = [self._cols[v] for v in variables]
        block = self.g.block(
            tensor,
            [str(v) for v in variables],
            dtype,
            raw=[c.raw for c in old] if keep_lineage else None,
            affine=[c.affine for c in old] if keep_lineage else None,
        )
        for v, col in zip(variables, block, strict=True):
            self[v] = col

    def result(self) -> list[Col]:
        """The output columns, in feature-engine's order (checked against the step's own)."""
        out = list(self._cols.values())
        expected = [str(n) for n in self.step.get_feature_names_out()]
        if [c.name for c in out] != expected:
            raise UnsupportedStepError(
                f"Step '{self.where}' ({type(self.step).__name__}): pipeport expected it to "
                f"output the columns {[c.name for c in out]}, but it says it outputs {expected}; "
                "pipeport will not guess. Please report this with the step's parameters"
            )
        return out


# -- probing a fitted step ------------------------------------------------------------------------


def probe(step: Any, values: Mapping[Any, Sequence[Any]], filler: Mapping[Any, Any]) -> Any:
    """`step.transform` of a frame with the step's input columns: `values` in the columns they
    name (padded with their first value to the longest), `filler` (or 0.0) in every other.
    Returns the transformed DataFrame, or the exception feature-engine raised."""
    n = max((len(v) for v in values.values()), default=1)
    columns: dict[Any, Any] = {}
    for name in step.feature_names_in_:
        if name in values:
            given = list(values[name])
            column = given + [given[0]] * (n - len(given))
        else:
            column = [filler.get(name, 0.0)] * n
        columns[name] = pd.Series(column, dtype=object).infer_objects()
    try:
        return step.transform(pd.DataFrame(columns))
    except Exception as exc:  # feature-engine's refusal of these values
        return exc


def numbers_of(output: Any, column: Any) -> np.ndarray:
    """A column of a probe's output as float64 (NaN for missing)."""
    return np.asarray(
        [np.nan if is_missing(v) else float(v) for v in output[column].tolist()], np.float64
    )


# -- keys: a value as the graph holds it ----------------------------------------------------------


def is_number(value: Any) -> bool:
    return isinstance(value, (bool, int, float, np.number, np.bool_))


def key_type(g: Graph, col: Col, keys: Sequence[Any], where: str, step: Any) -> int:
    """How a lookup step reads `col` (DOUBLE or STRING) to match `keys` (the values it learned,
    as pandas held them): as numbers where the column and every key are numbers, else as text.
    A raw column of numbers read as text becomes a categorical input (the contract then feeds
    3 as "3", as the keys are normalised)."""
    natural = g.natural_type(col)
    numeric = all(is_number(k) for k in keys if not is_missing(k))
    if natural == DOUBLE and numeric:
        return DOUBLE
    if natural == STRING or col.block is None:
        return STRING  # a raw column other steps read as numbers is refused by the graph
    raise UnsupportedStepError(
        f"Step '{where}' ({type(step).__name__}) learned text values for column {col.name!r}, "
        "which holds numbers computed by an earlier step at that point; pipeport keeps a column "
        "one type. Encode the raw column, or keep the column numeric"
    )


def text_is_free(g: Graph, col: Col) -> bool:
    """`col` is a raw column no step has read yet: it can still become a text input."""
    return col.block is None and col.raw in g.raw and g.raw[col.raw].chosen is None


def graph_keys(keys: Sequence[Any], as_text: bool, where: str, column: str) -> tuple[Any, ...]:
    """The learned values as the graph receives them: normalised text ("3", "True") or float64.
    Refuses values that would mix: two that normalise alike, or the empty string (the contract's
    missing value)."""
    out = tuple(normalise_category(k) if as_text else float(k) for k in keys)
    if as_text and "" in out:
        raise UnsupportedStepError(
            f"Step '{where}' learned the empty string as a value of column {column!r}; pipeport "
            "feeds a missing value as the empty string, so the two would mix. Replace empty "
            "strings (e.g. with NaN or a word) before training"
        )
    if len(set(out)) != len(out):
        raise UnsupportedStepError(
            f"Step '{where}': two values of column {column!r} read the same once normalised "
            f"({list(out)[:10]}); pipeport cannot tell them apart"
        )
    return out


def unseen_value(keys: Sequence[Any]) -> Any:
    """A value no key equals, of the keys' own kind (text among text, a number among numbers)."""
    if any(isinstance(k, str) for k in keys):
        taken = {str(k) for k in keys}
        value, i = "pipeport-unseen", 0
        while value in taken:
            value, i = f"pipeport-unseen-{i}", i + 1
        return value
    numbers = [float(k) for k in keys if is_number(k) and not is_missing(k)]
    return (max(numbers) if numbers else 0.0) + 1.5


def missing_mask(g: Graph, x: str, dtype: int) -> str:
    """[N, k] bool: where the value is missing (NaN, or the contract's "" in text)."""
    if dtype == STRING:
        return str(g.op("Equal", [x, g.const(np.array([""], dtype=object), "empty")], "is_na"))
    return str(g.op("IsNaN", [x], "is_na"))


def read(g: Graph, col: Col, dtype: int, where: str, step: Any) -> str:
    """[N, 1] tensor of `col`, read as `dtype`."""
    return str(g.column(col, where, step, want=dtype))


# -- values a step puts in a column that repeats a raw one ----------------------------------------

#: Per graph, per column (tensor, index): the values a step wrote into a column that otherwise
#: repeats a raw column (CategoricalImputer's fill value, RareLabelEncoder's replace_with). They
#: are not raw values: an encoder further on learns them, but a client sending one raw is not
#: sending what the encoder learned (a category column even refuses it: pandas cannot add a
#: category it already has), so they are left out of the raw column's accepted values.
_SYNTHETIC: WeakKeyDictionary[Graph, dict[tuple[str, int], frozenset[Any]]] = WeakKeyDictionary()


def _where(col: Col) -> tuple[str, int] | None:
    return None if col.block is None else (col.block.tensor, col.index)


def mark_synthetic(g: Graph, col: Col, keys: frozenset[Any]) -> None:
    where = _where(col)
    if where is not None and keys:
        _SYNTHETIC.setdefault(g, {})[where] = keys


def synthetic_keys(g: Graph, col: Col) -> frozenset[Any]:
    where = _where(col)
    if where is None:
        return frozenset()
    return _SYNTHETIC.get(g, {}).get(where, frozenset())


#: Per graph: the columns (tensor, index) an imputer filled with a number, which hold no missing
#: value (a later CategoricalImputer then leaves them as they are, as pandas' fillna does).
_FILLED: WeakKeyDictionary[Graph, set[tuple[str, int]]] = WeakKeyDictionary()


def mark_filled(g: Graph, cols: Sequence[Col]) -> None:
    for col in cols:
        where = _where(col)
        if where is not None:
            _FILLED.setdefault(g, set()).add(where)


def is_filled(g: Graph, col: Col) -> bool:
    where = _where(col)
    return where is not None and where in _FILLED.get(g, set())


#: Per graph: numeric columns (tensor, index) in which a missing value stands for a text value
#: an imputer wrote (CategoricalImputer's "Missing" in a column of numbers, ignore_format=True):
#: pandas then holds numbers and "Missing"; the graph keeps the numbers and NaN, and the steps
#: that read the column look "Missing" up where they see NaN.
_STANDS_FOR: WeakKeyDictionary[Graph, dict[tuple[str, int], Any]] = WeakKeyDictionary()


def mark_missing_as(g: Graph, col: Col, value: Any) -> None:
    where = _where(col)
    if where is not None:
        _STANDS_FOR.setdefault(g, {})[where] = value


def missing_stands_for(g: Graph, col: Col) -> tuple[bool, Any]:
    """(True, value) if a missing value in `col` stands for the text `value`."""
    where = _where(col)
    table = _STANDS_FOR.get(g, {})
    if where is None or where not in table:
        return False, None
    return True, table[where]
