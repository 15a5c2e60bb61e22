"""The raw columns a fitted pipeline reads, what they held in training, and frames built like them.

A pipeline fitted on a DataFrame names its columns (`feature_names_in_`); one fitted on an array
takes them by position, named after the sample frame's columns or x0, x1, ... What a column held
(numbers, booleans or text) is read from the sample's dtype, or from its values when the dtype is
object or category; it decides the column's natural type in the graph (float64 for numbers and
booleans, string for text) and which JSON values the contract accepts for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipeport.contract import is_missing
from pipeport.errors import UnsupportedStepError
from pipeport.export.graph import DOUBLE, STRING, RawColumn, onnx_input_names


def feature_names(pipeline: Any, sample: Any) -> tuple[list[str], bool]:
    """The raw column names, in the pipeline's order, and whether it was fitted on a DataFrame."""
    names = getattr(pipeline, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names], True
    n = getattr(pipeline, "n_features_in_", None)
    if n is None:
        if not _is_fitted(pipeline):
            raise UnsupportedStepError(
                f"{type(pipeline).__name__} is not fitted (it has no n_features_in_); fit it first"
            )
        # Fitted, but its first step (a class of the user's own, say) does not record what it
        # was fitted on: it is given the sample's columns as they are, and the converter lookup
        # names that step if pipeport cannot export it.
        if isinstance(sample, pd.DataFrame):
            return [str(c) for c in sample.columns], True
        return [f"x{i}" for i in range(np.shape(sample)[1])], False
    if isinstance(sample, pd.DataFrame) and sample.shape[1] == n:
        return [str(c) for c in sample.columns], False
    return [f"x{i}" for i in range(n)], False


def as_raw_frame(pipeline: Any, sample: Any) -> tuple[pd.DataFrame, list[str], bool]:
    """The sample as a DataFrame holding (at least) the pipeline's raw columns."""
    names, by_name = feature_names(pipeline, sample)
    if isinstance(sample, pd.DataFrame):
        frame = sample.copy()
        frame.columns = [str(c) for c in frame.columns]
        if not by_name and list(frame.columns) != names:
            frame.columns = names
    else:
        array = np.asarray(sample, dtype=object if _mixed(sample) else None)
        if array.ndim != 2 or array.shape[1] != len(names):
            raise ValueError(
                f"the sample has shape {array.shape}; the pipeline takes {len(names)} columns"
            )
        frame = pd.DataFrame(array, columns=names).infer_objects()
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(
            f"the sample lacks the pipeline's column(s) {', '.join(map(repr, missing))}"
        )
    if len(frame) == 0:
        raise ValueError("the sample has no rows; pass some raw rows the pipeline was trained on")
    return _canonical_missing(frame[names]), names, by_name


def _mixed(sample: Any) -> bool:
    try:
        np.asarray(sample, dtype=np.float64)
        return False
    except (TypeError, ValueError):
        return True


def _canonical_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """None in an object column becomes NaN: a missing raw value is NaN, as read_csv makes it
    (scikit-learn's imputers and encoders treat None and NaN differently)."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if column.dtype == object and column.map(lambda v: v is None).any():
            out[name] = column.map(lambda v: np.nan if v is None else v)
    return out


def value_type(column: pd.Series) -> str:
    """ "numbers", "booleans" or "text": what the training column held."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return value_type(pd.Series(np.asarray(dtype.categories, dtype=object), dtype=object))
    kind = getattr(dtype, "kind", "O")
    if kind == "b" or str(dtype) == "boolean":
        return "booleans"
    if kind in "iuf":
        return "numbers"
    if kind in "mM":
        return "datetimes"
    values = [v for v in column.tolist() if not is_missing(v)]
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return "booleans"
    if values and all(
        isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))
        for v in values
    ):
        return "numbers"
    return "text"


def raw_columns(frame: pd.DataFrame, names: Sequence[str]) -> list[RawColumn]:
    onnx_names = onnx_input_names(names)
    out = []
    for name, onnx_name in zip(names, onnx_names, strict=True):
        values = value_type(frame[name])
        natural = STRING if values in ("text", "datetimes") else DOUBLE
        out.append(
            RawColumn(
                name=name,
                onnx_name=onnx_name,
                natural=natural,
                values=values,
                dtype=str(frame[name].dtype),
            )
        )
    return out


def numeric_range(column: pd.Series) -> tuple[float | None, float | None]:
    if value_type(column) == "text":
        return None, None
    numbers = pd.to_numeric(column.astype(object), errors="coerce").dropna()
    finite = numbers[np.isfinite(numbers.astype(float))]
    if not len(finite):
        return None, None
    return float(finite.min()), float(finite.max())


def like(values: Sequence[Any], original: pd.Series) -> pd.Series:
    """`values` as a column of the kind pandas.read_csv would make of them for a file whose
    column was `original`: integers with a missing value become float64, booleans with one
    object, text keeps its dtype, a category column keeps its categories (plus any new value)."""
    dtype = original.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        present = [v for v in values if not is_missing(v)]
        categories = list(dtype.categories)
        extra = [v for v in dict.fromkeys(present) if v not in set(categories)]
        try:
            return pd.Series(pd.Categorical(values, categories=categories + extra))
        except (TypeError, ValueError):
            return pd.Series(list(values), dtype=object)
    kind = getattr(dtype, "kind", "O")
    if kind in "iuf":
        try:
            series = pd.Series(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError):
            return pd.Series(list(values), dtype=object)
        if kind in "iu" and not series.isna().any() and (series == series.round()).all():
            return series.astype(dtype)
        return series
    if kind == "b":
        if any(is_missing(v) for v in values):
            return pd.Series(list(values), dtype=object)
        try:
            return pd.Series(np.asarray(values, dtype=bool))
        except (TypeError, ValueError):
            return pd.Series(list(values), dtype=object)
    if dtype is np.dtype(object):
        return pd.Series(list(values), dtype=object)
    try:
        return pd.Series(list(values), dtype=dtype)
    except (TypeError, ValueError):
        return pd.Series(list(values), dtype=object)


def concat_like(frames: Sequence[pd.DataFrame], sample: pd.DataFrame) -> pd.DataFrame:
    """pd.concat of frames built like `sample`, typed as `retype_like` says (pd.concat makes
    object of two category columns whose categories differ)."""
    return retype_like(pd.concat(list(frames), ignore_index=True), sample)


def retype_like(frame: pd.DataFrame, sample: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each column whose dtype differs from the sample's typed as pandas.read_csv
    would type its values in a file like the sample's (`like`): a category column stays a
    category column, a bool column is bool again once the rows with a missing value are gone.
    A model that reads the DataFrame itself (LightGBM, XGBoost) refuses object columns."""
    out = frame.copy()
    for name in out.columns:
        if name in sample.columns and out[name].dtype != sample[name].dtype:
            out[name] = like(out[name].tolist(), sample[name]).set_axis(out.index)
    return out


def _is_fitted(estimator: Any) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    except TypeError:  # not an estimator: nothing to tell
        return True
    return True
