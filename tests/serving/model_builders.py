"""Small pipeport-style ONNX models built with onnx.helper, for the serving tests only.

The real exporter may not exist yet, and the server must only rely on the file contract
(docs/onnx-contract.md), so the fixtures honour that contract by hand: raw column names that
differ from ONNX input names, a double numeric input, a string categorical input, no ZipMap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
INT_CLASSES = [1, 5, 7]
ISLANDS = ["Biscoe", "Dream", "Torgersen"]
NUMERIC = "bill length (mm)"
NUMERIC_ONNX = "bill_length__mm_"
CATEGORICAL = "island"


def _inputs_metadata() -> list[dict[str, Any]]:
    return [
        {
            "name": NUMERIC,
            "onnx_name": NUMERIC_ONNX,
            "kind": "numeric",
            "onnx_type": "tensor(double)",
            "missing_allowed": True,
            "missing_value": "NaN",
            "min": 32.1,
            "max": 59.6,
        },
        {
            "name": CATEGORICAL,
            "onnx_name": CATEGORICAL,
            "kind": "categorical",
            "onnx_type": "tensor(string)",
            "missing_allowed": True,
            "missing_value": "",
            "categories": ISLANDS,
        },
    ]


def _common_nodes() -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """x (NaN→0) and an island code (unseen/missing → 3), both double [N, 1]."""
    inits = [
        numpy_helper.from_array(np.array(0.0), "zero"),
    ]
    nodes = [
        helper.make_node("IsNaN", [NUMERIC_ONNX], ["x_nan"]),
        helper.make_node("Where", ["x_nan", "zero", NUMERIC_ONNX], ["x"]),
        helper.make_node(
            "LabelEncoder",
            [CATEGORICAL],
            ["code_i"],
            domain="ai.onnx.ml",
            keys_strings=ISLANDS,
            values_int64s=[0, 1, 2],
            default_int64=3,
        ),
        helper.make_node("Cast", ["code_i"], ["code"], to=TensorProto.DOUBLE),
    ]
    return nodes, inits


def _finish(graph: onnx.GraphProto, metadata: dict[str, Any], path: Path) -> Path:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)],
        producer_name="pipeport-tests",
    )
    model.ir_version = 9
    entry = model.metadata_props.add()
    entry.key = "pipeport"
    entry.value = json.dumps(metadata)
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def _metadata(name: str, task: str, **extra: Any) -> dict[str, Any]:
    return {
        "format_version": 1,
        "name": name,
        "version": "3",
        "task": task,
        "inputs": _inputs_metadata(),
        "estimator": "TestEstimator",
        "training": {"data_sha256": "d" * 64, "config_sha256": "c" * 64, "target": "species"},
        "packages": {"scikit-learn": "1.9.1", "skl2onnx": "1.20.0", "onnx": "1.23.2"},
        "parity": {
            "passed": True,
            "forced": False,
            "rows": 10,
            "label_mismatches": 0,
            "near_ties": 0,
            "max_abs_error": 0.0,
            "max_rel_error": 0.0,
        },
        **extra,
    }


def build_classifier(path: Path, *, int_labels: bool = False, name: str | None = None) -> Path:
    """Softmax over [0.1·x, 0.5·code, 1 − 0.05·x + code]; label = classes[argmax]."""
    nodes, inits = _common_nodes()
    classes: list[Any] = INT_CLASSES if int_labels else CLASSES
    if int_labels:
        inits.append(numpy_helper.from_array(np.array(INT_CLASSES, dtype=np.int64), "classes"))
    else:
        inits.append(
            helper.make_tensor("classes", TensorProto.STRING, [3], [c.encode() for c in CLASSES])
        )
    inits += [
        numpy_helper.from_array(np.array(v), n)
        for v, n in ((1.0, "one"), (0.1, "a"), (-0.05, "b"), (0.5, "half"))
    ]
    nodes += [
        helper.make_node("Mul", ["x", "a"], ["l0"]),
        helper.make_node("Mul", ["code", "half"], ["l1"]),
        helper.make_node("Mul", ["x", "b"], ["bx"]),
        helper.make_node("Add", ["bx", "one"], ["bx1"]),
        helper.make_node("Add", ["bx1", "code"], ["l2"]),
        helper.make_node("Concat", ["l0", "l1", "l2"], ["logits"], axis=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["idx"], axis=1, keepdims=0),
        helper.make_node("Gather", ["classes", "idx"], ["label"], axis=0),
    ]
    label_type = TensorProto.INT64 if int_labels else TensorProto.STRING
    graph = helper.make_graph(
        nodes,
        "classifier",
        [
            helper.make_tensor_value_info(NUMERIC_ONNX, TensorProto.DOUBLE, [None, 1]),
            helper.make_tensor_value_info(CATEGORICAL, TensorProto.STRING, [None, 1]),
        ],
        [
            helper.make_tensor_value_info("label", label_type, [None]),
            helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, [None, 3]),
        ],
        inits,
    )
    onnx_type = "tensor(int64)" if int_labels else "tensor(string)"
    metadata = _metadata(
        name or ("penguins-int" if int_labels else "penguins-test"),
        "classification",
        outputs={
            "label": {"onnx_name": "label", "onnx_type": onnx_type},
            "probabilities": {"onnx_name": "probabilities", "onnx_type": "tensor(double)"},
        },
        classes=classes,
    )
    return _finish(graph, metadata, path)


def build_regressor(path: Path) -> Path:
    """prediction = 2·x + code, as [N, 1] double."""
    nodes, inits = _common_nodes()
    inits.append(numpy_helper.from_array(np.array(2.0), "two"))
    nodes += [
        helper.make_node("Mul", ["x", "two"], ["x2"]),
        helper.make_node("Add", ["x2", "code"], ["prediction"]),
    ]
    graph = helper.make_graph(
        nodes,
        "regressor",
        [
            helper.make_tensor_value_info(NUMERIC_ONNX, TensorProto.DOUBLE, [None, 1]),
            helper.make_tensor_value_info(CATEGORICAL, TensorProto.STRING, [None, 1]),
        ],
        [helper.make_tensor_value_info("prediction", TensorProto.DOUBLE, [None, 1])],
        inits,
    )
    metadata = _metadata(
        "penguins-mass",
        "regression",
        outputs={"prediction": {"onnx_name": "prediction", "onnx_type": "tensor(double)"}},
    )
    return _finish(graph, metadata, path)


def build_without_metadata(path: Path) -> Path:
    """A valid ONNX graph that pipeport did not write (no `pipeport` metadata)."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "plain",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, 1])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path.write_bytes(model.SerializeToString())
    return path


def expected_classifier(x: float | None, island: str | None, classes: list[Any]) -> dict:
    """The classifier's maths in numpy, to check served predictions against."""
    xv = 0.0 if x is None else x
    code = float(ISLANDS.index(island)) if island in ISLANDS else 3.0
    logits = np.array([0.1 * xv, 0.5 * code, 1 - 0.05 * xv + code])
    p = np.exp(logits - logits.max())
    p /= p.sum()
    return {
        "label": classes[int(np.argmax(p))],
        "probabilities": {str(c): float(v) for c, v in zip(classes, p, strict=True)},
    }
