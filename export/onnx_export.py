"""Whole fitted pipeline -> one ONNX graph, checked against scikit-learn before it is returned.

The graph takes one float64 [N,1] tensor per numeric raw column and one string [N,1] tensor per
categorical raw column, and returns `label` + `probabilities` (classification) or `prediction`
(regression). Everything a consumer needs is in metadata_props["pipeport"]
(docs/onnx-contract.md). The same pipeline, data and package versions give byte-identical files.
"""

from __future__ import annotations

import json
import math
import re
from importlib import metadata as importlib_metadata
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

from pipeport.export.converters import register_converters
from pipeport.export.converters._graph import ML_DOMAIN, ML_OPSET, SKL2ONNX_ML_OPSET
from pipeport.export.errors import ParityError
from pipeport.export.parity import (
    ParityReport,
    compare,
    frame_to_feeds,
    generate_raw_rows,
    onnx_outputs,
    sklearn_outputs,
)
from pipeport.export.schema import CATEGORICAL, PipelineSchema, pipeline_schema

#: Opsets onnxruntime 1.30 runs in Python, Node.js and WASM alike.
TARGET_OPSET = {"": 21, ML_DOMAIN: ML_OPSET}
_CONVERSION_OPSET = {"": 21, ML_DOMAIN: SKL2ONNX_ML_OPSET}
IR_VERSION = 10
METADATA_KEY = "pipeport"
FORMAT_VERSION = 1
GENERATED_ROWS = 10_000
_PACKAGES = (
    "scikit-learn",
    "skl2onnx",
    "onnx",
    "onnxruntime",
    "numpy",
    "pandas",
    "scipy",
    "protobuf",
)


def package_versions() -> dict[str, str]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def _graph_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "pipeline"


def _rename(model: onnx.ModelProto, old: str, new: str) -> None:
    if old == new:
        return
    graph = model.graph
    for n in graph.node:
        n.input[:] = [new if i == old else i for i in n.input]
        n.output[:] = [new if o == old else o for o in n.output]
    for value in graph.output:
        if value.name == old:
            value.name = new


def _reset_skl2onnx_counters() -> None:
    """skl2onnx names some values from process-global counters (the KNN converter's Scan
    subgraph: "cdistd_<n>", "UU<n>UU"), so a second conversion in one process would name them
    differently. Reset them so the file does not depend on what was converted before."""
    from skl2onnx.common import _topology, utils

    utils._unique_index["subgraph"] = 0
    _topology.Variable._UNIQUE_NUMBER_ = 0


def _convert(pipeline: Any, schema: PipelineSchema, name: str) -> onnx.ModelProto:
    register_converters()
    _reset_skl2onnx_counters()
    initial_types = [
        (
            raw.name,
            StringTensorType([None, 1]) if raw.kind == CATEGORICAL else DoubleTensorType([None, 1]),
        )
        for raw in schema.inputs
    ]
    model = pipeline.steps[-1][1]
    options = {id(model): {"zipmap": False}} if schema.task == "classification" else None
    onx = convert_sklearn(
        pipeline,
        name=_graph_name(name),
        initial_types=initial_types,
        options=options,
        target_opset=dict(_CONVERSION_OPSET),
    )
    outputs = [o.name for o in onx.graph.output]
    wanted = ["label", "probabilities"] if schema.task == "classification" else ["prediction"]
    if len(outputs) != len(wanted):
        raise RuntimeError(f"unexpected graph outputs {outputs}, wanted {wanted}")
    for old, new in zip(outputs, wanted, strict=True):
        _rename(onx, old, new)
    return onx


def _normalise(onx: onnx.ModelProto, name: str, version: str) -> None:
    """Make the file byte-for-byte reproducible: fixed names, sorted opsets, no timestamps."""
    onx.ir_version = IR_VERSION
    onx.graph.name = _graph_name(name)
    onx.producer_name = "pipeport"
    onx.producer_version = version
    onx.domain = "pipeport"
    onx.model_version = 0
    onx.doc_string = ""
    unknown = [o.domain for o in onx.opset_import if o.domain not in TARGET_OPSET]
    if unknown:
        raise RuntimeError(f"graph uses unexpected operator domains {unknown}")
    opsets = sorted((o.domain, TARGET_OPSET[o.domain]) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, ver in opsets:
        onx.opset_import.append(onnx.helper.make_opsetid(domain, ver))


def build_metadata(
    schema: PipelineSchema,
    onnx_names: list[str],
    name: str,
    version: str,
    parity: ParityReport,
    forced: bool,
    training: dict[str, Any] | None,
    packages: dict[str, Any],
) -> dict[str, Any]:
    inputs = []
    for raw, onnx_name in zip(schema.inputs, onnx_names, strict=True):
        entry: dict[str, Any] = {
            "name": raw.name,
            "onnx_name": onnx_name,
            "kind": raw.kind,
            "onnx_type": "tensor(string)" if raw.kind == CATEGORICAL else "tensor(double)",
            "missing_allowed": True,
            "missing_value": "" if raw.kind == CATEGORICAL else "NaN",
        }
        if raw.kind == CATEGORICAL:
            entry["categories"] = list(raw.categories)
        else:
            entry["min"], entry["max"] = raw.min, raw.max
        inputs.append(entry)
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        "task": schema.task,
        "estimator": schema.estimator,
        "inputs": inputs,
    }
    if schema.task == "classification":
        label_type = (
            "tensor(int64)" if all(isinstance(c, int) for c in schema.classes) else "tensor(string)"
        )
        meta["outputs"] = {
            "label": {"onnx_name": "label", "onnx_type": label_type},
            "probabilities": {"onnx_name": "probabilities", "onnx_type": "tensor(double)"},
        }
        meta["classes"] = [c if isinstance(c, int) else str(c) for c in schema.classes]
    else:
        meta["outputs"] = {"prediction": {"onnx_name": "prediction", "onnx_type": "tensor(double)"}}
    meta["training"] = training or {}
    meta["packages"] = packages
    # JSON has no Infinity/NaN (a graph that outputs NaN gives an infinite error): record null.
    meta["parity"] = {
        k: None if isinstance(v, float) and not math.isfinite(v) else v
        for k, v in {**parity.summary(), "forced": forced}.items()
    }
    return meta


def check_parity(
    pipeline: Any,
    onx: onnx.ModelProto,
    schema: PipelineSchema,
    frame: pd.DataFrame,
    chunk: int = 2_000,
) -> ParityReport:
    """Run scikit-learn and onnxruntime on `frame` and compare (in chunks, to bound memory)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    pairs = list(zip(schema.inputs, [i.name for i in session.get_inputs()], strict=True))
    expected: dict[str, list[np.ndarray]] = {}
    actual: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(frame), chunk):
        part = frame.iloc[start : start + chunk]
        for key, value in sklearn_outputs(pipeline, part, schema.task).items():
            expected.setdefault(key, []).append(np.asarray(value))
        for key, value in onnx_outputs(session, frame_to_feeds(part, pairs), schema.task).items():
            actual.setdefault(key, []).append(np.asarray(value))
    return compare(
        schema.task,
        {k: np.concatenate(v) for k, v in expected.items()},
        {k: np.concatenate(v) for k, v in actual.items()},
        frame.reset_index(drop=True),
    )


def to_onnx(
    pipeline: Any,
    sample_raw_dataframe: pd.DataFrame,
    name: str,
    version: str = "1",
    *,
    generated_rows: int = GENERATED_ROWS,
    seed: int = 0,
    force: bool = False,
    training: dict[str, Any] | None = None,
    schema: PipelineSchema | None = None,
) -> onnx.ModelProto:
    """Convert a fitted pipeline and prove it: the returned graph agrees with scikit-learn on the
    sample rows and on `generated_rows` generated raw rows, or ParityError is raised (unless
    `force`, which records the failure in the metadata instead)."""
    schema = schema or pipeline_schema(pipeline, sample_raw_dataframe)
    onx = _convert(pipeline, schema, name)
    _normalise(onx, name, version)
    onnx_names = [i.name for i in onx.graph.input]
    if len(onnx_names) != len(schema.inputs):
        raise RuntimeError(f"graph has {len(onnx_names)} inputs, pipeline {len(schema.inputs)}")
    columns = [raw.name for raw in schema.inputs]
    frame = pd.concat(
        [
            sample_raw_dataframe[columns].reset_index(drop=True),
            generate_raw_rows(schema, sample_raw_dataframe, generated_rows, seed),
        ],
        ignore_index=True,
    )
    report = check_parity(pipeline, onx, schema, frame)
    meta = build_metadata(
        schema,
        onnx_names,
        name,
        version,
        report,
        force and not report.passed,
        training,
        package_versions(),
    )
    del onx.metadata_props[:]
    entry = onx.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(meta, sort_keys=True, ensure_ascii=False, allow_nan=False, default=str)
    onnx.checker.check_model(onx, full_check=True)
    if not report.passed and not force:
        raise ParityError(report.table(), report)
    return onx


def read_metadata(onx: onnx.ModelProto) -> dict[str, Any]:
    for entry in onx.metadata_props:
        if entry.key == METADATA_KEY:
            return dict(json.loads(entry.value))
    raise KeyError(f"no '{METADATA_KEY}' metadata in this ONNX model")
