"""Small ONNX models that obey docs/onnx-contract.md, built by hand with onnx.helper.

Why hand-built: the client tests must not depend on the exporter (written concurrently, and
slow to train); what the clients consume is the contract, so we build files that follow it and
exercise the ops a real export uses (ai.onnx.ml LabelEncoder and OneHotEncoder, TreeEnsemble v5
in double, string Gather for labels, a raw name that differs from its ONNX input name).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `pytest` without an installed pipeport: import from the tree
    sys.path.insert(0, str(REPO_ROOT))

from pipeport.parity_tests.runtimes import RuntimeUnavailable  # noqa: E402
from pipeport.parity_tests.runtimes.node import node_executable  # noqa: E402

CLIENTS_DIR = REPO_ROOT / "clients"

ISLANDS = ["Biscoe", "Dream", "Torgersen"]
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
INT_CLASSES = [-1, 0, 7]
SEXES = ["FEMALE", "MALE"]
OPSETS = [helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)]


def _metadata(name: str, task: str, inputs: list[dict[str, Any]], **extra: Any) -> str:
    if task == "classification":
        label_type = "tensor(int64)" if isinstance(extra["classes"][0], int) else "tensor(string)"
        outputs: dict[str, Any] = {
            "label": {"onnx_name": "label", "onnx_type": label_type},
            "probabilities": {"onnx_name": "probabilities", "onnx_type": "tensor(double)"},
        }
    elif task == "anomaly":
        outputs = {
            "label": {"onnx_name": "label", "onnx_type": "tensor(int64)"},
            "score": {"onnx_name": "score", "onnx_type": "tensor(double)"},
        }
        extra = {"classes": [-1, 1], **extra}
    else:
        outputs = {"prediction": {"onnx_name": "prediction", "onnx_type": "tensor(double)"}}
    doc = {
        "format_version": 1,
        "name": name,
        "version": "1",
        "task": task,
        "inputs": inputs,
        "outputs": outputs,
        **extra,
        "estimator": "HandBuilt",
        "training": {"data_sha256": "0" * 64, "config_sha256": "0" * 64, "target": "y"},
        "packages": {"onnx": onnx.__version__},
        "parity": {"passed": True, "forced": False, "rows": 0},
    }
    return json.dumps(doc, ensure_ascii=False)


def _numeric(name: str, onnx_name: str, **training_range: float) -> dict[str, Any]:
    return {
        "name": name,
        "onnx_name": onnx_name,
        "kind": "numeric",
        "onnx_type": "tensor(double)",
        "missing_allowed": True,
        "missing_value": "NaN",
        **training_range,  # min, max: the training rows' (docs/onnx-contract.md)
    }


def _categorical(name: str, onnx_name: str, categories: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "onnx_name": onnx_name,
        "kind": "categorical",
        "onnx_type": "tensor(string)",
        "missing_allowed": True,
        "missing_value": "",
        "categories": categories,
    }


def _const(name: str, array: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array, name))


def _impute_zero(x: str, out: str) -> list[onnx.NodeProto]:
    """NaN -> 0 in float64, from standard ops (the Imputer op has no double kernel)."""
    return [
        helper.make_node("IsNaN", [x], [f"{out}_isnan"]),
        _const(f"{out}_zero", np.array(0.0, np.float64)),
        helper.make_node("Where", [f"{out}_isnan", f"{out}_zero", x], [out]),
    ]


def _finish(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    metadata: str,
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "pipeport_test", inputs, outputs)
    model = helper.make_model(graph, opset_imports=OPSETS, producer_name="pipeport-tests")
    model.ir_version = 10
    helper.set_model_props(model, {"pipeport": metadata, "other": "ignored"})
    onnx.checker.check_model(model, full_check=True)
    return model


def _classifier_head(logits: str, classes: list[Any]) -> list[onnx.NodeProto]:
    """Softmax probabilities [N,K] double, label = classes[argmax] via Gather (string or int64)."""
    array = np.array(classes, dtype=object if isinstance(classes[0], str) else np.int64)
    return [
        helper.make_node("Softmax", [logits], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label_index"], axis=1, keepdims=0),
        _const("classes", array),
        helper.make_node("Gather", ["classes", "label_index"], ["label"], axis=0),
    ]


def build_species_classifier(int_labels: bool = False) -> onnx.ModelProto:
    """Numeric "bill length (mm)" (ONNX name bill_length__mm_) + categorical "island"
    (LabelEncoder -> one-hot by Equal) -> linear logits in double -> softmax, label."""
    classes: list[Any] = INT_CLASSES if int_labels else SPECIES
    w = np.array([[0.11, -0.07, 0.031]], np.float64)
    b = np.array([[1.5, -0.3, 0.2], [-1.1, 2.2, 0.7], [0.4, 0.1, -2.0]], np.float64)
    nodes = [
        *_impute_zero("bill_length__mm_", "bill"),
        helper.make_node(
            "LabelEncoder",
            ["island"],
            ["island_code"],
            domain="ai.onnx.ml",
            keys_strings=ISLANDS,
            values_int64s=[0, 1, 2],
            default_int64=-1,
        ),
        _const("codes", np.array([[0, 1, 2]], np.int64)),
        helper.make_node("Equal", ["island_code", "codes"], ["island_eq"]),
        helper.make_node("Cast", ["island_eq"], ["island_onehot"], to=TensorProto.DOUBLE),
        _const("w", w),
        _const("b", b),
        _const("bias", np.array([0.05, -0.02, 0.01], np.float64)),
        helper.make_node("Mul", ["bill", "w"], ["bill_term"]),
        helper.make_node("MatMul", ["island_onehot", "b"], ["island_term"]),
        helper.make_node("Add", ["bill_term", "island_term"], ["logits_nobias"]),
        helper.make_node("Add", ["logits_nobias", "bias"], ["logits"]),
        *_classifier_head("logits", classes),
    ]
    label_type = TensorProto.INT64 if int_labels else TensorProto.STRING
    metadata = _metadata(
        "species-int" if int_labels else "species",
        "classification",
        [
            _numeric("bill length (mm)", "bill_length__mm_", min=33.1, max=59.6),
            _categorical("island", "island", ISLANDS),
        ],
        classes=classes,
    )
    return _finish(
        nodes,
        [
            helper.make_tensor_value_info("bill_length__mm_", TensorProto.DOUBLE, ["N", 1]),
            helper.make_tensor_value_info("island", TensorProto.STRING, ["N", 1]),
        ],
        [
            helper.make_tensor_value_info("label", label_type, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, ["N", 3]),
        ],
        metadata,
    )


def build_mass_regressor() -> onnx.ModelProto:
    """Numeric "flipper.length" + categorical "sex" through ai.onnx.ml OneHotEncoder -> [N,1]."""
    nodes = [
        *_impute_zero("flipper_length", "flipper"),
        helper.make_node(
            "OneHotEncoder", ["sex"], ["sex_3d"], domain="ai.onnx.ml", cats_strings=SEXES, zeros=1
        ),
        _const("shape", np.array([-1, len(SEXES)], np.int64)),
        helper.make_node("Reshape", ["sex_3d", "shape"], ["sex_2d"]),
        helper.make_node("Cast", ["sex_2d"], ["sex_onehot"], to=TensorProto.DOUBLE),
        _const("coef", np.array([[0.1234567890123]], np.float64)),
        _const("sex_coef", np.array([[1.5], [-2.25]], np.float64)),
        _const("intercept", np.array([3.0000000000001], np.float64)),
        helper.make_node("MatMul", ["flipper", "coef"], ["flipper_term"]),
        helper.make_node("MatMul", ["sex_onehot", "sex_coef"], ["sex_term"]),
        helper.make_node("Add", ["flipper_term", "sex_term"], ["partial"]),
        helper.make_node("Add", ["partial", "intercept"], ["prediction"]),
    ]
    metadata = _metadata(
        "mass",
        "regression",
        [_numeric("flipper.length", "flipper_length"), _categorical("sex", "sex", SEXES)],
    )
    return _finish(
        nodes,
        [
            helper.make_tensor_value_info("flipper_length", TensorProto.DOUBLE, ["N", 1]),
            helper.make_tensor_value_info("sex", TensorProto.STRING, ["N", 1]),
        ],
        [helper.make_tensor_value_info("prediction", TensorProto.DOUBLE, ["N", 1])],
        metadata,
    )


def build_tree_ensemble_regressor() -> onnx.ModelProto:
    """ai.onnx.ml opset-5 TreeEnsemble in double, as the exporter emits for tree models.

    Two trees over two features; tree 0 sends NaN to the true branch, tree 1 to the false one,
    so missing values exercise nodes_missing_value_tracks_true. Raw input order differs from
    nothing: the two numeric columns are concatenated into X [N, 2] first.
    """

    def f64(values: list[float]) -> onnx.TensorProto:
        return numpy_helper.from_array(np.array(values, np.float64))

    tree = helper.make_node(
        "TreeEnsemble",
        ["X"],
        ["prediction"],
        domain="ai.onnx.ml",
        aggregate_function=1,  # SUM
        n_targets=1,
        post_transform=0,
        tree_roots=[0, 2],
        # tree 0: node 0 (x0 <= 0.5 ? node 1 : leaf 1); node 1 (x1 <= 10.0 ? leaf 0 : leaf 2)
        # tree 1: node 2 (x1 < 3.25 ? leaf 3 : leaf 4)
        nodes_featureids=[0, 1, 1],
        nodes_splits=f64([0.5, 10.0, 3.25]),
        nodes_modes=numpy_helper.from_array(np.array([0, 0, 1], np.uint8)),
        nodes_truenodeids=[1, 0, 3],
        nodes_trueleafs=[0, 1, 1],
        nodes_falsenodeids=[1, 2, 4],
        nodes_falseleafs=[1, 1, 1],
        nodes_missing_value_tracks_true=[1, 0, 0],
        leaf_targetids=[0, 0, 0, 0, 0],
        leaf_weights=f64([1.25, -2.5, 0.1, 1 / 3, -math.pi]),
    )
    nodes = [helper.make_node("Concat", ["x_value", "y_value"], ["X"], axis=1), tree]
    metadata = _metadata(
        "tree",
        "regression",
        [_numeric("x value", "x_value"), _numeric("y-value", "y_value")],
    )
    return _finish(
        nodes,
        [
            helper.make_tensor_value_info("x_value", TensorProto.DOUBLE, ["N", 1]),
            helper.make_tensor_value_info("y_value", TensorProto.DOUBLE, ["N", 1]),
        ],
        [helper.make_tensor_value_info("prediction", TensorProto.DOUBLE, ["N", 1])],
        metadata,
    )


ANOMALY_OFFSET = -0.5
CHANNELS = ["web", "shop"]


def build_anomaly_detector() -> onnx.ModelProto:
    """An anomaly model as docs/onnx-contract.md describes it (what an IsolationForest exports):
    outputs label (int64 [N], -1 outlier, 1 inlier) and score (double [N, 1]), metadata classes
    [-1, 1] and offset; label -1 where score - offset < 0.

    score = -(2 ** -(sqrt(amount) / 10 + [channel == "web"])): in [-1, 0) for amount >= 0, NaN
    for a negative amount (Sqrt), and -1 for a missing one (imputed 0, channel not "web"), so
    both labels and a non-finite score occur."""
    nodes = [
        *_impute_zero("amount", "amount_0"),
        helper.make_node("Sqrt", ["amount_0"], ["root"]),
        _const("ten", np.array([[10.0]], np.float64)),
        helper.make_node("Div", ["root", "ten"], ["scaled"]),
        helper.make_node(
            "LabelEncoder",
            ["channel"],
            ["channel_code"],
            domain="ai.onnx.ml",
            keys_strings=CHANNELS,
            values_int64s=[0, 1],
            default_int64=-1,
        ),
        _const("web_code", np.array([[0]], np.int64)),
        helper.make_node("Equal", ["channel_code", "web_code"], ["is_web"]),
        helper.make_node("Cast", ["is_web"], ["web"], to=TensorProto.DOUBLE),
        helper.make_node("Add", ["scaled", "web"], ["depth"]),
        helper.make_node("Neg", ["depth"], ["exponent"]),
        _const("two", np.array([[2.0]], np.float64)),
        helper.make_node("Pow", ["two", "exponent"], ["power"]),
        helper.make_node("Neg", ["power"], ["score"]),
        _const("offset", np.array([[ANOMALY_OFFSET]], np.float64)),
        helper.make_node("Sub", ["score", "offset"], ["decision"]),
        _const("zero", np.array([[0.0]], np.float64)),
        helper.make_node("Less", ["decision", "zero"], ["outlier"]),
        helper.make_node("Cast", ["outlier"], ["outlier_i64"], to=TensorProto.INT64),
        _const("two_i", np.array([[2]], np.int64)),
        helper.make_node("Mul", ["outlier_i64", "two_i"], ["twice"]),
        _const("one_i", np.array([[1]], np.int64)),
        helper.make_node("Sub", ["one_i", "twice"], ["label_2d"]),
        _const("flat", np.array([-1], np.int64)),
        helper.make_node("Reshape", ["label_2d", "flat"], ["label"]),
    ]
    metadata = _metadata(
        "fraud",
        "anomaly",
        [
            _numeric("amount", "amount", min=0.0, max=400.0),
            _categorical("channel", "channel", CHANNELS),
        ],
        offset=ANOMALY_OFFSET,
    )
    return _finish(
        nodes,
        [
            helper.make_tensor_value_info("amount", TensorProto.DOUBLE, ["N", 1]),
            helper.make_tensor_value_info("channel", TensorProto.STRING, ["N", 1]),
        ],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("score", TensorProto.DOUBLE, ["N", 1]),
        ],
        metadata,
    )


# Rows on the tree's edges and what the two trees must sum to (leaf values of tree 0 + tree 1).
TREE_EDGE_ROWS: list[dict[str, Any]] = [
    # NaN: node 0 tracks missing to true (-> node 1); node 1 and tree 1 send it to false
    {"x value": None, "y-value": None},
    {"x value": 0.5, "y-value": 10.0},  # exactly on both <= thresholds: true, true
    {"x value": 0.5000000000000001, "y-value": 3.25},  # one ulp above; 3.25 < 3.25 is false
    {"x value": -1.0, "y-value": 3.2499999999999996},  # one ulp below the < threshold
]
TREE_EXPECTED = [0.1 - math.pi, 1.25 - math.pi, -2.5 - math.pi, 1.25 + 1 / 3]


BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {
    "species": build_species_classifier,
    "species_int": lambda: build_species_classifier(int_labels=True),
    "mass": build_mass_regressor,
    "tree": build_tree_ensemble_regressor,
    "anomaly": build_anomaly_detector,
}


def rows_for(model_name: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Raw rows covering every branch: nulls, unseen categories, the sentinel, extreme values."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        number: float | None = float(rng.normal(45.0, 8.0))
        if i % 7 == 3:
            number = None
        elif i % 11 == 5:
            number = float(rng.integers(-3, 3))  # integral values, split thresholds
        if model_name in ("species", "species_int"):
            island = [*ISLANDS, None, "Atlantis", ""][i % 6]
            rows.append({"bill length (mm)": number, "island": island})
        elif model_name == "mass":
            rows.append({"flipper.length": number, "sex": [*SEXES, None, "?"][i % 4]})
        elif model_name == "anomaly":  # a negative amount: a NaN score (null in JSON)
            amount = [number, 0.0, -4.0, 1e-300, 1e300, 390.0, 2.25][i % 7]
            rows.append({"amount": amount, "channel": [*CHANNELS, None, "fax", ""][i % 5]})
        else:
            x = [None, 0.5, 0.49999999999999994, 0.5000000000000001, -1.0, 2.0][i % 6]
            y = [None, 10.0, 3.25, 3.2499999999999996, 1e300, -1e-300, number][i % 7]
            rows.append({"x value": x, "y-value": y})
    return rows


def predict_with_onnxruntime(model_path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reference: the contract implemented on onnxruntime's Python API, straight from the
    metadata (independent of serving/, which is written concurrently)."""
    model = onnx.load(str(model_path))
    meta = json.loads({p.key: p.value for p in model.metadata_props}["pipeport"])
    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    feeds: dict[str, np.ndarray] = {}
    for spec in meta["inputs"]:
        values = [row[spec["name"]] for row in rows]
        if spec["kind"] == "numeric":
            column = np.array([np.nan if v is None else v for v in values], np.float64)
        else:
            column = np.array(["" if v is None else v for v in values], dtype=object)
        feeds[spec["onnx_name"]] = column.reshape(-1, 1)
    if meta["task"] == "regression":
        (prediction,) = session.run([meta["outputs"]["prediction"]["onnx_name"]], feeds)
        return [{"prediction": float(x)} for x in prediction[:, 0]]
    outputs = meta["outputs"]
    if meta["task"] == "anomaly":  # the server's shape: int label, score (null if not finite)
        labels, scores = session.run(
            [outputs["label"]["onnx_name"], outputs["score"]["onnx_name"]], feeds
        )
        return [
            {"label": int(label), "score": float(score) if math.isfinite(score) else None}
            for label, score in zip(labels, scores[:, 0], strict=True)
        ]
    labels, probabilities = session.run(
        [outputs["label"]["onnx_name"], outputs["probabilities"]["onnx_name"]], feeds
    )
    keys = [str(c) for c in meta["classes"]]
    return [
        {
            "label": label.item() if isinstance(label, np.generic) else label,
            "probabilities": dict(zip(keys, map(float, probs), strict=True)),
        }
        for label, probs in zip(labels, probabilities, strict=True)
    ]


def max_abs_difference(
    expected: list[dict[str, Any]], actual: list[dict[str, Any]], tolerance: float = 1e-12
) -> float:
    """Assert the same labels and keys row by row and values within `tolerance`, absolute for
    values up to 1 and relative above (a sum of 200 trees near 3000 g differs by a few ulps,
    ~1e-12 absolute, when WASM adds in another order); return the largest absolute difference
    seen (0.0 means bit-for-bit equal)."""
    assert len(actual) == len(expected)
    worst = 0.0
    for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
        assert got.keys() == want.keys(), f"row {i}: {got} vs {want}"
        if "prediction" in want:
            pairs = [(want["prediction"], got["prediction"])]
        elif "score" in want:  # an anomaly model: int label -1/1, score a number or null
            assert got["label"] == want["label"] and type(got["label"]) is int, (
                f"row {i}: label {got['label']!r} vs {want['label']!r}"
            )
            if want["score"] is None:
                assert got["score"] is None, f"row {i}: score {got['score']!r}, expected null"
                continue
            pairs = [(want["score"], got["score"])]
        else:
            assert got["label"] == want["label"] and type(got["label"]) is type(want["label"]), (
                f"row {i}: label {got['label']!r} vs {want['label']!r}"
            )
            assert got["probabilities"].keys() == want["probabilities"].keys()
            pairs = [(p, got["probabilities"][k]) for k, p in want["probabilities"].items()]
        for w, g in pairs:
            assert isinstance(g, float), f"row {i}: {g!r} is not a float"
            diff = abs(w - g)
            allowed = tolerance * max(1.0, abs(w))
            assert diff <= allowed, f"row {i}: {g!r} vs {w!r} (|diff| {diff:.3g})"
            worst = max(worst, diff)
    return worst


def require(check: Callable[[], object]) -> None:
    """Fail, naming what to install, when the runtime is missing: a skipped client test would
    count a runtime nobody ran as green. `make test` installs node packages and chromium."""
    try:
        check()
    except RuntimeUnavailable as exc:
        pytest.fail(f"runtime not installed ({exc}); `make test` installs it")


def run_node_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a JavaScript snippet with node from clients/ (so require('./node/pipeport') works)."""
    return subprocess.run(
        [node_executable(), "-e", script, "--", *args],
        cwd=CLIENTS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
