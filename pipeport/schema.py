"""The schema a pipeport ONNX file carries: its raw inputs, outputs, task and classes.

One type, with `to_metadata` / `from_metadata`: the exporter writes the JSON document under
``metadata_props["pipeport"]`` from it, and every reader (the server, batch scoring, the parity
harness, `pipeport.read_metadata`) parses it back into it. docs/onnx-contract.md describes the
document field by field. Standard library only, so the server can import it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

METADATA_KEY = "pipeport"
#: Version 2 (pipeport 0.2) added `values`, `unknown_categories`, `unused_columns` and numeric
#: `categories`, and `missing_allowed` may be false. A reader of version 1 would ignore the new
#: refusals, so files say 2; readers accept 1 and 2.
FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)

Kind = Literal["numeric", "categorical"]
NUMERIC: Kind = "numeric"
CATEGORICAL: Kind = "categorical"
KINDS = (NUMERIC, CATEGORICAL)
#: What the training values of a column were: numbers, booleans or text. It decides which JSON
#: types a column accepts besides its kind's own, and how a CSV cell is read (as pandas read it).
VALUE_TYPES = ("numbers", "booleans", "text")
ONNX_TYPE_OF_KIND = {NUMERIC: "tensor(double)", CATEGORICAL: "tensor(string)"}
UNKNOWN_POLICIES = ("accepted", "error")
#: The bounds a numeric input's `valid_range` may hold (inputs outside them are refused).
RANGE_BOUNDS = ("greater_than", "greater_or_equal", "less_than", "less_or_equal")
Task = Literal["classification", "regression", "anomaly"]
TASKS = ("classification", "regression", "anomaly")
#: An anomaly model's labels, as scikit-learn's outlier detectors predict them.
ANOMALY_CLASSES = (-1, 1)
#: The outputs that hold one number per row, as a [N, 1] tensor in the graph.
ROW_VALUE_OUTPUTS = ("prediction", "score")


class MetadataError(ValueError):
    """The pipeport metadata of a file is missing, malformed or of an unsupported version."""


@dataclass(frozen=True)
class InputSpec:
    """One raw column and the ONNX input it is fed to."""

    name: str  # the raw column name, exactly as in the training data
    onnx_name: str  # the graph input it feeds (may differ: skl2onnx-style name rewriting)
    kind: Kind
    #: "numbers", "booleans" or "text": what the training column held.
    values: str = "numbers"
    #: The pandas dtype of the training column ("int64", "str", "category", ...): informational.
    dtype: str = ""
    missing_allowed: bool = True
    #: The categories the pipeline learned for this column (strings for a categorical input,
    #: numbers for a numeric one), or () for a column no encoder reads as it was received.
    categories: tuple[Any, ...] = ()
    #: "error": scikit-learn raises on a value outside `categories`, so every runtime refuses it.
    unknown_categories: str = "accepted"
    min: float | None = None
    max: float | None = None
    #: The numbers a numeric column accepts, where scikit-learn raises outside them (a log, a
    #: square root): {"greater_than" | "greater_or_equal": a, "less_than" | "less_or_equal": b}.
    valid_range: dict[str, float] = field(default_factory=dict)
    #: Why (the step that needs it), for the error message.
    valid_range_reason: str = ""

    def to_metadata(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "onnx_name": self.onnx_name,
            "kind": self.kind,
            "onnx_type": ONNX_TYPE_OF_KIND[self.kind],
            "values": self.values,
            "dtype": self.dtype,
            "missing_allowed": self.missing_allowed,
            "missing_value": "" if self.kind == CATEGORICAL else "NaN",
            "categories": [_json_number(c) if self.kind == NUMERIC else c for c in self.categories],
            "unknown_categories": self.unknown_categories,
        }
        if self.kind == NUMERIC:
            entry["min"], entry["max"] = _json_number(self.min), _json_number(self.max)
        if self.valid_range:
            entry["valid_range"] = {k: _json_number(v) for k, v in self.valid_range.items()}
            entry["valid_range_reason"] = self.valid_range_reason
        return entry

    @classmethod
    def from_metadata(cls, entry: Mapping[str, Any]) -> InputSpec:
        kind = entry["kind"]
        if kind not in KINDS:
            raise MetadataError(f"input {entry.get('name')!r} has unknown kind {kind!r}")
        values = entry.get("values") or ("text" if kind == CATEGORICAL else "numbers")
        if values not in VALUE_TYPES:
            raise MetadataError(f"input {entry.get('name')!r} has unknown values {values!r}")
        unknown = entry.get("unknown_categories", "accepted")
        if unknown not in UNKNOWN_POLICIES:
            raise MetadataError(
                f"input {entry.get('name')!r} has unknown_categories {unknown!r}; "
                f"expected one of {', '.join(UNKNOWN_POLICIES)}"
            )
        raw_categories = entry.get("categories") or ()
        categories: tuple[Any, ...] = (
            tuple(float(c) for c in raw_categories)
            if kind == NUMERIC
            else tuple(str(c) for c in raw_categories)
        )
        if unknown == "error" and not categories:
            raise MetadataError(
                f"input {entry.get('name')!r} refuses unknown categories but lists none"
            )
        valid_range = {str(k): float(v) for k, v in (entry.get("valid_range") or {}).items()}
        unknown_bounds = set(valid_range) - set(RANGE_BOUNDS)
        if unknown_bounds:
            raise MetadataError(
                f"input {entry.get('name')!r} has unknown valid_range bounds "
                f"{sorted(unknown_bounds)}"
            )
        return cls(
            name=str(entry["name"]),
            onnx_name=str(entry["onnx_name"]),
            kind=kind,
            values=values,
            dtype=str(entry.get("dtype", "")),
            missing_allowed=bool(entry.get("missing_allowed", True)),
            categories=categories,
            unknown_categories=unknown,
            min=_optional_float(entry.get("min")),
            max=_optional_float(entry.get("max")),
            valid_range=valid_range,
            valid_range_reason=str(entry.get("valid_range_reason", "")),
        )


@dataclass(frozen=True, eq=False)
class ModelSchema:
    """What a pipeport file takes and returns.

    Compared and hashed by identity (eq=False), so per-schema work compiled at load (validators,
    formatters) can be cached against it.
    """

    name: str
    version: str
    task: Task
    inputs: tuple[InputSpec, ...]
    #: Output key ("label", "probabilities", "prediction" or "score") -> ONNX output name.
    outputs: dict[str, str]
    #: A classifier's classes; an anomaly model's labels, (-1, 1): outlier, inlier.
    classes: tuple[str | int, ...] = ()
    label_is_int: bool = False
    #: Raw columns of the training data the pipeline does not read: a row may carry them (any
    #: value); they are ignored.
    unused_columns: tuple[str, ...] = ()
    #: An anomaly model's offset: its decision_function is score - offset, an outlier (-1) a
    #: row whose decision is below 0.
    offset: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)

    def output_keys(self) -> tuple[str, ...]:
        """The outputs, in a fixed order: label (+ probabilities), prediction, or label and
        score (an anomaly model)."""
        if self.task == "regression":
            return ("prediction",)
        if self.task == "anomaly":
            return ("label", "score")
        return ("label", "probabilities") if "probabilities" in self.outputs else ("label",)

    def to_metadata(self, **extra: Any) -> dict[str, Any]:
        """The JSON document of `metadata_props["pipeport"]` (plus `extra` top-level fields)."""
        meta: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "inputs": [spec.to_metadata() for spec in self.inputs],
            "unused_columns": list(self.unused_columns),
        }
        if self.task == "classification":
            meta["outputs"] = {
                "label": {
                    "onnx_name": self.outputs["label"],
                    "onnx_type": "tensor(int64)" if self.label_is_int else "tensor(string)",
                }
            }
            if "probabilities" in self.outputs:
                meta["outputs"]["probabilities"] = {
                    "onnx_name": self.outputs["probabilities"],
                    "onnx_type": "tensor(double)",
                }
            meta["classes"] = list(self.classes)
        elif self.task == "anomaly":
            meta["outputs"] = {
                "label": {"onnx_name": self.outputs["label"], "onnx_type": "tensor(int64)"},
                "score": {"onnx_name": self.outputs["score"], "onnx_type": "tensor(double)"},
            }
            meta["classes"] = list(ANOMALY_CLASSES)
            meta["offset"] = self.offset
        else:
            meta["outputs"] = {
                "prediction": {
                    "onnx_name": self.outputs["prediction"],
                    "onnx_type": "tensor(double)",
                }
            }
        meta.update(extra)
        return meta

    @classmethod
    def from_metadata(cls, meta: Any, source: str = "model") -> ModelSchema:
        """Parse the metadata document (a dict, or its JSON text)."""
        if isinstance(meta, (str, bytes)):
            try:
                meta = json.loads(meta)
            except ValueError:
                raise MetadataError(
                    f"{source}: '{METADATA_KEY}' metadata is not valid JSON"
                ) from None
        if not isinstance(meta, dict):
            raise MetadataError(f"{source}: '{METADATA_KEY}' metadata is not a JSON object")
        fmt = meta.get("format_version")
        if fmt not in READABLE_FORMAT_VERSIONS:
            raise MetadataError(
                f"{source}: metadata format_version {fmt!r} is not supported by this pipeport "
                f"(it reads {', '.join(map(str, READABLE_FORMAT_VERSIONS))}); upgrade pipeport"
            )
        try:
            task = meta["task"]
            if task not in TASKS:
                raise MetadataError(
                    f"unknown task {task!r} in metadata (this pipeport knows "
                    f"{', '.join(TASKS)}; a newer one may know it)"
                )
            inputs = tuple(InputSpec.from_metadata(entry) for entry in meta["inputs"])
            outputs = {key: str(value["onnx_name"]) for key, value in meta["outputs"].items()}
            classes = tuple(meta.get("classes") or ())
            name, version = str(meta["name"]), str(meta["version"])
            unused = tuple(str(c) for c in meta.get("unused_columns") or ())
            offset = None if task != "anomaly" else float(meta["offset"])
        except MetadataError as exc:
            raise MetadataError(
                str(exc) if str(exc).startswith(source) else f"{source}: {exc}"
            ) from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MetadataError(
                f"{source}: malformed '{METADATA_KEY}' metadata ({exc!r})"
            ) from None
        allowed = {
            "classification": ({"label", "probabilities"}, {"label"}),
            "regression": ({"prediction"},),
            "anomaly": ({"label", "score"},),
        }[task]
        if set(outputs) not in allowed:
            raise MetadataError(
                f"{source}: metadata outputs {sorted(outputs)} do not match task {task!r} "
                f"(expected {' or '.join(str(sorted(a)) for a in allowed)})"
            )
        label_is_int = False
        if task == "anomaly":
            classes, label_is_int = ANOMALY_CLASSES, True
        if task == "classification":
            if not classes:
                raise MetadataError(f"{source}: a classification model needs 'classes' in metadata")
            label_type = meta["outputs"]["label"].get("onnx_type", "tensor(string)")
            label_is_int = label_type == "tensor(int64)"
        names = [spec.name for spec in inputs]
        if len(set(names)) != len(names):
            raise MetadataError(f"{source}: metadata lists an input twice")
        return cls(
            name=name,
            version=version,
            task=task,
            inputs=inputs,
            outputs=outputs,
            classes=classes,
            label_is_int=label_is_int,
            unused_columns=unused,
            offset=offset,
            metadata=meta,
        )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _json_number(value: Any) -> Any:
    """A number as JSON can hold it: NaN and infinities (which JSON lacks) become null."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number
