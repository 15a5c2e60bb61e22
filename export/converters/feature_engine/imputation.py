"""feature-engine's imputers: MeanMedianImputer, ArbitraryNumberImputer, EndTailImputer,
CategoricalImputer and AddMissingIndicator (and DropMissingData, refused).

The first three are `X.fillna(imputer_dict_)`: a missing value of a variable becomes its learned
number exactly (`Where(IsNaN)` in float64), other values and columns are untouched, whatever the
method that learned the number (mean, median, arbitrary, Gaussian/IQR/max tails).
CategoricalImputer fills with `imputer_dict_` too ("missing": `fill_value`; "frequent": the mode):
in a text column the missing value (the contract's "") becomes the fill value's text; in a
column of numbers or booleans a numeric fill keeps it numeric. A text fill there ("Missing" with
`ignore_format=True`) leaves pandas a column of numbers and "Missing": the graph keeps the
numbers, and a missing value goes on as NaN standing for "Missing" (recorded with the column),
which the encoders after it look up as "Missing" and AddMissingIndicator does not count; a step
that needs numbers raises on "Missing" in feature-engine, and the contract refuses that value.
AddMissingIndicator appends `<variable>_na`: 1.0 where the value is missing, else 0.0.

A filled column still repeats its raw column wherever that was not missing, so encoders further
on can name the raw values they accept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from feature_engine.imputation import (
    AddMissingIndicator,
    ArbitraryNumberImputer,
    CategoricalImputer,
    DropMissingData,
    EndTailImputer,
    MeanMedianImputer,
)

from pipeport.contract import is_missing, normalise_category
from pipeport.export.converters.feature_engine._frame import (
    Frame,
    is_filled,
    is_number,
    mark_filled,
    mark_missing_as,
    mark_synthetic,
    missing_mask,
    missing_stands_for,
    read,
    synthetic_keys,
)
from pipeport.export.graph import DOUBLE, STRING, Col, Graph
from pipeport.export.registry import Converter, register


def convert_number_imputer(step: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    # a column where NaN stands for an imputer's text holds no missing value for pandas
    variables = [v for v in step.imputer_dict_ if not missing_stands_for(g, frame[v])[0]]
    if variables:
        x = frame.numbers(variables)
        fills = np.array([[float(step.imputer_dict_[v]) for v in variables]], np.float64)
        filled = g.op("Where", [missing_mask(g, x, DOUBLE), g.const(fills, "fill"), x], "imputed")
        frame.put(variables, filled, keep_lineage=True)
        mark_filled(g, [frame[v] for v, f in zip(variables, fills[0], strict=True) if f == f])
    return frame.result()


def _fill(g: Graph, col: Col, value: Any, where: str, step: Any) -> tuple[str, int, bool]:
    """The column with its missing values replaced by `value`, the type it is read as, and
    whether a missing value now stands for `value` (text in a column of numbers)."""
    if g.natural_type(col) == DOUBLE:
        x = read(g, col, DOUBLE, where, step)
        if is_number(value):
            fill = g.const(np.array([[float(value)]]), "fill")
            return (
                str(g.op("Where", [missing_mask(g, x, DOUBLE), fill, x], "imputed")),
                DOUBLE,
                False,
            )
        # numbers and text in pandas: the graph keeps the numbers, NaN standing for the text
        return str(g.op("Identity", [x], "imputed")), DOUBLE, True
    x = read(g, col, STRING, where, step)
    fill = g.const(np.array([[normalise_category(value)]], dtype=object), "fill")
    return str(g.op("Where", [missing_mask(g, x, STRING), fill, x], "imputed")), STRING, False


def convert_categorical_imputer(
    step: CategoricalImputer, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    frame = Frame(step, cols, g, where)
    for variable in step.variables_:
        value = step.imputer_dict_[variable]
        col = frame[variable]
        if is_missing(value) or is_filled(g, col):  # fillna changes nothing
            continue
        tensor, dtype, stands = _fill(g, col, value, where, step)
        (out,) = g.block(tensor, [str(variable)], dtype, raw=[col.raw], affine=[col.affine])
        if stands:
            mark_missing_as(g, out, value)
        if step.imputation_method == "missing":  # not a raw value (the mode is one)
            key = (
                float(value) if is_number(value) and dtype == DOUBLE else normalise_category(value)
            )
            mark_synthetic(g, out, synthetic_keys(g, col) | {key})
        mark_filled(g, [out])
        frame[variable] = out
    return frame.result()


def convert_add_missing_indicator(
    step: AddMissingIndicator, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    frame = Frame(step, cols, g, where)
    for variable in step.variables_:
        col = frame[variable]
        dtype = g.natural_type(col)
        flag = missing_mask(g, read(g, col, dtype, where, step), dtype)
        if missing_stands_for(g, col)[0]:  # NaN stands for an imputer's text: never missing
            flag = g.op("Xor", [flag, flag], "never_na")
        (indicator,) = g.block(g.op("Cast", [flag], "na_flag", to=DOUBLE), [f"{variable}_na"])
        frame[f"{variable}_na"] = indicator
    return frame.result()


def _refuse_drop_missing(step: Any) -> str:
    return (
        "it removes the rows with missing values in transform, and a predictor must answer every "
        "row it is given. Impute them instead (MeanMedianImputer, CategoricalImputer), or drop "
        "those rows from the training data before fitting"
    )


_FILLNA = (
    "X.fillna(imputer_dict_): a missing value becomes the learned number exactly (Where), other "
    "values are untouched"
)

register(
    Converter(
        classes=(MeanMedianImputer, ArbitraryNumberImputer, EndTailImputer),
        role="transformer",
        convert=convert_number_imputer,
        family="feature-engine imputation",
        accepts=(
            "MeanMedianImputer (mean, median), ArbitraryNumberImputer (arbitrary_number, "
            "imputer_dict), EndTailImputer (gaussian, iqr, max; tail right, left; fold); "
            "variables"
        ),
        exactness=_FILLNA,
    )
)
register(
    Converter(
        classes=(CategoricalImputer,),
        role="transformer",
        convert=convert_categorical_imputer,
        family="feature-engine imputation",
        accepts=(
            "imputation_method 'missing' (fill_value, text or a number) and 'frequent'; "
            "ignore_format (numbers and booleans; a text fill there: see the module); "
            "return_object; variables"
        ),
        exactness=(
            "X.fillna(imputer_dict_): a missing value (NaN, or '' in text) becomes the fill "
            "value, as the contract normalises it; other values are untouched"
        ),
    )
)
register(
    Converter(
        classes=(AddMissingIndicator,),
        role="transformer",
        convert=convert_add_missing_indicator,
        family="feature-engine imputation",
        accepts="missing_only (both ways), variables",
        exactness="<variable>_na appended: X[variables_].isna() as 1.0 / 0.0 (exact)",
    )
)
register(
    Converter(
        classes=(DropMissingData,),
        role="transformer",
        convert=convert_number_imputer,  # never called: check refuses every instance
        check=_refuse_drop_missing,
        family="feature-engine imputation",
        accepts="refused: it removes rows",
        exactness="",
    )
)
