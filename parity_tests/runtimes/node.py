"""Run a pipeport ONNX file in Node.js (onnxruntime-node) through clients/node/predict.js.

The parity harness feeds the same raw rows to every runtime; this adapter goes through the CLI a
Node.js user would run, so what is proven equal is what ships. Rows travel as a JSONL file and
predictions come back as JSON lines, parsed with Python's json (shortest round-trip float repr on
both sides, so float64 values cross unchanged).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pipeport.parity_tests.runtimes import RuntimeFailed, RuntimeUnavailable

CLIENTS_DIR = Path(__file__).resolve().parents[2] / "clients"
PREDICT_JS = CLIENTS_DIR / "node" / "predict.js"
INSTALL_HINT = "cd clients && ONNXRUNTIME_NODE_INSTALL=skip npm ci"
TIMEOUT_SECONDS = 600.0


def float_values(prediction: dict[str, Any]) -> dict[str, Any]:
    """JSON has one number type: JavaScript writes the float 0.0 as `0`, which Python reads as
    int. Probabilities, regression values and anomaly scores are float64 by contract, so make
    them float again (exact: every JSON integer a float64 produced is a float64); null (a
    non-finite value) stays None. Labels are left as they came (an anomaly model's are ints)."""
    if "probabilities" in prediction:
        prediction["probabilities"] = {
            k: None if v is None else float(v) for k, v in prediction["probabilities"].items()
        }
    for key in ("prediction", "score"):
        if prediction.get(key) is not None:
            prediction[key] = float(prediction[key])
    return prediction


def node_executable() -> str:
    """The `node` binary to use, or RuntimeUnavailable saying how to get one and the packages."""
    node = os.environ.get("PIPEPORT_NODE") or shutil.which("node")
    if node is None or not Path(node).is_file():
        raise RuntimeUnavailable(
            f"Node.js is not installed ({node or 'no `node` on PATH'}); "
            "install Node.js 18 or later (apt-get install nodejs)"
        )
    if not (CLIENTS_DIR / "node_modules" / "onnxruntime-node" / "package.json").is_file():
        raise RuntimeUnavailable(
            f"onnxruntime-node is not installed in {CLIENTS_DIR / 'node_modules'}; "
            f"run: {INSTALL_HINT}"
        )
    return node


def run_node(model_path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Predict raw rows with onnxruntime-node; one prediction dict per row, in row order.

    The CLI streams its input in batches, so thousands of rows cost one process start.
    """
    node = node_executable()
    with tempfile.TemporaryDirectory(prefix="pipeport-node-") as tmp:
        rows_path = Path(tmp) / "rows.jsonl"
        with rows_path.open("w", encoding="utf-8") as f:
            for row in rows:
                # allow_nan=False: NaN/Infinity are not JSON; the contract says null for missing
                f.write(json.dumps(row, allow_nan=False, ensure_ascii=False) + "\n")
        proc = subprocess.run(
            [node, str(PREDICT_JS), str(Path(model_path).resolve()), str(rows_path)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeFailed(f"node predict.js exited with status {proc.returncode}", proc.stderr)
    predictions = [
        float_values(json.loads(line)) for line in proc.stdout.splitlines() if line.strip()
    ]
    if len(predictions) != len(rows):
        raise RuntimeFailed(
            f"node predict.js returned {len(predictions)} predictions for {len(rows)} rows",
            proc.stderr,
        )
    return predictions
