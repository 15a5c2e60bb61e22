"""A fitted pipeline -> one ONNX graph, proven equal to scikit-learn before it is returned.

    to_onnx(pipeline, sample_raw_dataframe, name)  ->  onnx.ModelProto  (or ParityError)

1. The raw columns: the pipeline's own (`feature_names_in_`), what each held in training.
2. The graph: export.structure walks the pipeline (Pipeline, ColumnTransformer, FeatureUnion)
   and each step's converter (export/converters/) adds its part; raw columns become inputs as
   the steps read them (float64 [N,1] numbers, string [N,1] text).
3. The contract: which values scikit-learn refuses per column (export.probe), written into the
   metadata with the inputs, outputs and classes (pipeport.schema.ModelSchema).
4. The gate: scikit-learn and onnxruntime on the sample rows and on generated raw rows (missing
   values, unseen categories, far-out numbers, within what the contract accepts), fed through
   the contract module exactly as the server feeds a request; labels equal, probabilities within
   1e-6, regression within 1e-6 relative, or ParityError (unless `force`).

The same pipeline, sample and package versions give a byte-identical file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from onnx import TensorProto, helper
from sklearn.base import is_outlier_detector

from pipeport.contract import frame_to_feeds
from pipeport.errors import ParityError, UnsupportedStepError
from pipeport.export.converters._outputs import class_values, classes_are_integers
from pipeport.export.graph import DOUBLE, STRING, Graph, RawColumn
from pipeport.export.parity import (
    ParityReport,
    compare,
    generate_raw_rows,
    sklearn_outputs,
)
from pipeport.export.probe import ColumnRules, column_rules, refused_by_sklearn
from pipeport.export.raw_inputs import as_raw_frame, concat_like, numeric_range, raw_columns
from pipeport.export.structure import convert_predictor, final_estimator
from pipeport.schema import (
    ANOMALY_CLASSES,
    CATEGORICAL,
    METADATA_KEY,
    NUMERIC,
    InputSpec,
    ModelSchema,
)

IR_VERSION = 10
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


class Conversion:
    """The graph of a fitted pipeline and what was learned building it (no gate, no metadata):
    its raw columns, the columns the model receives (with their lineage) and its outputs."""

    def __init__(self, pipeline: Any, sample: Any, name: str = "pipeline") -> None:
        self.pipeline = pipeline
        self.frame, self.names, self.by_name = as_raw_frame(pipeline, sample)
        self.columns: list[RawColumn] = raw_columns(self.frame, self.names)
        self.graph = Graph(self.columns)
        model = final_estimator(pipeline)
        self.task = (
            "anomaly"
            if is_outlier_detector(model)
            else "classification"
            if hasattr(model, "classes_")
            else "regression"
        )
        self.estimator = type(model).__name__
        self.classes = list(model.classes_) if self.task == "classification" else []
        self.outputs = convert_predictor(pipeline, self.graph.raw_cols(), self.graph, "")
        #: An outlier detector's offset_: decision_function = score - offset (the metadata's).
        self.offset: float | None = None
        if self.task == "anomaly":  # (a detector with a converter: IsolationForest)
            self.classes = list(ANOMALY_CLASSES)
            self.offset = float(model.offset_)
        if self.task == "regression":
            self.output_keys: tuple[str, ...] = ("prediction",)
        elif self.task == "anomaly":
            self.output_keys = ("label", "score")
        elif "probabilities" in self.outputs:
            self.output_keys = ("label", "probabilities")
        else:  # a classifier without predict_proba (LinearSVC, a hard vote): labels only
            self.output_keys = ("label",)
        self.used = [c for c in self.columns if c.chosen is not None]
        self.unused = [c.name for c in self.columns if c.chosen is None]
        self.model = self._model(name)

    def _model(self, name: str) -> onnx.ModelProto:
        g = self.graph
        for key in self.output_keys:
            g.rename_output(self.outputs[key], key)
        inputs = [
            helper.make_tensor_value_info(c.onnx_name, c.chosen or DOUBLE, [None, 1])
            for c in self.used
        ]
        if self.task == "anomaly":
            outputs = [
                helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
                helper.make_tensor_value_info("score", DOUBLE, [None, 1]),
            ]
        elif self.task == "classification":
            label_type = TensorProto.INT64 if classes_are_integers(self.classes) else STRING
            outputs = [helper.make_tensor_value_info("label", label_type, [None])]
            if "probabilities" in self.output_keys:
                outputs.append(
                    helper.make_tensor_value_info(
                        "probabilities", DOUBLE, [None, len(self.classes)]
                    )
                )
        else:
            outputs = [helper.make_tensor_value_info("prediction", DOUBLE, [None, 1])]
        model = g.build(_graph_name(name), inputs, outputs)
        model.ir_version = IR_VERSION
        model.producer_name = "pipeport"
        model.domain = "pipeport"
        model.model_version = 0
        return model


def _graph_name(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "pipeline"


#: A numeric column's (min, max): the values its training rows held.
Ranges = Mapping[str, tuple[float | None, float | None]]


def contract_schema(
    conversion: Conversion,
    rules: dict[str, ColumnRules],
    name: str,
    version: str,
    ranges: Ranges | None = None,
) -> ModelSchema:
    """The file's schema. A numeric input's min/max are `ranges[column]` where given (the
    training rows': what drift monitoring compares requests with), else the sample's."""
    inputs = []
    for column in conversion.used:
        rule = rules[column.name]
        kind = CATEGORICAL if column.chosen == STRING else NUMERIC
        low, high = None, None
        if kind == NUMERIC:
            if ranges is not None and column.name in ranges:
                low, high = _checked_range(column.name, ranges[column.name])
            else:
                low, high = numeric_range(conversion.frame[column.name])
        inputs.append(
            InputSpec(
                name=column.name,
                onnx_name=column.onnx_name,
                kind=kind,
                values=column.values,
                dtype=column.dtype,
                missing_allowed=rule.missing_allowed,
                categories=rule.accepted if rule.unknown == "error" else rule.categories,
                unknown_categories=rule.unknown,
                min=low,
                max=high,
                valid_range=rule.valid_range,
                valid_range_reason=rule.valid_range_reason,
            )
        )
    outputs = {key: key for key in conversion.output_keys}
    return ModelSchema(
        name=name,
        version=version,
        task=conversion.task,  # type: ignore[arg-type]
        inputs=tuple(inputs),
        outputs=outputs,
        classes=tuple(class_values(conversion.classes)),
        label_is_int=classes_are_integers(conversion.classes),
        unused_columns=tuple(conversion.unused),
        offset=conversion.offset,
    )


def _checked_range(column: str, bounds: Any) -> tuple[float | None, float | None]:
    try:
        low, high = bounds
        low = None if low is None else float(low)
        high = None if high is None else float(high)
    except (TypeError, ValueError):
        raise ValueError(f"ranges[{column!r}] must be (min, max) numbers, got {bounds!r}") from None
    if low is not None and high is not None and not low <= high:
        raise ValueError(f"ranges[{column!r}]: min {low!r} is above max {high!r}")
    return low, high


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def compare_with_sklearn(
    pipeline: Any,
    model: onnx.ModelProto,
    frame: pd.DataFrame,
    schema: ModelSchema | None = None,
    chunk: int = 2_000,
) -> ParityReport:
    """scikit-learn and onnxruntime on the raw rows of `frame`, compared (in chunks, to bound
    memory). The graph is fed by the contract module, as the server feeds a request."""
    schema = schema or ModelSchema.from_metadata(read_metadata(model))
    by_name = getattr(pipeline, "feature_names_in_", None) is not None
    sess = session(model)
    names = [schema.outputs[k] for k in schema.output_keys()]
    expected: dict[str, list[np.ndarray]] = {}
    actual: dict[str, list[np.ndarray]] = {}
    kept: list[pd.DataFrame] = []
    refused: list[tuple[int, str]] = []
    for start in range(0, len(frame), chunk):
        part = frame.iloc[start : start + chunk].reset_index(drop=True)
        bad = refused_by_sklearn(pipeline, part, schema.task, by_name)
        if bad:
            refused.extend((start + i, reason) for i, reason in bad)
            part = part.drop(index=[i for i, _ in bad]).reset_index(drop=True)
            if not len(part):
                continue
        expected_now = sklearn_outputs(pipeline, part, schema.task, by_name, schema.output_keys())
        for key, value in expected_now.items():
            expected.setdefault(key, []).append(np.asarray(value))
        values = sess.run(names, frame_to_feeds(part, schema, first_row=start))
        for key, value in zip(schema.output_keys(), values, strict=True):
            actual.setdefault(key, []).append(np.asarray(value))
        kept.append(part)
    if not kept:
        raise UnsupportedStepError(
            f"scikit-learn refuses every row it was given (e.g. {refused[0][1]}); pass raw rows "
            "the pipeline accepts"
        )
    report = compare(
        schema.task,
        {k: np.concatenate(v) for k, v in expected.items()},
        {k: np.concatenate(v) for k, v in actual.items()},
        pd.concat(kept, ignore_index=True),
    )
    report.refused_by_sklearn = len(refused)
    if refused:
        row, reason = refused[0]
        report.refused_example = f"row {row}: {reason}"
    return report


def to_onnx(
    pipeline: Any,
    sample_raw_dataframe: Any,
    name: str,
    version: str = "1",
    *,
    generated_rows: int = GENERATED_ROWS,
    seed: int = 0,
    force: bool = False,
    training: dict[str, Any] | None = None,
    ranges: Ranges | None = None,
) -> onnx.ModelProto:
    """Convert a fitted pipeline and prove it: the returned graph agrees with scikit-learn on the
    sample rows and on `generated_rows` generated raw rows, or ParityError is raised (unless
    `force`, which records the failure in the metadata instead). UnsupportedStepError names a
    step that cannot be exported, why, and what to do.

    `ranges`: `{column: (min, max)}` of the numeric columns' training values, recorded as the
    inputs' `min`/`max` (what `pipeport serve` counts requests outside of, for drift). Columns
    it leaves out take the sample's range; pass the training rows' when the sample is held-out
    rows (`pipeport export DIR` passes train_manifest.json's)."""
    import warnings

    with warnings.catch_warnings():  # the steps' warnings on probe and stress rows are expected
        warnings.simplefilter("ignore")
        return _to_onnx(
            pipeline,
            sample_raw_dataframe,
            name,
            version,
            generated_rows,
            seed,
            force,
            training,
            ranges,
        )


def _to_onnx(
    pipeline: Any,
    sample_raw_dataframe: Any,
    name: str,
    version: str,
    generated_rows: int,
    seed: int,
    force: bool,
    training: dict[str, Any] | None,
    ranges: Ranges | None = None,
) -> onnx.ModelProto:
    conversion = Conversion(pipeline, sample_raw_dataframe, name)
    model = conversion.model
    rules = column_rules(pipeline, conversion.frame, conversion.columns, conversion.by_name)
    schema = contract_schema(conversion, rules, name, version, ranges)
    sample = _admissible(conversion.frame, schema)
    frame = concat_like(
        [sample, generate_raw_rows(conversion.frame, schema, generated_rows, seed)],
        conversion.frame,
    )
    report = compare_with_sklearn(pipeline, model, frame, schema)
    parity = {
        k: None if isinstance(v, float) and not math.isfinite(v) else v
        for k, v in {**report.summary(), "forced": force and not report.passed}.items()
    }
    meta = schema.to_metadata(
        estimator=conversion.estimator,
        training=training or {},
        packages=package_versions(),
        parity=parity,
    )
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(meta, sort_keys=True, ensure_ascii=False, allow_nan=False, default=str)
    onnx.checker.check_model(model, full_check=True)
    if not report.passed and not force:
        raise ParityError(report.table(), report)
    return model


def _admissible(frame: pd.DataFrame, schema: ModelSchema) -> pd.DataFrame:
    """The sample rows the contract accepts (a row scikit-learn would refuse is not compared)."""
    from pipeport.errors import RawInputError

    try:
        frame_to_feeds(frame, schema)
        return frame.reset_index(drop=True)
    except RawInputError as exc:
        bad = {e.row for e in exc.errors if e.row is not None}
        return frame.iloc[[i for i in range(len(frame)) if i not in bad]].reset_index(drop=True)


def read_metadata(model: onnx.ModelProto | str | Path) -> dict[str, Any]:
    """The contract a pipeport ONNX file carries (docs/onnx-contract.md): inputs, kinds,
    outputs, classes, training and parity records, as a dict."""
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model), load_external_data=False)
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            return dict(json.loads(entry.value))
    raise KeyError(f"no '{METADATA_KEY}' metadata in this ONNX model")
