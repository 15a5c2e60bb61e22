"""The model side of pipeport's dask engine, without dask: a model file read on the client
(`read_model`), the session each worker process builds from its bytes once and keeps
(`worker_model`), and the prediction columns (`output_columns`, `output_arrays`).

Split from pipeport.dask so that `pipeport predict --engine dask` and the workers' tasks do not
import dask.dataframe (about 0.7 s of the command's start, measured with `python -X importtime`);
pipeport.dask re-exports these names.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pipeport.schema import METADATA_KEY, ModelSchema
from pipeport.serving.model import LoadedModel, ModelLoadError, load_model, parse_metadata
from pipeport.serving.model import session_options as _session_options
from pipeport.serving.outputs import OutputFormatter

#: Sessions a worker process keeps (distinct model files scored on a long-lived cluster).
_CACHED_MODELS = 4


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
    probability_<class> per class, prediction, or an anomaly model's label (-1/1) and score."""
    return OutputFormatter(schema).csv_header()


def output_arrays(
    schema: ModelSchema, formatter: OutputFormatter, outputs: Sequence[Sequence[np.ndarray]]
) -> dict[str, np.ndarray]:
    """session.run results (one list per chunk) as one array per output column, named as
    `output_columns`. Non-finite values are NaN (missing), as the server's JSON has null."""
    names = formatter.csv_header()
    if schema.task == "anomaly":  # label (int64, -1 outlier / 1 inlier), then score
        labels = [np.asarray(chunk[0], np.int64).reshape(-1) for chunk in outputs]
        scores = [np.asarray(chunk[1], np.float64).reshape(-1) for chunk in outputs]
        return {
            "label": np.concatenate(labels) if labels else np.empty(0, np.int64),
            "score": _finite(np.concatenate(scores) if scores else np.empty(0)),
        }
    if schema.task == "regression":
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
