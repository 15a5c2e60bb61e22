"""The parity harness: the same raw rows through every runtime, compared with scikit-learn.

scikit-learn is the reference; every other runtime is compared with it by
export.parity.compare, with the export gate's tolerances. A runtime that cannot run here is
reported as "not run" with the reason, and a run with any runtime not run or outside tolerance
is a failure: nothing counts as passed unless it ran.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
import pandas as pd

from pipeport.export.onnx_export import read_metadata
from pipeport.export.parity import ParityReport, compare, sklearn_outputs
from pipeport.parity_tests.rows import (
    edge_case_frame,
    frame_to_rows,
    property_rows,
    threshold_values,
)
from pipeport.parity_tests.runtimes import RuntimeUnavailable

ALL_RUNTIMES = ("sklearn", "onnxruntime", "reference", "http", "node", "browser")
HTTP_BATCH = 500


@dataclass
class RuntimeOutcome:
    runtime: str
    status: str  # "passed", "failed", "not run", "error"
    seconds: float = 0.0
    reason: str = ""
    report: ParityReport | None = None
    max_ulps: float | None = None
    outputs: dict[str, np.ndarray] | None = field(default=None, repr=False)


@dataclass
class ParityRun:
    model: str
    task: str
    rows: int
    sources: dict[str, int]
    outcomes: list[RuntimeOutcome]
    classes: list[Any]

    @property
    def passed(self) -> bool:
        return all(o.status == "passed" for o in self.outcomes)


# -- outputs of each runtime --------------------------------------------------------------------


def predictions_to_arrays(
    preds: list[dict[str, Any]], task: str, classes: list[Any]
) -> dict[str, np.ndarray]:
    """[{label, probabilities: {class: p}}] / [{prediction}] -> arrays in class order."""
    if task == "classification":
        keys = [str(c) for c in classes]
        return {
            "label": np.array([str(p["label"]) for p in preds], dtype=object),
            "probabilities": np.array(
                [
                    [
                        np.nan if p["probabilities"].get(k) is None else p["probabilities"][k]
                        for k in keys
                    ]
                    for p in preds
                ],
                dtype=np.float64,
            ).reshape(len(preds), len(keys)),
        }
    return {
        "prediction": np.array(
            [np.nan if p["prediction"] is None else p["prediction"] for p in preds],
            dtype=np.float64,
        )
    }


def _session_outputs(
    run: Callable[..., list[Any]], schema: Any, feeds: dict[str, Any]
) -> dict[str, np.ndarray]:
    keys = ["label", "probabilities"] if schema.task == "classification" else ["prediction"]
    values = run([schema.outputs[k] for k in keys], feeds)
    out = dict(zip(keys, (np.asarray(v) for v in values), strict=True))
    if "prediction" in out:
        out["prediction"] = out["prediction"].ravel()
    return out


def run_onnxruntime(model_path: Path, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The server's own path: serving.feeds.raw_rows_to_feeds, then one session.run."""
    from pipeport.contract import raw_rows_to_feeds
    from pipeport.serving.model import load_model

    loaded = load_model(model_path)
    feeds = raw_rows_to_feeds(rows, loaded.schema)
    return _session_outputs(loaded.session.run, loaded.schema, feeds)


def run_reference(model_path: Path, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """onnx.reference: an independent implementation of every operator, in numpy."""
    from onnx.reference import ReferenceEvaluator

    from pipeport.contract import raw_rows_to_feeds
    from pipeport.serving.model import load_model

    loaded = load_model(model_path)
    model = onnx.load(str(model_path))
    try:
        evaluator = ReferenceEvaluator(model)
    except (NotImplementedError, RuntimeError, TypeError) as exc:  # unknown operator, mostly
        raise RuntimeUnavailable(
            f"the ONNX reference evaluator cannot load this graph: {exc}"
        ) from None
    feeds = raw_rows_to_feeds(rows, loaded.schema)
    try:
        return _session_outputs(lambda names, f: evaluator.run(names, f), loaded.schema, feeds)
    except NotImplementedError as exc:
        raise RuntimeUnavailable(f"the ONNX reference evaluator lacks an operator: {exc}") from None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(
    model_path: Path, workers: int = 1, extra: list[str] | None = None
) -> Iterator[str]:
    """`pipeport serve` on a free loopback port; yields its base URL, stops it afterwards."""
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "pipeport",
        "serve",
        str(model_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--graceful-timeout",
        "1",
        *(extra or []),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"pipeport serve exited ({proc.returncode}): "
                    f"{proc.stderr.read()[-2000:] if proc.stderr else ''}"
                )
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("pipeport serve did not become ready in 30 s")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body, allow_nan=False).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code} from {url}: {exc.read()[:500]!r}") from None


def run_http(
    model_path: Path, rows: list[dict[str, Any]], task: str, classes: list[Any]
) -> dict[str, dict[str, np.ndarray]]:
    """The real server (gunicorn): rows through /v1/predict (JSON) and V2 infer (tritonclient)."""
    with running_server(model_path) as url:
        preds: list[dict[str, Any]] = []
        for start in range(0, len(rows), HTTP_BATCH):
            preds.extend(
                _post_json(f"{url}/v1/predict", {"rows": rows[start : start + HTTP_BATCH]})[
                    "predictions"
                ]
            )
        results = {"http": predictions_to_arrays(preds, task, classes)}
        results["http-v2"] = _run_v2(url, model_path, rows, task)
    return results


def _run_v2(
    url: str, model_path: Path, rows: list[dict[str, Any]], task: str
) -> dict[str, np.ndarray]:
    """Open Inference Protocol through NVIDIA's tritonclient (binary tensors: NaN and "" carry
    missing values, as the contract says for tensors)."""
    import tritonclient.http as httpclient

    meta = read_metadata(onnx.load(str(model_path), load_external_data=False))
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    keys = ["label", "probabilities"] if task == "classification" else ["prediction"]
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for start in range(0, len(rows), HTTP_BATCH):
        part = rows[start : start + HTTP_BATCH]
        tensors = []
        for spec in meta["inputs"]:
            values = [r[spec["name"]] for r in part]
            if spec["kind"] == "categorical":
                array = np.array(
                    [("" if v is None else v).encode("utf-8") for v in values], dtype=object
                )
                tensor = httpclient.InferInput(spec["name"], [len(part), 1], "BYTES")
            else:
                array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
                tensor = httpclient.InferInput(spec["name"], [len(part), 1], "FP64")
            tensor.set_data_from_numpy(array.reshape(-1, 1), binary_data=True)
            tensors.append(tensor)
        outputs = [httpclient.InferRequestedOutput(k, binary_data=True) for k in keys]
        result = client.infer(meta["name"], tensors, outputs=outputs)
        for k in keys:
            chunks[k].append(result.as_numpy(k))
    out = {k: np.concatenate(v) for k, v in chunks.items()}
    if "label" in out:
        out["label"] = np.array(
            [v.decode() if isinstance(v, bytes) else str(v) for v in out["label"].ravel()],
            dtype=object,
        )
    if "prediction" in out:
        out["prediction"] = out["prediction"].astype(np.float64).ravel()
    return out


def max_ulps(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray]) -> float:
    """Largest distance in float64 units-in-the-last-place between two runtimes' numbers."""
    key = "probabilities" if "probabilities" in expected else "prediction"
    a = np.asarray(expected[key], np.float64).ravel()
    b = np.asarray(actual[key], np.float64).ravel()
    if a.shape != b.shape or not len(a):
        return math.inf if a.shape != b.shape else 0.0
    ia, ib = a.view(np.int64), b.view(np.int64)
    ia = np.where(ia < 0, np.int64(-(2**63)) - ia, ia)  # order-preserving map of the bit patterns
    ib = np.where(ib < 0, np.int64(-(2**63)) - ib, ib)
    with np.errstate(over="ignore"):
        diff = np.abs(ia - ib).astype(np.float64)  # exact for same-sign values
    return float(np.where(np.isnan(a) | np.isnan(b), math.inf, diff).max())


# -- the run ------------------------------------------------------------------------------------


def load_rows(
    directory: Path,
    data: Path | None,
    inputs: list[dict[str, Any]],
    pipeline: Any,
    model: onnx.ModelProto,
    edge_cases: bool,
    n_property_rows: int = 0,
) -> tuple[pd.DataFrame, dict[str, int]]:
    source = data or directory / "holdout.csv"
    if not source.exists():
        raise FileNotFoundError(f"no rows to compare: {source} does not exist")
    frame = pd.read_parquet(source) if source.suffix in (".parquet", ".pq") else pd.read_csv(source)
    columns = [spec["name"] for spec in inputs]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{source} lacks the model's column(s): {', '.join(map(repr, missing))}")
    frames = [frame[columns]]
    sources = {source.name: len(frame)}
    if edge_cases:
        edges = edge_case_frame(frame, inputs, threshold_values(pipeline, model))
        frames.append(edges)
        sources["edge cases"] = len(edges)
    if n_property_rows:
        generated = property_rows(inputs, n_property_rows)
        frames.append(generated)
        sources["property-based (hypothesis)"] = len(generated)
    return pd.concat(frames, ignore_index=True), sources


def run_parity(
    directory: Path,
    runtimes: tuple[str, ...] = ALL_RUNTIMES,
    data: Path | None = None,
    edge_cases: bool = True,
    log: Callable[[str], None] = lambda m: None,
    property_rows: int = 0,
) -> ParityRun:
    model_path = directory / "pipeline.onnx"
    model = onnx.load(str(model_path))
    meta = read_metadata(model)
    pipeline = joblib.load(directory / "sklearn_pipeline.joblib")
    task = meta["task"]
    classes = meta.get("classes", [])
    frame, sources = load_rows(
        directory, data, meta["inputs"], pipeline, model, edge_cases, property_rows
    )
    rows = frame_to_rows(frame, meta["inputs"])
    log(
        f"{len(frame)} raw rows ({', '.join(f'{k}: {v}' for k, v in sources.items())}); "
        f"runtimes: {', '.join(runtimes)}"
    )

    started = time.perf_counter()
    expected = {k: np.asarray(v) for k, v in sklearn_outputs(pipeline, frame, task).items()}
    outcomes = [
        RuntimeOutcome(
            "sklearn", "passed", time.perf_counter() - started, "the reference", outputs=expected
        )
    ]
    if "prediction" in expected:
        expected["prediction"] = expected["prediction"].ravel()

    def judge(name: str, actual: dict[str, np.ndarray], seconds: float) -> None:
        report = compare(task, expected, actual, frame)
        outcomes.append(
            RuntimeOutcome(
                name,
                "passed" if report.passed else "failed",
                seconds,
                report=report,
                max_ulps=max_ulps(expected, actual),
                outputs=actual,
            )
        )
        log(f"{name}: {'passed' if report.passed else 'FAILED'} ({seconds:.1f} s)")

    single: dict[str, Callable[[], dict[str, np.ndarray]]] = {
        "onnxruntime": lambda: run_onnxruntime(model_path, rows),
        "reference": lambda: run_reference(model_path, rows),
        "node": lambda: _client_runtime("node", model_path, rows, task, classes),
        "browser": lambda: _client_runtime("browser", model_path, rows, task, classes),
    }
    for name in runtimes:
        if name == "sklearn":
            continue
        started = time.perf_counter()
        try:
            if name == "http":
                for sub, actual in run_http(model_path, rows, task, classes).items():
                    judge(sub, actual, time.perf_counter() - started)
                continue
            actual = single[name]()
        except RuntimeUnavailable as exc:
            outcomes.append(
                RuntimeOutcome(name, "not run", time.perf_counter() - started, str(exc))
            )
            log(f"{name}: NOT RUN: {exc}")
            continue
        except Exception as exc:  # a runtime that crashes is a result, not a harness crash
            outcomes.append(
                RuntimeOutcome(
                    name,
                    "error",
                    time.perf_counter() - started,
                    f"{type(exc).__name__}: {exc}"[:2000],
                )
            )
            log(f"{name}: ERROR: {type(exc).__name__}: {str(exc)[:300]}")
            continue
        judge(name, actual, time.perf_counter() - started)
    return ParityRun(meta["name"], task, len(frame), sources, outcomes, classes)


def _client_runtime(
    name: str, model_path: Path, rows: list[dict[str, Any]], task: str, classes: list[Any]
) -> dict[str, np.ndarray]:
    if name == "node":
        from pipeport.parity_tests.runtimes.node import run_node as run
    else:
        from pipeport.parity_tests.runtimes.browser import run_browser as run
    return predictions_to_arrays(run(model_path, rows), task, classes)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
