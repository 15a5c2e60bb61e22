"""feature-engine's encoders: OrdinalEncoder, CountFrequencyEncoder, MeanEncoder, WoEEncoder,
OneHotEncoder and RareLabelEncoder.

The first four replace each value with `X[v].map(encoder_dict_[v])`; what they output for a
value depends only on which learned value it is, whether it is missing, or that it is unseen. As
for scikit-learn's encoders (export/converters/encoders.py), the converter asks the fitted
encoder itself: it transforms every learned value, a missing value and an unseen value, and the
graph looks those float64 outputs up. Every parameter (encoding_method, smoothing, `unseen`
'ignore' (NaN) / 'raise' / 'encode', `missing_values` 'raise' / 'ignore') is then exact by
construction. OneHotEncoder appends `<v>_<category>` = `X[v] == category` for its
`encoder_dict_` categories (top_categories, drop_last, drop_last_binary) and drops v;
RareLabelEncoder keeps its frequent values and replaces every other with `replace_with`.

A column is looked up as the contract feeds it: text normalised ("3" for 3, "True" for True) or,
where the column and every learned value are numbers or booleans (`ignore_format=True` on an
int64 or bool column), as float64. Where feature-engine raises on an unseen value, or turns it
into NaN that a later step refuses, the learned values are recorded on the raw column the encoder
reads (through imputers and rare-label grouping, which keep every learned value as it is), and
the exporter confirms against the pipeline which values every runtime must refuse.

feature-engine's traps with pandas 3, and what the graph makes of them: its encoders refuse a
bool or numeric column unless `ignore_format=True` (the fitted pipeline either works, and its
keys are numbers, or it never fitted); CategoricalImputer('frequent') and MeanMedianImputer
re-infer an object column of integers as int64 (`infer_objects`), which a later encoder then
refuses without `ignore_format=True`. The graph holds values, not dtypes: a pipeline that works
exports, keys as numbers or normalised text.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from feature_engine.encoding import (
    CountFrequencyEncoder,
    MeanEncoder,
    OneHotEncoder,
    OrdinalEncoder,
    RareLabelEncoder,
    WoEEncoder,
)
from onnx import numpy_helper

from pipeport.contract import is_missing, normalise_category
from pipeport.errors import UnsupportedStepError
from pipeport.export.converters.encoders import FeatureTable, _row_index
from pipeport.export.converters.feature_engine._frame import (
    Frame,
    graph_keys,
    key_type,
    mark_synthetic,
    missing_stands_for,
    numbers_of,
    probe,
    read,
    synthetic_keys,
    text_is_free,
    unseen_value,
)
from pipeport.export.graph import DOUBLE, ML_DOMAIN, STRING, Col, Graph
from pipeport.export.registry import Converter, register


def _learned(step: Any, variable: Any) -> list[Any]:
    """The values the encoder learned for `variable` (dict keys or a list), missing ones left
    out (a missing value is probed on its own)."""
    return [k for k in step.encoder_dict_[variable] if not is_missing(k)]


def _filler(step: Any) -> dict[Any, Any]:
    """A value each variable accepts, for the columns not under test."""
    out: dict[Any, Any] = {}
    for v in step.variables_:
        learned = _learned(step, v)
        out[v] = learned[0] if learned else "pipeport-filler"
    return out


def _one(step: Any, variable: Any, value: Any, filler: dict[Any, Any]) -> Any:
    """The encoder's output row for one value of `variable`, or None where it raises."""
    out = probe(step, {variable: [value]}, filler)
    return None if isinstance(out, Exception) else out


def _lookup(g: Graph, x: str, table: FeatureTable, text: bool) -> str:
    """[N, w] float64: the table's row for each value (known, missing, unseen)."""
    index = _row_index(g, x, table, text, list(range(len(table.keys) + 2)))
    flat = g.op("Squeeze", [index, g.const(np.array([1], np.int64), "axis1")], "row")
    return str(g.op("Gather", [g.const(table.rows, "encodings"), flat], "encoded", axis=0))


def _note(g: Graph, col: Col, keys: tuple[Any, ...], where: str, refuses: bool) -> None:
    """Record the learned values on the raw column (refusing others where the encoder raises or
    gives NaN), leaving out the values an earlier step wrote in (an imputer's "Missing"); a
    computed column has no raw values to name, so the gate alone judges it."""
    written = synthetic_keys(g, col)
    raw_keys = tuple(k for k in keys if k not in written)
    g.note_categories(col, raw_keys, where, refuses_unseen=refuses and col.raw is not None)


def _without(values: list[Any], text: Any, stands: bool) -> list[Any]:
    """`values` without the text a missing value stands for (it is looked up at NaN instead)."""
    if not stands:
        return values
    return [v for v in values if not _is_text(v, text)]


def _is_text(value: Any, text: Any) -> bool:
    return isinstance(value, str) and normalise_category(value) == normalise_category(text)


def convert_mapping_encoder(step: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    filler = _filler(step)
    for v in step.encoder_dict_:
        col = frame[v]
        stands, text = missing_stands_for(g, col)
        learned = _without(_learned(step, v), text, stands)
        dtype = key_type(g, col, learned, where, step)
        keys = graph_keys(learned, dtype == STRING, where, str(v))
        known = probe(step, {v: learned}, filler) if learned else None
        if isinstance(known, Exception):
            raise UnsupportedStepError(
                f"Step '{where}' ({type(step).__name__}) fails on the values it learned for "
                f"{v!r}: {known}"
            )
        missing = _one(step, v, text if stands else np.nan, filler)
        unseen = _one(step, v, unseen_value(learned), filler)
        table = FeatureTable(
            keys=keys,
            known=(
                numbers_of(known, v)[: len(learned)].reshape(-1, 1)
                if known is not None
                else np.zeros((0, 1))
            ),
            missing=None if missing is None else numbers_of(missing, v)[:1],
            unseen=None if unseen is None else numbers_of(unseen, v)[:1],
        )
        refuses = table.unseen is None or bool(np.isnan(table.unseen).any())
        _note(g, col, keys, where, refuses)
        frame.put([v], _lookup(g, read(g, col, dtype, where, step), table, dtype == STRING))
    return frame.result()


def convert_one_hot(step: OneHotEncoder, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    filler = _filler(step)
    dummies: list[Col] = []
    for v in step.variables_:
        col = frame[v]
        categories = _learned(step, v)
        names = [f"{v}_{c}" for c in step.encoder_dict_[v]]
        if not categories:
            continue
        known = probe(step, {v: categories}, filler)
        if isinstance(known, Exception) or not np.array_equal(
            np.column_stack([numbers_of(known, n) for n in names])[: len(categories)],
            np.eye(len(categories)),
        ):
            raise UnsupportedStepError(
                f"Step '{where}' (OneHotEncoder) does not encode the categories it learned for "
                f"{v!r} one per column; pipeport will not guess"
            )
        stands, text = missing_stands_for(g, col)
        looked_up = _without(categories, text, stands)
        dtype = key_type(g, col, looked_up, where, step)
        keys = graph_keys(looked_up, dtype == STRING, where, str(v))
        _note(g, col, keys, where, refuses=False)
        # a missing value is the column of the text it stands for, if that is a category
        at_missing = next((i for i, c in enumerate(categories) if stands and _is_text(c, text)), -1)
        positions = [i for i, c in enumerate(categories) if not (stands and _is_text(c, text))]
        table = FeatureTable(keys=keys, known=np.eye(len(keys)), missing=None, unseen=None)
        x = read(g, col, dtype, where, step)
        ids = _row_index(g, x, table, dtype == STRING, [*positions, at_missing, -1])
        columns = g.const(np.arange(len(categories), dtype=np.int64).reshape(1, -1), "positions")
        hot = g.op("Cast", [g.op("Equal", [ids, columns], "is_category")], to=DOUBLE)
        dummies.extend(g.block(hot, names))
    frame.drop(list(step.variables_))
    for dummy in dummies:
        frame[dummy.name] = dummy
    return frame.result()


def _rare_text(g: Graph, x: str, keys: tuple[Any, ...], replace_with: str) -> str:
    """Text in, text out: a frequent value stays, a missing one stays missing, others become
    `replace_with`."""
    return str(
        g.op(
            "LabelEncoder",
            [x],
            "grouped",
            domain=ML_DOMAIN,
            keys_strings=[*keys, ""],
            values_strings=[*keys, ""],
            default_string=replace_with,
        )
    )


def _rare_numbers(
    g: Graph, x: str, keys: tuple[Any, ...], replace_with: Any, nan_to: Any = None
) -> tuple[str, int]:
    """Numbers in: numbers out where every value out is a number, else text (numbers as the
    contract normalises them). A missing value stays missing, or becomes `nan_to`."""
    text = isinstance(replace_with, str) or isinstance(nan_to, str)
    if text:
        other = np.array([[normalise_category(replace_with)]], dtype=object)
        at_nan = np.array([["" if nan_to is None else normalise_category(nan_to)]], dtype=object)
    else:
        other = np.array([[float(replace_with)]])
        at_nan = np.array([[np.nan if nan_to is None else float(nan_to)]])
    if keys:
        keys_tensor = numpy_helper.from_array(np.asarray(keys, np.float64), "keys")
        values: dict[str, Any] = (
            {
                "values_strings": [normalise_category(k) for k in keys],
                "default_string": str(other[0, 0]),
            }
            if text
            else {
                "values_tensor": numpy_helper.from_array(np.asarray(keys, np.float64), "values"),
                "default_tensor": numpy_helper.from_array(other.reshape(1), "default"),
            }
        )
        mapped = g.op(
            "LabelEncoder", [x], "grouped", domain=ML_DOMAIN, keys_tensor=keys_tensor, **values
        )
    else:  # nothing is frequent: every value is replaced
        mapped = g.const(other, "replace_with")
    nan = g.op("IsNaN", [x], "is_na")
    return str(g.op("Where", [nan, g.const(at_nan, "at_nan"), mapped], "grouped")), (
        STRING if text else DOUBLE
    )


def convert_rare_label(step: RareLabelEncoder, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    replace_with = step.replace_with
    for v in step.variables_:
        col = frame[v]
        stands, text = missing_stands_for(g, col)
        learned = _learned(step, v)
        frequent = _without(learned, text, stands)
        dtype = key_type(g, col, frequent, where, step)
        if dtype == DOUBLE and isinstance(replace_with, str) and text_is_free(g, col):
            dtype = STRING  # numbers and text come out: read the raw column as text
        keys = graph_keys(frequent, dtype == STRING, where, str(v))
        x = read(g, col, dtype, where, step)
        if dtype == STRING:
            tensor, out_type = _rare_text(g, x, keys, normalise_category(replace_with)), STRING
        else:
            # where NaN stands for a text, that text is kept if frequent, else grouped
            nan_to = (text if len(frequent) < len(learned) else replace_with) if stands else None
            tensor, out_type = _rare_numbers(g, x, keys, replace_with, nan_to)
        # the output repeats the raw column except where it groups: downstream encoders' learned
        # values are then raw values, or replace_with, which the exporter confirms (see above)
        (out,) = g.block(tensor, [str(v)], out_type, raw=[col.raw if out_type == dtype else None])
        replaced = normalise_category(replace_with) if out_type == STRING else replace_with
        written = frozenset(k for k in synthetic_keys(g, col) if k in keys) | {replaced}
        mark_synthetic(
            g,
            out,
            written
            if out_type == STRING
            else frozenset(float(k) for k in written if not isinstance(k, str)),
        )
        frame[v] = out
    return frame.result()


def _check(step: Any) -> str | None:
    if not hasattr(step, "encoder_dict_"):
        return "it is not fitted"
    return None


_FAMILY = "feature-engine encoding"
_UNSEEN = (
    "unseen 'ignore' (NaN), 'raise' and 'encode'; missing_values 'raise' and 'ignore'; "
    "ignore_format; variables. Where it raises on an unseen or missing value (or the NaN it "
    "gives is refused later), every runtime refuses the row"
)

register(
    Converter(
        classes=(OrdinalEncoder, CountFrequencyEncoder, MeanEncoder, WoEEncoder),
        role="transformer",
        convert=convert_mapping_encoder,
        check=_check,
        family=_FAMILY,
        accepts=(
            "OrdinalEncoder encoding_method 'ordered' and 'arbitrary'; CountFrequencyEncoder "
            "'count' and 'frequency'; MeanEncoder smoothing (a number or 'auto'); WoEEncoder "
            "fill_value; " + _UNSEEN
        ),
        exactness=(
            "the fitted encoder transforms each learned value, a missing and an unseen value; "
            "the graph looks those float64 outputs up: feature-engine's own values"
        ),
    )
)
register(
    Converter(
        classes=(OneHotEncoder,),
        role="transformer",
        convert=convert_one_hot,
        check=_check,
        family=_FAMILY,
        accepts=(
            "top_categories, drop_last, drop_last_binary, ignore_format, variables; a missing "
            "value is refused in every runtime, as feature-engine raises; an unseen value is all "
            "zeros"
        ),
        exactness="<v>_<category> = (X[v] == category) as 1.0 / 0.0, v dropped, in "
        "feature-engine's column order (checked by probing the fitted encoder)",
    )
)
register(
    Converter(
        classes=(RareLabelEncoder,),
        role="transformer",
        convert=convert_rare_label,
        check=_check,
        family=_FAMILY,
        accepts=(
            "tol, n_categories, max_n_categories, replace_with (text or a number), "
            "missing_values 'raise' and 'ignore', ignore_format, variables"
        ),
        exactness="a frequent value stays, every other becomes replace_with (a LabelEncoder "
        "over the frequent values): exact",
    )
)
