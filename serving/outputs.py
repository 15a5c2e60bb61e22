"""onnxruntime outputs → prediction dicts, with the formatting decided once per model.

A prediction is `{"label": …, "probabilities": {class: p, …}}` for classification (class keys
are `str(class)`, in the order of `classes`; `{"label": …}` alone for a classifier without
probabilities, such as a hard vote), `{"prediction": x}` for regression and
`{"label": -1 | 1, "score": s}` for an anomaly model (docs/onnx-contract.md). JSON has no NaN,
so a non-finite output value becomes null.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from pipeport.serving.model import ModelSchema


class OutputFormatter:
    """Knows which outputs to ask `session.run` for and how to turn them into JSON values."""

    def __init__(self, schema: ModelSchema) -> None:
        self.task = schema.task
        # Order matters: the methods below unpack outputs in this order.
        self.output_keys: tuple[str, ...] = schema.output_keys()
        self.labels_only = self.output_keys == ("label",)
        self.onnx_names = [schema.outputs[key] for key in self.output_keys]
        self.class_keys = tuple(str(c) for c in schema.classes)
        # For predictions_json: each class's label as JSON text (str and int labels only, so a
        # lookup cannot confuse True with 1), and the row template ("%" in a key doubled).
        self._label_json = {
            c: to_json(c) for c in schema.classes if type(c) is str or type(c) is int
        }
        keys = ",".join(to_json(key).replace("%", "%%") + ":%r" for key in self.class_keys)
        self._row_template = '{"label":%s,"probabilities":{' + keys + "}}"

    def predictions(self, outputs: list[np.ndarray]) -> list[dict[str, Any]]:
        """One dict per row, in row order."""
        if self.labels_only:
            return [{"label": label} for label in outputs[0].reshape(-1).tolist()]
        if self.task == "anomaly":
            labels = outputs[0].reshape(-1).tolist()
            scores = _finite_values(outputs[1])
            return [
                {"label": label, "score": score}
                for label, score in zip(labels, scores, strict=True)
            ]
        if self.task == "classification":
            labels = outputs[0].reshape(-1).tolist()
            keys = self.class_keys
            return [
                {"label": label, "probabilities": dict(zip(keys, probs, strict=True))}
                for label, probs in zip(labels, _finite_rows(outputs[1]), strict=True)
            ]
        return [{"prediction": value} for value in _finite_values(outputs[0])]

    def predictions_json(self, outputs: list[np.ndarray]) -> str:
        """`json.dumps(self.predictions(outputs))` (compact, non-ASCII kept), built faster.

        The request path's formatter: per-class key text and per-label JSON are made once, and a
        row's probabilities go through one %-template. Any non-finite value, or a label that is
        not one of the classes, takes the general path, so the text is always the same.
        """
        if self.task == "anomaly":
            labels = outputs[0].reshape(-1).tolist()
            scores = outputs[1].reshape(-1).tolist()
            total = sum(scores)
            if total - total != 0.0 or not all(type(label) is int for label in labels):
                return to_json(self.predictions(outputs))
            return (
                "["
                + ",".join(
                    [
                        f'{{"label":{label},"score":{score!r}}}'
                        for label, score in zip(labels, scores, strict=True)
                    ]
                )
                + "]"
            )
        if self.task != "classification":
            values = outputs[0].reshape(-1).tolist()
            total = sum(values)
            if total - total != 0.0:  # some value is NaN or ±inf (or the sum overflowed)
                return to_json(self.predictions(outputs))
            return "[" + ",".join([f'{{"prediction":{v!r}}}' for v in values]) + "]"
        if self.labels_only:
            return to_json(self.predictions(outputs))
        labels = outputs[0].reshape(-1).tolist()
        probabilities = outputs[1].tolist()
        total = sum(map(sum, probabilities))
        label_json = self._label_json
        if (
            total - total != 0.0
            or not all(label in label_json for label in labels)
            or (probabilities and len(probabilities[0]) != len(self.class_keys))
        ):
            return to_json(self.predictions(outputs))
        template = self._row_template
        return (
            "["
            + ",".join(
                [
                    template % (label_json[label], *probs)
                    for label, probs in zip(labels, probabilities, strict=True)
                ]
            )
            + "]"
        )

    def simple(self, outputs: list[np.ndarray]) -> list[Any]:
        """Labels (classification, anomaly) or values (regression): what an MLflow sklearn
        model returns (its predict)."""
        if self.task != "regression":
            return outputs[0].reshape(-1).tolist()
        return _finite_values(outputs[0])

    def csv_header(self) -> list[str]:
        """Column names for batch output, after the row number."""
        if self.labels_only:
            return ["label"]
        if self.task == "anomaly":
            return ["label", "score"]
        if self.task == "classification":
            return ["label", *(f"probability_{key}" for key in self.class_keys)]
        return ["prediction"]

    def csv_rows(self, outputs: list[np.ndarray]) -> list[list[Any]]:
        """Rows of values matching `csv_header()`; non-finite values as empty fields."""
        if self.labels_only:
            return [[label] for label in outputs[0].reshape(-1).tolist()]
        if self.task == "anomaly":
            labels = outputs[0].reshape(-1).tolist()
            return [
                [label, "" if s is None else repr(s)]
                for label, s in zip(labels, _finite_values(outputs[1]), strict=True)
            ]
        if self.task == "classification":
            labels = outputs[0].reshape(-1).tolist()
            return [
                [label, *("" if p is None else repr(p) for p in probs)]
                for label, probs in zip(labels, _finite_rows(outputs[1]), strict=True)
            ]
        return [["" if v is None else repr(v)] for v in _finite_values(outputs[0])]


def to_json(value: Any) -> str:
    """Compact JSON, non-ASCII kept, no NaN: how every /v1 and MLflow response is written."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _finite_values(array: np.ndarray) -> list[float | None]:
    flat = array.reshape(-1)
    if np.isfinite(flat).all():
        return flat.tolist()
    return [v if np.isfinite(v) else None for v in flat.tolist()]


def _finite_rows(array: np.ndarray) -> list[list[float | None]]:
    if np.isfinite(array).all():
        return array.tolist()
    return [[v if np.isfinite(v) else None for v in row] for row in array.tolist()]
