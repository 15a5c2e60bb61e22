"""OneHotEncoder, OrdinalEncoder and TargetEncoder: one column-wise lookup, read from the encoder.

All three encode each column independently, and what they output for a value depends only on
which of their categories it is, whether it is missing, or that it is unseen. So instead of
re-implementing each option (infrequent categories, `drop`, `min_frequency`, `max_categories`,
`encoded_missing_value`, `unknown_value`, target encodings and their fallback to the target
mean), the converter asks the fitted encoder itself: it transforms every category of every column,
a missing value and an unseen value, and the graph looks those rows up. Exact by construction,
for every parameter, in float64: the table holds scikit-learn's own output values.

Per column, the graph maps the value to its row (`LabelEncoder`, keys = the categories as the
contract feeds them: strings for text, float64 for numbers; missing and unseen to two extra rows)
and gathers the row; one-hot rows become `Equal(column id, 0..w-1)` instead of a K x w table.
Where scikit-learn raises (an unseen value with handle_unknown="error", a missing value it has no
category for), the contract refuses the value in every runtime instead (the metadata records the
column's categories and `unknown_categories: "error"`), so the graph never sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, TargetEncoder

from pipeport.contract import MISSING_CATEGORY, is_missing, normalise_category
from pipeport.errors import UnsupportedStepError
from pipeport.export.graph import DOUBLE, ML_DOMAIN, STRING, Col, Graph
from pipeport.export.registry import Converter, register

_UNSEEN_TEXT = "\x00pipeport-unseen\x00"


@dataclass(frozen=True)
class FeatureTable:
    """What the encoder outputs for one input column."""

    keys: tuple[Any, ...]  # the categories, as the graph receives them (str or float)
    known: np.ndarray  # [K, w]: the output for each category, in `keys` order
    missing: np.ndarray | None  # [w]; None: scikit-learn raises on a missing value
    unseen: np.ndarray | None  # [w]; None: scikit-learn raises on an unseen value

    @property
    def rows(self) -> np.ndarray:
        """[K + 2, w]: known rows, then missing, then unseen (zeros where it raises)."""
        w = self.known.shape[1]
        zeros = np.zeros(w)
        return np.vstack(
            [
                self.known,
                self.missing if self.missing is not None else zeros,
                self.unseen if self.unseen is not None else zeros,
            ]
        )


def _widths(encoder: Any) -> list[int]:
    """How many output columns each input column gets."""
    n_in = encoder.n_features_in_
    n_out = len(encoder.get_feature_names_out())
    if isinstance(encoder, OneHotEncoder):
        widths = [int(w) for w in encoder._n_features_outs]
    else:
        if n_out % n_in:
            raise ValueError(f"{type(encoder).__name__} outputs {n_out} columns for {n_in} inputs")
        widths = [n_out // n_in] * n_in
    if sum(widths) != n_out:
        raise ValueError(
            f"{type(encoder).__name__}: output widths {widths} do not add up to {n_out}"
        )
    return widths


def _dense(output: Any) -> np.ndarray:
    if hasattr(output, "toarray"):
        output = output.toarray()
    return np.asarray(output, dtype=np.float64)


def _frame(encoder: Any, columns: list[np.ndarray]) -> Any:
    """Probe rows as the encoder was fitted: a DataFrame with its column names, or an array."""
    names = getattr(encoder, "feature_names_in_", None)
    if names is None:
        return np.column_stack([np.asarray(c, dtype=object) for c in columns])
    import pandas as pd

    return pd.DataFrame({name: column for name, column in zip(names, columns, strict=True)})


def _known(categories: np.ndarray) -> list[Any]:
    return [c for c in categories.tolist() if not is_missing(c)]


def _unseen_value(known: Sequence[Any], as_text: bool) -> Any:
    """A value no category equals, of the categories' own type (scikit-learn refuses to compare
    text with numbers, which is not what is being asked)."""
    if as_text and all(isinstance(c, str) for c in known):
        return _UNSEEN_TEXT
    numbers = [float(c) for c in known if isinstance(c, (bool, int, float, np.number))]
    return (max(numbers) if numbers else 0.0) + 1.5


def _column(values: list[Any], categories: np.ndarray) -> np.ndarray:
    """Probe values in a column of the kind the encoder was fitted on: the category objects
    themselves in an object column, or float64 for numeric categories."""
    if categories.dtype == object:
        return np.asarray(values, dtype=object)
    return np.asarray([np.nan if is_missing(v) else float(v) for v in values], dtype=np.float64)


def probe_tables(
    encoder: Any, as_text: Sequence[bool], where: str, empty_is_missing: Sequence[bool] = ()
) -> list[FeatureTable]:
    """Transform every category, a missing value and an unseen value of every column."""
    widths = _widths(encoder)
    offsets = np.cumsum([0, *widths])
    categories = [np.asarray(c) for c in encoder.categories_]
    knowns = [_known(c.astype(object)) for c in categories]
    filler = [k[0] if k else np.nan for k in knowns]
    n_rows = max(len(k) for k in knowns) or 1
    columns = [
        _column(k + [filler[j]] * (n_rows - len(k)), categories[j]) for j, k in enumerate(knowns)
    ]
    try:
        known_out = _dense(encoder.transform(_frame(encoder, columns)))
    except Exception as exc:
        raise UnsupportedStepError(
            f"Step '{where}' ({type(encoder).__name__}) fails on its own categories: {exc}"
        ) from None

    def probe(j: int, value: Any) -> np.ndarray | None:
        cols = [
            _column([value if i == j else filler[i]], categories[i]) for i in range(len(knowns))
        ]
        try:
            out = _dense(encoder.transform(_frame(encoder, cols)))
        except (ValueError, TypeError, KeyError):
            return None  # scikit-learn refuses this value: so will the contract
        return out[0, offsets[j] : offsets[j + 1]]

    tables = []
    for j, known in enumerate(knowns):
        block = known_out[: len(known), offsets[j] : offsets[j + 1]]
        empty = bool(empty_is_missing and empty_is_missing[j])
        if as_text[j]:
            keys: tuple[Any, ...] = tuple(normalise_category(c) for c in known)
            if MISSING_CATEGORY in keys and empty:
                # scikit-learn sees a missing value as "" here (pipeport's MissingCategory):
                # the "" category is the missing row, and is not a category a client sends
                k = keys.index(MISSING_CATEGORY)
                missing_row = block[k]
                keep = [i for i in range(len(keys)) if i != k]
                tables.append(
                    FeatureTable(
                        keys=tuple(keys[i] for i in keep),
                        known=block[keep],
                        missing=missing_row,
                        unseen=probe(j, _unseen_value(known, True)),
                    )
                )
                continue
            if MISSING_CATEGORY in keys:
                names = getattr(encoder, "feature_names_in_", None)
                column = names[j] if names is not None else j
                raise UnsupportedStepError(
                    f"Step '{where}' learned the empty string as a category of column "
                    f"{column!r}; pipeport feeds a missing value as the empty string, so the two "
                    "would mix. "
                    "Replace empty strings (e.g. with NaN or a word) before training"
                )
        else:
            keys = tuple(float(c) for c in known)
        if len(set(keys)) != len(keys):
            raise UnsupportedStepError(
                f"Step '{where}': two categories of column {j} read the same once normalised "
                f"({list(keys)[:10]}); pipeport cannot tell them apart"
            )
        unseen = probe(j, _unseen_value(known, as_text[j]))
        tables.append(
            FeatureTable(
                keys=keys,
                known=block,
                # where "" means missing but was never learned, scikit-learn sees an unseen ""
                missing=unseen if empty else probe(j, np.nan),
                unseen=unseen,
            )
        )
    return tables


def _row_index(g: Graph, x: str, table: FeatureTable, text: bool, values: Sequence[int]) -> str:
    """[N, 1] int64: values[k] for the k-th category, values[-2] missing, values[-1] unseen."""
    k = len(table.keys)
    if text:
        return g.op(
            "LabelEncoder",
            [x],
            "category",
            domain=ML_DOMAIN,
            keys_strings=[*table.keys, MISSING_CATEGORY],
            values_int64s=[*values[:k], values[k]],
            default_int64=values[k + 1],
        )
    from onnx import numpy_helper

    found = g.op(
        "LabelEncoder",
        [x],
        "category",
        domain=ML_DOMAIN,
        keys_tensor=numpy_helper.from_array(np.asarray(table.keys, np.float64), "keys"),
        values_tensor=numpy_helper.from_array(np.asarray(values[:k], np.int64), "values"),
        default_tensor=numpy_helper.from_array(np.asarray([values[k + 1]], np.int64), "default"),
    )
    # NaN is matched here, not as a key: onnx.reference's LabelEncoder does not match NaN keys.
    missing = g.const(np.asarray([[values[k]]], np.int64), "missing_row")
    return g.op("Where", [g.op("IsNaN", [x], "is_missing"), missing, found], "category_row")


def _one_hot_ids(rows: np.ndarray) -> list[int] | None:
    """If every row is one-hot (or all zeros): the column of each row's 1 (-1 for none)."""
    if not np.all((rows == 0.0) | (rows == 1.0)) or np.any(rows.sum(axis=1) > 1):
        return None
    return [int(np.argmax(r)) if r.any() else -1 for r in rows]


def convert_encoder(encoder: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    text = [g.natural_type(c) == STRING for c in cols]
    inputs = [
        g.column(c, where, encoder, want=STRING if t else DOUBLE)
        for c, t in zip(cols, text, strict=True)
    ]
    tables = probe_tables(encoder, text, where, [c.missing_is_empty for c in cols])
    names = [str(n) for n in encoder.get_feature_names_out()]
    out: list[Col] = []
    start = 0
    for col, x, table, is_text in zip(cols, inputs, tables, text, strict=True):
        g.note_categories(col, table.keys, where, refuses_unseen=table.unseen is None)
        width = table.known.shape[1]
        rows = table.rows
        ids = _one_hot_ids(rows)
        if ids is not None:  # one column id per row: Equal against 0..w-1, no K x w table
            column_id = _row_index(g, x, table, is_text, ids)
            positions = g.const(np.arange(width, dtype=np.int64).reshape(1, -1), "positions")
            hot = g.op("Equal", [column_id, positions], "is_category")
            block = g.op("Cast", [hot], "encoded", to=DOUBLE)
        else:
            index = _row_index(g, x, table, is_text, list(range(len(rows))))
            flat = g.op("Squeeze", [index, g.const(np.array([1], np.int64), "axis1")], "row")
            block = g.op("Gather", [g.const(rows, "encodings"), flat], "encoded", axis=0)
        out.extend(g.block(block, names[start : start + width]))
        start += width
    return out


def _check(encoder: Any) -> str | None:
    if getattr(encoder, "n_features_in_", None) is None:
        return "it is not fitted"
    return None


register(
    Converter(
        classes=(OneHotEncoder, OrdinalEncoder, TargetEncoder),
        role="transformer",
        convert=convert_encoder,
        check=_check,
        family="encoders",
        accepts=(
            "every parameter: categories learned or explicit, handle_unknown ('error', 'ignore', "
            "'infrequent_if_exist', 'use_encoded_value', 'warn'), unknown_value (a number or NaN), "
            "encoded_missing_value, drop ('first', 'if_binary', an array), min_frequency, "
            "max_categories, NaN as a learned category, sparse or dense output; TargetEncoder "
            "for binary, multiclass and continuous targets; columns of text, numbers or booleans "
            "(object, str, category, bool, int, float with NaN)"
        ),
        exactness=(
            "the fitted encoder transforms each of its categories, a missing and an unseen value; "
            "the graph looks those float64 rows up, so every output is scikit-learn's own value. "
            "Where scikit-learn raises (handle_unknown='error', a missing value without a "
            "category), every runtime refuses the row, naming the field and the value"
        ),
    )
)
