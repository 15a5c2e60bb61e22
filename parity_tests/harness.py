"""The parity harness: the same raw rows through every runtime, compared with scikit-learn.

scikit-learn is the reference, fed the raw DataFrame; every other runtime is fed the JSON rows a
client would send for it (pipeport.contract.frame_to_rows) and compared with it by
export.parity.compare, with the export gate's tolerances. Rows the contract refuses (a missing or
unseen value where scikit-learn raises) are not compared; scikit-learn must refuse them too. A
runtime that cannot run here is reported as "not run" with the reason, and a run with any runtime
not run or outside tolerance is a failure: nothing counts as passed unless it ran.
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
import pandas as pd

from pipeport.contract import converter, frame_to_rows
from pipeport.errors import ParityError
from pipeport.export.onnx_export import read_metadata, refused_by_sklearn
from pipeport.export.parity import ParityReport, compare, sklearn_outputs
from pipeport.export.raw_inputs import as_raw_frame, concat_like, retype_like
from pipeport.parity_tests.rows import (
    edge_case_frame,
    property_rows,
    split_admissible,
    threshold_values,
)
from pipeport.parity_tests.runtimes import RuntimeUnavailable
from pipeport.schema import ROW_VALUE_OUTPUTS, ModelSchema

ALL_RUNTIMES = ("sklearn", "onnxruntime", "reference", "http", "node", "browser")
#: What `pipeport.check_parity` runs unless told otherwise: no server, no Node.js, no browser.
DEFAULT_RUNTIMES = ("sklearn", "onnxruntime", "reference")
HTTP_BATCH = 500
#: Runtimes whose outputs travel as JSON (where a non-finite number is null).
JSON_RUNTIMES = ("http", "node", "browser")
#: Rows the contract refuses that are each shown to scikit-learn, which must refuse them too.
REFUSALS_CHECKED = 50
#: Why a runtime the caller did not ask for is "not run".
LEFT_OUT = "left out by --runtimes (not asked for)"


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
    #: Runtimes the caller left out (`--runtimes`): reported "not run", not judged.
    left_out: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every runtime that was asked for ran and agreed (left-out ones are not judged)."""
        return all(o.status == "passed" for o in self.outcomes)

    def summary(self) -> str:
        """One line per runtime, then the worst rows of the first that failed."""
        lines = []
        for o in self.outcomes:
            r = o.report
            if r is None:
                detail = o.reason
            elif self.task == "anomaly":  # labels -1/1 and scores: no probabilities, no ties
                detail = (
                    f"{r.rows} rows, label mismatches {r.label_mismatches}, "
                    f"max abs score error {r.max_abs_error:.2g}"
                )
            else:
                detail = (
                    f"{r.rows} rows, label mismatches {r.label_mismatches}, "
                    f"max abs {r.max_abs_error:.2g}, max rel {r.max_rel_error:.2g}"
                )
            lines.append(f"{o.runtime}: {o.status.upper()} ({detail})")
        for name in self.left_out:
            lines.append(f"{name}: NOT RUN ({LEFT_OUT})")
        failed = next((o for o in self.outcomes if o.report and not o.report.passed), None)
        if failed is not None and failed.report is not None:
            lines.append(f"worst rows in {failed.runtime}:")
            lines.append(failed.report.table())
        return "\n".join(lines)


# -- outputs of each runtime --------------------------------------------------------------------


def predictions_to_arrays(
    preds: list[dict[str, Any]], task: str, classes: list[Any]
) -> dict[str, np.ndarray]:
    """[{label, probabilities: {class: p}}] / [{prediction}] / [{label, score}] -> arrays
    (probabilities in class order). JSON has no NaN or infinity: a null number (a non-finite
    output) becomes NaN. An anomaly model's labels (-1 outlier, 1 inlier) are int64, its
    scores float64, one per row."""
    if task == "anomaly":
        return {
            "label": np.array([_int_label(i, p["label"]) for i, p in enumerate(preds)], np.int64),
            "score": np.array(
                [np.nan if p["score"] is None else p["score"] for p in preds], dtype=np.float64
            ).reshape(len(preds)),
        }
    if task == "classification":
        keys = [str(c) for c in classes]
        labels = {"label": np.array([str(p["label"]) for p in preds], dtype=object)}
        if preds and "probabilities" not in preds[0]:  # a classifier without predict_proba
            return labels
        return {
            **labels,
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


def _int_label(row: int, value: Any) -> int:
    """An anomaly label from JSON: an integer (-1.0 is -1: JSON has one number type); anything
    else (a string, null, 0.5) is a broken runtime, not a label to round."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"row {row}: label {value!r} is not an integer (-1 or 1)")
    return value


def _session_outputs(
    run: Callable[..., list[Any]], schema: Any, feeds: dict[str, Any]
) -> dict[str, np.ndarray]:
    keys = list(schema.output_keys())
    values = run([schema.outputs[k] for k in keys], feeds)
    out = dict(zip(keys, (np.asarray(v) for v in values), strict=True))
    for key in ROW_VALUE_OUTPUTS:  # [N, 1] in the graph; one value per row here
        if key in out:
            out[key] = out[key].ravel()
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
        return _session_outputs(
            lambda names, f: list(evaluator.run(names, f)), loaded.schema, feeds
        )
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

    schema = ModelSchema.from_metadata(read_metadata(model_path))
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    keys = list(schema.output_keys())
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for start in range(0, len(rows), HTTP_BATCH):
        part = rows[start : start + HTTP_BATCH]
        tensors = []
        for spec in schema.inputs:
            # a tensor holds the graph's encoding (the contract's: NaN / "" for missing)
            encode = converter(spec)
            values = [encode(r[spec.name]) for r in part]
            if spec.kind == "categorical":
                array = np.array([v.encode("utf-8") for v in values], dtype=object)
                tensor = httpclient.InferInput(spec.name, [len(part), 1], "BYTES")
            else:
                array = np.array(values, dtype=np.float64)
                tensor = httpclient.InferInput(spec.name, [len(part), 1], "FP64")
            tensor.set_data_from_numpy(array.reshape(-1, 1), binary_data=True)
            tensors.append(tensor)
        outputs = [httpclient.InferRequestedOutput(k, binary_data=True) for k in keys]
        result = client.infer(schema.name, tensors, outputs=outputs)
        for k in keys:
            chunks[k].append(result.as_numpy(k))
    out = {k: np.concatenate(v) for k, v in chunks.items()}
    if task == "anomaly":  # label INT64 [N] (-1, 1), score FP64 [N, 1]
        return {
            "label": out["label"].astype(np.int64).ravel(),
            "score": out["score"].astype(np.float64).ravel(),
        }
    if "label" in out:
        out["label"] = np.array(
            [v.decode() if isinstance(v, bytes) else str(v) for v in out["label"].ravel()],
            dtype=object,
        )
    if "prediction" in out:
        out["prediction"] = out["prediction"].astype(np.float64).ravel()
    return out


def max_ulps(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray]) -> float:
    """Largest distance in float64 units-in-the-last-place between two runtimes' numbers
    (probabilities, regression values or an anomaly model's scores)."""
    key = next((k for k in ("probabilities", "prediction", "score") if k in expected), "")
    if key not in expected or key not in actual:  # a classifier that returns labels only
        return 0.0
    a = np.asarray(expected[key], np.float64).ravel()
    b = np.asarray(actual[key], np.float64).ravel()
    if a.shape != b.shape or not len(a):
        return math.inf if a.shape != b.shape else 0.0
    ia, ib = a.view(np.int64), b.view(np.int64)
    ia = np.where(ia < 0, np.int64(-(2**63)) - ia, ia)  # order-preserving map of the bit patterns
    ib = np.where(ib < 0, np.int64(-(2**63)) - ib, ib)
    with np.errstate(over="ignore"):
        diff = np.abs(ia - ib).astype(np.float64)  # exact for same-sign values
    # NaN on both sides agrees, as in compare (a JSON runtime's reference already has NaN where
    # scikit-learn's number is not finite); NaN on one side only is infinitely far
    diff = np.where(np.isnan(a) != np.isnan(b), math.inf, np.where(np.isnan(a), 0.0, diff))
    return float(diff.max())


# -- the run ------------------------------------------------------------------------------------


def comparison_rows(
    pipeline: Any,
    frame: pd.DataFrame,
    schema: ModelSchema,
    sources: dict[str, int],
    edge_cases: bool,
    n_property_rows: int = 0,
) -> pd.DataFrame:
    """The given rows, plus edge cases and hypothesis rows built from the schema."""
    frames = [frame]
    if edge_cases:
        edges = edge_case_frame(frame, schema, threshold_values(pipeline, frame))
        frames.append(edges)
        sources["edge cases"] = len(edges)
    if n_property_rows:
        generated = property_rows(frame, schema, n_property_rows)
        frames.append(generated)
        sources["property-based (hypothesis)"] = len(generated)
    return concat_like(frames, frame)


def _refusals(
    pipeline: Any, frame: pd.DataFrame, refused: list[int], by_name: bool, started: float
) -> RuntimeOutcome:
    """The contract refuses these rows in every runtime; scikit-learn must refuse them too."""
    answered = []
    for i in refused[:REFUSALS_CHECKED]:
        try:
            sklearn_outputs(pipeline, frame.iloc[[i]], "regression", by_name)
        except Exception:  # scikit-learn refuses the row: as the contract does
            continue
        answered.append(i)
    checked = min(len(refused), REFUSALS_CHECKED)
    if answered:
        return RuntimeOutcome(
            "contract",
            "failed",
            time.perf_counter() - started,
            f"{len(answered)} of {checked} rows the contract refuses are answered by "
            f"scikit-learn (rows {answered[:10]})",
        )
    return RuntimeOutcome(
        "contract",
        "passed",
        time.perf_counter() - started,
        f"{len(refused)} rows refused (a missing or unseen value scikit-learn refuses); "
        f"scikit-learn refuses the {checked} checked too",
    )


def run_parity(*args: Any, **kwargs: Any) -> ParityRun:
    """The same raw rows through scikit-learn and every runtime in `runtimes`, compared.
    (Warnings the pipeline's steps give on the generated stress rows, unseen categories and
    far-out values, are expected and not shown.)"""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _run_parity(*args, **kwargs)


def _run_parity(
    pipeline: Any,
    model_path: Path,
    frame: pd.DataFrame,
    runtimes: tuple[str, ...] = ALL_RUNTIMES,
    *,
    edge_cases: bool = True,
    log: Callable[[str], None] = lambda m: None,
    property_rows: int = 0,
    source_name: str = "rows",
) -> ParityRun:
    """The same raw rows through scikit-learn and every runtime in `runtimes`, compared."""
    meta = read_metadata(model_path)
    schema = ModelSchema.from_metadata(meta, str(model_path))
    task = schema.task
    classes = list(schema.classes)
    frame, _names, by_name = as_raw_frame(pipeline, frame)
    sample = frame
    sources = {source_name: len(frame)}
    everything = comparison_rows(pipeline, frame, schema, sources, edge_cases, property_rows)
    frame, refused = split_admissible(everything, schema)
    frame = retype_like(frame, sample)  # a bool column is bool again without the refused rows
    started = time.perf_counter()
    # rows scikit-learn raises on beyond what the contract refuses (an exp that overflows into
    # a model): nothing to compare them with; left out and reported, as the gate does
    unanswered = refused_by_sklearn(pipeline, frame, task, by_name)
    if unanswered:
        frame = frame.drop(index=[i for i, _ in unanswered]).reset_index(drop=True)
    rows = frame_to_rows(frame, schema)
    log(
        f"{len(frame)} raw rows ({', '.join(f'{k}: {v}' for k, v in sources.items())}"
        f"{f'; {len(refused)} refused by the contract' if refused else ''}"
        f"{f'; {len(unanswered)} scikit-learn raises on' if unanswered else ''}); "
        f"runtimes: {', '.join(runtimes)}"
    )
    expected = {
        k: np.asarray(v)
        for k, v in sklearn_outputs(pipeline, frame, task, by_name, schema.output_keys()).items()
    }
    reason = "the reference"
    if unanswered:
        reason += (
            f"; {len(unanswered)} rows left out: scikit-learn raises on them "
            f"(e.g. {unanswered[0][1]}) and the contract cannot refuse them"
        )
    outcomes = [
        RuntimeOutcome("sklearn", "passed", time.perf_counter() - started, reason, outputs=expected)
    ]
    if refused:
        outcomes.append(_refusals(pipeline, everything, refused, by_name, time.perf_counter()))

    def judge(name: str, actual: dict[str, np.ndarray], seconds: float) -> None:
        reference = expected
        if name in JSON_RUNTIMES:  # JSON has no inf or NaN: a non-finite output arrives as null
            reference = {
                k: np.where(np.isfinite(v), v, np.nan) if v.dtype.kind == "f" else v
                for k, v in expected.items()
            }
        report = compare(task, reference, actual, frame)
        outcomes.append(
            RuntimeOutcome(
                name,
                "passed" if report.passed else "failed",
                seconds,
                report=report,
                max_ulps=max_ulps(reference, actual),
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
    left_out = [name for name in ALL_RUNTIMES if name not in runtimes]
    return ParityRun(schema.name, task, len(frame), sources, outcomes, classes, left_out)


def read_rows(path: Path) -> pd.DataFrame:
    """Raw rows from a CSV or Parquet file, as pandas reads them (as training read its data)."""
    if not path.exists():
        raise FileNotFoundError(f"no rows to compare: {path} does not exist")
    return pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)


def run_parity_dir(
    directory: Path,
    runtimes: tuple[str, ...] = ALL_RUNTIMES,
    data: Path | None = None,
    edge_cases: bool = True,
    log: Callable[[str], None] = lambda m: None,
    property_rows: int = 0,
) -> ParityRun:
    """`pipeport parity DIR`: the artifacts folder of `pipeport train` + `pipeport export`."""
    source = data or directory / "holdout.csv"
    return run_parity(
        joblib.load(directory / "sklearn_pipeline.joblib"),
        directory / "pipeline.onnx",
        read_rows(source),
        runtimes,
        edge_cases=edge_cases,
        log=log,
        property_rows=property_rows,
        source_name=source.name,
    )


def check_parity(
    pipeline: Any,
    model: str | Path | onnx.ModelProto,
    raw_rows: pd.DataFrame,
    runtimes: Sequence[str] = DEFAULT_RUNTIMES,
    *,
    edge_cases: bool = True,
    property_rows: int = 0,
    report_dir: str | Path | None = None,
) -> ParityRun:
    """Prove a pipeport ONNX file returns what `pipeline` returns, in each runtime, on the raw
    rows of `raw_rows` (plus edge cases and, if asked, hypothesis rows built from the file's
    schema). Returns the run; raises ParityError naming the worst rows when any runtime is
    outside tolerance, fails, or cannot run. `report_dir`: also write report.json/report.html.

    Runtimes: "sklearn" (always), "onnxruntime", "reference" (onnx.reference), "http" (a real
    `pipeport serve` on a loopback port), "node" (onnxruntime-node), "browser" (onnxruntime-web
    in headless Chromium).
    """
    names = tuple(dict.fromkeys(["sklearn", *runtimes]))
    unknown = [n for n in names if n not in ALL_RUNTIMES]
    if unknown:
        raise ValueError(f"unknown runtime(s) {unknown}; choose from {', '.join(ALL_RUNTIMES)}")
    with _model_file(model) as path:
        run = run_parity(
            pipeline, path, raw_rows, names, edge_cases=edge_cases, property_rows=property_rows
        )
    if report_dir is not None:
        from pipeport.parity_tests.report import write_reports

        write_reports(run, Path(report_dir))
    if not run.passed:
        raise ParityError(f"parity FAILED for {run.model}:\n{run.summary()}", run)
    return run


@contextlib.contextmanager
def _model_file(model: str | Path | onnx.ModelProto) -> Iterator[Path]:
    if not isinstance(model, onnx.ModelProto):
        yield Path(model)
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pipeport-parity-") as tmp:
        path = Path(tmp) / "model.onnx"
        path.write_bytes(model.SerializeToString())
        yield path


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
