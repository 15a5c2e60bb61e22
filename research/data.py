"""Reading and validating the raw training data.

The DataFrame returned is the raw data as `pandas.read_csv` (or `read_parquet`) gives it: no
column is converted here, because the saved pipeline must accept exactly that at predict time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeport.research.config import DATA_SUFFIXES, TrainConfig
from pipeport.research.errors import DataError


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_raw(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file as raw as pandas reads it."""
    kind = DATA_SUFFIXES.get(path.suffix.lower())
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


def is_numeric_like(series: pd.Series) -> bool:
    """True for float, int and bool columns, and object columns of bools and missing values."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return True
    values = series.dropna()
    return bool(len(values)) and all(isinstance(v, (bool, np.bool_)) for v in values)


def first_non_numeric(series: pd.Series) -> tuple[int, Any] | None:
    """(position, value) of the first value that is not a number, None when all are."""
    for pos, value in enumerate(series.tolist()):
        if value is None or isinstance(value, (bool, np.bool_, int, float, np.number)):
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            return pos, value
    return None


@dataclass(frozen=True)
class RawData:
    frame: pd.DataFrame  # feature columns and target, rows with a missing target dropped
    sha256: str
    rows_read: int
    rows_missing_target: int
    source_rows: np.ndarray  # position in the file of each row of `frame`


def load_training_data(config: TrainConfig) -> RawData:
    """Read the configured file, check its hash and schema, drop rows with no target."""
    path = config.data.path
    if not path.exists():
        raise DataError(f"data file not found: {path} (from [data] path in {config.source})")
    digest = file_sha256(path)
    if config.data.sha256 is not None and digest != config.data.sha256:
        raise DataError(
            f"sha256 of {path} does not match the pin in {config.source.name}: "
            f"expected {config.data.sha256}, actual {digest}. The data changed since the config "
            "was written; update the pin only if that is intended."
        )
    frame = read_raw(path)
    frame = validate_frame(frame, config)
    rows_read = len(frame)
    target = frame[config.data.target]
    missing_target = target.isna()
    features = config.feature_columns(list(frame.columns))
    frame = frame.loc[~missing_target, [*features, config.data.target]]
    source_rows = np.flatnonzero(~missing_target.to_numpy())
    frame = frame.reset_index(drop=True)
    if len(frame) < 2:
        raise DataError(
            f"only {len(frame)} row(s) with a target value in {path}: nothing to train on"
        )
    return RawData(frame, digest, rows_read, int(missing_target.sum()), source_rows)


def validate_frame(frame: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """Check that the configured columns exist and numeric columns hold numbers."""
    listed = [*config.features.include, *config.features.exclude] if config.steps else []
    wanted = [*config.features.all, *listed, config.data.target]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        available = ", ".join(repr(c) for c in frame.columns)
        raise DataError(
            f"column(s) not in {config.data.path.name}: {', '.join(repr(c) for c in missing)}. "
            f"Columns in the file: {available}"
        )
    for column in config.features.numeric:
        series = frame[column]
        if is_numeric_like(series):
            continue
        bad = first_non_numeric(series)
        if bad is None:
            continue
        pos, value = bad
        raise DataError(
            f"column {column!r} is declared numeric but holds text: first bad value {value!r} "
            f"at row {pos} (line {pos + 2} of the file). Declare it categorical, or clean the data."
        )
    if config.model.task == "regression":
        target = frame[config.data.target]
        if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
            raise DataError(
                f"regression target {config.data.target!r} must be numeric; it has dtype "
                f'{target.dtype}. Use task = "classification" for labels.'
            )
    return frame


def classification_target(target: pd.Series) -> np.ndarray:
    """Class labels as integers (integer-valued targets) or strings (everything else).

    ONNX labels are int64 or string tensors, so booleans become "True"/"False" and integer
    values read as float (because of missing values elsewhere) become ints.
    """
    if pd.api.types.is_bool_dtype(target):
        return target.map({True: "True", False: "False"}).to_numpy(dtype=object)
    if pd.api.types.is_integer_dtype(target):
        return target.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(target):
        values = target.to_numpy(dtype=np.float64)
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return values.astype(np.int64)
    from pipeport.research.steps import normalise_category

    return np.array([normalise_category(v) for v in target.tolist()], dtype=object)


def write_source_rows(path: Path, rows: np.ndarray, columns: list[str], out: Path) -> None:
    """Write rows of the data file to a CSV with their values exactly as in the file.

    For a CSV source the fields are copied as text (no float round trip: "181" stays "181" even in
    a column with gaps, which pandas would write back as "181.0"); Parquet rows are written from
    their typed values.
    """
    if DATA_SUFFIXES.get(path.suffix.lower()) == "csv":
        text = pd.read_csv(path, dtype=str, keep_default_na=False)
        text.iloc[rows][columns].to_csv(out, index=False)
    else:
        read_raw(path).iloc[rows][columns].to_csv(out, index=False)
