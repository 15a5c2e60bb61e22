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

from collections.abc import Iterable, Sequence
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

from pipeport.contract import frame_to_feeds
from pipeport.dask_model import (
    SESSIONS_BUILT,  # noqa: F401  (re-exported: how many sessions a worker built, per model)
    ModelFile,
    output_arrays,
    output_columns,
    read_model,
    worker_model,
)
from pipeport.errors import RawInputError, RowError
from pipeport.schema import ModelSchema
from pipeport.serving.outputs import OutputFormatter

__all__ = ["ModelFile", "PartitionInputError", "output_columns", "predict", "read_model"]

#: Rows fed to one `session.run` inside a partition: bounds the feeds' memory, not the results.
DEFAULT_CHUNK_ROWS = 50_000


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
    `ddf` (ids, keys), then `label` and `probability_<class>` per class (classification),
    `prediction` (regression), or `label` (int64: -1 outlier, 1 inlier) and `score`
    (scikit-learn's score_samples) for an anomaly model. Non-finite outputs are NaN. `threads`
    is onnxruntime's intra-op threads per session (one per worker thread is right when workers
    run one thread per core).

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
