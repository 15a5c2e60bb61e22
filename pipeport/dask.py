"""Score a dask DataFrame with a pipeport ONNX file: `pipeport.dask.predict(ddf, "model.onnx")`.

For users who already have a pipeline of dask steps: it returns a dask DataFrame of predictions,
one partition per input partition (same index), built by the same raw-row contract as the server
(`pipeport.frame_to_feeds`). `pipeport predict --engine dask` uses the same worker side (one
session per worker process, the model's bytes shipped once) with its own readers
(pipeport/dask_batch.py).

The model's bytes travel to the cluster once: scattered to every worker when a distributed Client
is active, otherwise one key of the task graph. Each worker process builds one onnxruntime session
from them, cached by the file's sha256, and every partition it scores reuses it.

Not imported by `import pipeport` nor by the server: dask is the optional extra `pipeport[dask]`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import dask
    import dask.dataframe as dd
    import pandas as pd
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ModuleNotFoundError(
        f"pipeport.dask needs {exc.name}, which is not installed: pip install 'pipeport[dask]'",
        name=exc.name,
    ) from None
import numpy as np
import onnxruntime as ort

from pipeport.contract import frame_to_feeds
from pipeport.errors import RawInputError, RowError
from pipeport.schema import METADATA_KEY, ModelSchema
from pipeport.serving.model import LoadedModel, ModelLoadError, load_model, parse_metadata
from pipeport.serving.model import session_options as _session_options
from pipeport.serving.outputs import OutputFormatter

__all__ = ["ModelFile", "PartitionInputError", "output_columns", "predict", "read_model"]

#: Rows fed to one `session.run` inside a partition: bounds the feeds' memory, not the results.
DEFAULT_CHUNK_ROWS = 50_000
#: Sessions a worker process keeps (distinct model files scored on a long-lived cluster).
_CACHED_MODELS = 4


class PartitionInputError(RawInputError):
    """Raw rows of one partition break the raw-row contract. `errors` are `RowError`s whose
    `row` is the position in the partition; `partition` is the partition's number."""

    def __init__(self, errors: Sequence[RowError], partition: int | None) -> None:
        super().__init__(errors)
        self.partition = partition
        if partition is not None:
            self.args = (f"partition {partition}: {self.args[0]}",)

    def __reduce__(self) -> tuple[Any, ...]:  # raised on a worker, re-raised by the client
        return (type(self), (self.errors, self.partition))


@dataclass(frozen=True)
class ModelFile:
    """A pipeport ONNX file read on the client: its bytes, their sha256 and its schema."""

    data: bytes
    sha256: str
    schema: ModelSchema


def read_model(model: str | Path | bytes) -> ModelFile:
    """Read and check a model file (or its bytes) on the client, before anything is sent."""
    if isinstance(model, bytes):
        loaded = _model_from_bytes(model, hashlib.sha256(model).hexdigest(), threads=1)
        return ModelFile(model, loaded.sha256, loaded.schema)
    path = Path(model)
    loaded = load_model(path)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != loaded.sha256:
        raise ModelLoadError(f"{path} changed while it was being read; try again")
    return ModelFile(data, loaded.sha256, loaded.schema)


# -- the worker side ------------------------------------------------------------------------------

_MODELS: OrderedDict[tuple[str, int], tuple[LoadedModel, OutputFormatter]] = OrderedDict()
_MODELS_LOCK = threading.Lock()
#: How many sessions this process has built, per model sha256 (the tests read it on workers).
SESSIONS_BUILT: dict[str, int] = {}


def worker_model(data: bytes, sha256: str, threads: int) -> tuple[LoadedModel, OutputFormatter]:
    """The session for this model in this process: built on first use, then reused by every
    partition (and every thread of the worker: `session.run` is thread-safe)."""
    key = (sha256, threads)
    with _MODELS_LOCK:
        found = _MODELS.get(key)
        if found is None:
            loaded = _model_from_bytes(data, sha256, threads)
            found = (loaded, OutputFormatter(loaded.schema))
            _MODELS[key] = found
            SESSIONS_BUILT[sha256] = SESSIONS_BUILT.get(sha256, 0) + 1
            while len(_MODELS) > _CACHED_MODELS:
                _MODELS.popitem(last=False)
        else:
            _MODELS.move_to_end(key)
    return found


def _model_from_bytes(data: bytes, sha256: str, threads: int) -> LoadedModel:
    """`serving.model.load_model` for bytes already read (and checked) on the client."""
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ModelLoadError(f"model bytes do not match their sha256 {sha256}")
    source = f"model {sha256[:12]}"
    try:
        session = ort.InferenceSession(
            data, _session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises several types for a bad file
        raise ModelLoadError(f"{source} is not a valid ONNX model ({exc})") from None
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise ModelLoadError(f"{source} has no '{METADATA_KEY}' metadata: not a pipeport file")
    schema = parse_metadata(raw, session, source=source)
    return LoadedModel(
        path=Path(f"{sha256}.onnx"),
        sha256=sha256,
        size_bytes=len(data),
        session=session,
        schema=schema,
    )


def output_columns(schema: ModelSchema) -> list[str]:
    """The prediction columns, as `pipeport predict` names them: label and one
    probability_<class> per class, or prediction."""
    return OutputFormatter(schema).csv_header()


def output_arrays(
    schema: ModelSchema, formatter: OutputFormatter, outputs: Sequence[Sequence[np.ndarray]]
) -> dict[str, np.ndarray]:
    """session.run results (one list per chunk) as one array per output column, named as
    `output_columns`. Non-finite values are NaN (missing), as the server's JSON has null."""
    names = formatter.csv_header()
    if schema.task != "classification":
        values = [np.asarray(chunk[0], np.float64).reshape(-1) for chunk in outputs]
        return {names[0]: _finite(np.concatenate(values) if values else np.empty(0))}
    empty_label = np.empty(0, np.int64 if schema.label_is_int else object)
    labels = [np.asarray(chunk[0]).reshape(-1) for chunk in outputs]
    columns = {names[0]: np.concatenate(labels) if labels else empty_label}
    if not formatter.labels_only:
        chunks = [np.asarray(chunk[1], np.float64) for chunk in outputs]
        probabilities = np.concatenate(chunks) if chunks else np.empty((0, len(names) - 1))
        for j, name in enumerate(names[1:]):
            columns[name] = _finite(probabilities[:, j])
    return columns


def _finite(values: np.ndarray) -> np.ndarray:
    if np.isfinite(values).all():
        return values
    return np.where(np.isfinite(values), values, np.nan)


def predictions_frame(
    schema: ModelSchema, columns: dict[str, np.ndarray], kept: pd.DataFrame
) -> pd.DataFrame:
    """The pandas partition `predict` returns: the kept columns (with their index), then the
    predictions. String labels take pandas' string dtype ("str")."""
    frame = kept.copy()
    for name, values in columns.items():
        frame[name] = values
        if name == "label" and not schema.label_is_int:
            frame[name] = frame[name].astype("str")
    return frame


# -- the public function --------------------------------------------------------------------------


def predict(
    ddf: dd.DataFrame,
    model: str | Path | bytes,
    *,
    keep_columns: Iterable[str] = (),
    threads: int = 1,
    chunk_size: int = DEFAULT_CHUNK_ROWS,
    client: Any = None,
) -> dd.DataFrame:
    """Predictions for every row of `ddf` (raw columns, as `pipeport.frame_to_feeds` takes them).

    Returns a lazy dask DataFrame with the same partitions and index: `keep_columns` copied from
    `ddf` (ids, keys), then `label` and `probability_<class>` per class (classification) or
    `prediction` (regression). Non-finite outputs are NaN. `threads` is onnxruntime's intra-op
    threads per session (one per worker thread is right when workers run one thread per core).

    A row that breaks the raw-row contract makes computing the result raise
    `PartitionInputError` (a `pipeport.RawInputError`): the partition's number, and each
    problem's row (position in that partition), column and what is wrong. Columns the model
    needs but `ddf` lacks raise `RawInputError` here, before anything runs.
    """
    file = read_model(model)
    schema = file.schema
    keep = list(dict.fromkeys(keep_columns))
    outputs = output_columns(schema)
    problems = [
        RowError(None, name, "missing column")
        for name in schema.input_names
        if name not in ddf.columns
    ]
    for name in keep:
        if name not in ddf.columns:
            problems.append(RowError(None, name, "keep_columns names a column ddf does not have"))
        elif name in outputs:
            problems.append(RowError(None, name, "a kept column cannot share a prediction's name"))
    if problems:
        raise RawInputError(problems)
    needed = list(dict.fromkeys([*schema.input_names, *keep]))
    empty = output_arrays(schema, OutputFormatter(schema), [])
    meta = predictions_frame(schema, empty, ddf._meta[keep])
    return ddf[needed].map_partitions(
        _score_partition,
        ship_model(file, client),
        file.sha256,
        threads,
        chunk_size,
        tuple(keep),
        meta=meta,
        enforce_metadata=False,
    )


def ship_model(file: ModelFile, client: Any = None) -> Any:
    """A reference to the model's bytes that tasks take as an argument, so the bytes are not
    copied into every task: a Future held by every worker when a distributed Client is active
    (given, or the default one), else one key of the graph."""
    if client is None:
        try:
            from distributed import default_client

            client = default_client()
        except (ImportError, ValueError):
            client = None
    if client is not None:
        return client.scatter(file.data, broadcast=True, hash=True)
    return dask.delayed(file.data, name=f"pipeport-model-{file.sha256}", pure=True)


def _score_partition(
    frame: pd.DataFrame,
    data: bytes,
    sha256: str,
    threads: int,
    chunk_size: int,
    keep: tuple[str, ...],
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    model, formatter = worker_model(data, sha256, threads)
    schema = model.schema
    outputs: list[list[np.ndarray]] = []
    errors: list[RowError] = []
    for start in range(0, len(frame), chunk_size):
        chunk = frame.iloc[start : start + chunk_size]
        try:
            feeds = frame_to_feeds(chunk, schema, first_row=start)
        except RawInputError as exc:
            errors.extend(exc.errors)
            if any(error.row is None for error in exc.errors):
                break  # a problem with the columns: the same in every chunk
            continue
        if not errors:
            outputs.append(model.run(formatter.onnx_names, feeds))
    if errors:
        number = partition_info.get("number") if partition_info else None
        raise PartitionInputError(errors, number)
    return predictions_frame(schema, output_arrays(schema, formatter, outputs), frame[list(keep)])
