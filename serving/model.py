"""Load a pipeport ONNX file: bytes, sha256, one onnxruntime session and a typed schema.

Everything the server needs is read from the file alone (docs/onnx-contract.md), once, at load.
A file that is missing, corrupt or not ours raises `ModelLoadError` with a one-line message, so
`pipeport serve` can refuse to start without a traceback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

from pipeport.schema import (
    METADATA_KEY,
    ONNX_TYPE_OF_KIND,
    InputSpec,
    MetadataError,
    ModelSchema,
)


class ModelLoadError(Exception):
    """The model file cannot be served; the message is one line naming the file and the fix."""


@dataclass(frozen=True)
class LoadedModel:
    """A ready-to-run model: the session plus what was learnt about it at load."""

    path: Path
    sha256: str
    size_bytes: int
    session: ort.InferenceSession
    schema: ModelSchema
    _run: Callable[..., list[Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # onnxruntime's Python `run` first checks that every graph input is fed, by walking the
        # inputs' metadata through pybind on each call: ~13 µs of a ~80 µs single-row run. Feeds
        # built by serving.feeds always hold exactly the graph's inputs (load_model checks the
        # metadata against the graph), so the server calls the inner session directly; the
        # public method stays the fallback.
        inner = getattr(self.session, "_sess", None)
        run = getattr(inner, "run", None)
        if callable(run):
            object.__setattr__(self, "_run", lambda names, feeds: run(names, feeds, None))
        else:
            object.__setattr__(self, "_run", self.session.run)

    def run(self, output_names: list[str], feeds: dict[str, Any]) -> list[Any]:
        """`session.run(output_names, feeds)` for feeds built by serving.feeds."""
        return self._run(output_names, feeds)


def session_options(threads: int = 1) -> ort.SessionOptions:
    """One intra-op thread for serving: gunicorn runs one process per core, so threads would
    only contend. Offline scoring (`pipeport predict`) is one process and asks for more."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only; warnings about initializers are noise here
    return options


def load_model(path: str | Path, threads: int = 1) -> LoadedModel:
    """Read, hash and open `path`; parse and check its pipeport metadata."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise ModelLoadError(
            f"{path} is a directory; pass the .onnx file (e.g. {path}/pipeline.onnx)"
        ) from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file {path}: {exc.strerror}") from None
    try:
        session = ort.InferenceSession(
            data, session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises several types for a bad file
        reason = _first_line(str(exc))
        raise ModelLoadError(f"{path} is not a valid ONNX model ({reason})") from None
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise ModelLoadError(
            f"{path} has no '{METADATA_KEY}' metadata: it was not written by `pipeport export`"
        )
    schema = parse_metadata(raw, session, source=str(path))
    return LoadedModel(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        session=session,
        schema=schema,
    )


def parse_metadata(raw: str, session: ort.InferenceSession, source: str) -> ModelSchema:
    """Turn the metadata JSON into a `ModelSchema`, checking it against the session's graph."""
    try:
        schema = ModelSchema.from_metadata(raw, source)
    except MetadataError as exc:
        raise ModelLoadError(str(exc)) from None
    _check_against_session(schema.inputs, schema.outputs, session, source)
    return schema


def _check_against_session(
    inputs: tuple[InputSpec, ...],
    outputs: dict[str, str],
    session: ort.InferenceSession,
    source: str,
) -> None:
    """Refuse a file whose metadata and graph disagree: better at start than on a request."""
    graph_inputs = {node.name: node.type for node in session.get_inputs()}
    for spec in inputs:
        actual = graph_inputs.get(spec.onnx_name)
        if actual is None:
            raise ModelLoadError(
                f"{source}: metadata input {spec.name!r} names ONNX input "
                f"{spec.onnx_name!r}, which the graph does not have"
            )
        if actual != ONNX_TYPE_OF_KIND[spec.kind]:
            raise ModelLoadError(
                f"{source}: input {spec.name!r} is {spec.kind} but the graph takes {actual}"
            )
    described = {spec.onnx_name for spec in inputs}
    undescribed = sorted(set(graph_inputs) - described)
    if undescribed:
        raise ModelLoadError(f"{source}: graph inputs {undescribed} are not in the metadata")
    graph_outputs = {node.name for node in session.get_outputs()}
    for key, onnx_name in outputs.items():
        if onnx_name not in graph_outputs:
            raise ModelLoadError(
                f"{source}: metadata output {key!r} names {onnx_name!r}, "
                "which the graph does not produce"
            )


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line[:300]
