#!/usr/bin/env python
"""Where the time goes, in one process (no HTTP, no server): the figures behind the README's
explanations of bench/serve.py's results.

Request path (µs per single-row request, best of --repeats runs of --requests calls each):
  - pipeport's WSGI app on POST /v1/predict, through its fast path and with the fast path off
    (every request through the Flask view), against bench/echo_app.py (parse JSON, return a
    constant); the WSGI apps are called directly with a prepared environ;
  - the pieces of pipeport's path: raw_rows_to_feeds, the model's run, and both together;
  - the production loop's costs: the fast path without the drift counters (on by default), the
    drift counting alone, and the fast path logging every request (--log-predictions, sample 1)
    with and without a shadow model (the same file): the log's writer thread runs in this
    process, so its encoding, the shadow's run and the writes are inside the times.

Cold start (ms per step of `pipeport serve` before granian forks, median of --cold-runs fresh
interpreters): starting Python, importing Flask, granian and uvloop, numpy, onnxruntime and
pipeport's serving modules, loading the model, building the app.

Batch (seconds per --batch-rows rows, one thread, median of --batch-repeats):
  - onnxruntime: the exported graph, and its TreeEnsemble node alone (onnxruntime's profiler);
  - skl2onnx's own float32 TreeEnsembleClassifier for the same forest, on the same rows;
  - scikit-learn: the forest alone, and the whole pipeline.

    python bench/inprocess.py [--model DIR/pipeline.onnx] [--out bench/results/inprocess.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_ARTIFACTS = ROOT / "artifacts" / "penguins-species"


def _per_call_us(fn: Callable[[], Any], number: int, repeats: int) -> float:
    fn()  # warm
    return min(timeit.repeat(fn, number=number, repeat=repeats)) / number * 1e6


def _interleaved_us(
    cases: dict[str, Callable[[], Any]],
    number: int,
    repeats: int,
    after: dict[str, Callable[[], Any]] | None = None,
) -> dict[str, float]:
    """µs per call of each case: `repeats` rounds, each timing `number` calls of every case in
    turn (so a busy moment of the machine hits all cases alike), best round kept. `after[name]`
    runs inside the timed region after the calls (the prediction log's writing: its cost is
    the request's, whichever thread does it)."""
    after = after or {}
    best = dict.fromkeys(cases, float("inf"))
    for fn in cases.values():
        fn()  # warm
    for finish in after.values():
        finish()
    for _ in range(repeats):
        for name, fn in cases.items():
            finish = after.get(name)
            start = time.perf_counter()
            for _ in range(number):
                fn()
            if finish is not None:
                finish()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: seconds / number * 1e6 for name, seconds in best.items()}


def _median_s(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _first_row(holdout: Path, schema: Any) -> dict[str, Any]:
    import csv

    with open(holdout, newline="") as handle:
        first = next(csv.DictReader(handle))
    return {
        spec.name: None
        if first[spec.name] == ""
        else float(first[spec.name])
        if spec.kind == "numeric"
        else first[spec.name]
        for spec in schema.inputs
    }


def request_path(model_path: Path, holdout: Path, number: int, repeats: int) -> dict[str, Any]:
    from bench.echo_app import app as echo
    from pipeport.contract import raw_rows_to_feeds
    from pipeport.serving.app import ServingSettings, create_app
    from pipeport.serving.predlog import LogSettings

    fast = create_app(model_path)
    flask_only = create_app(model_path, ServingSettings(fast_path=False))
    no_drift = create_app(model_path, ServingSettings(drift=False))
    logs = tempfile.TemporaryDirectory(prefix="pipeport-bench-log-")
    logged = create_app(model_path, ServingSettings(log=LogSettings(Path(logs.name) / "log")))
    shadowed = create_app(
        model_path,
        ServingSettings(log=LogSettings(Path(logs.name) / "shadow"), shadow_model=str(model_path)),
    )
    model = fast.extensions["pipeport"].model
    row = _first_row(holdout, model.schema)
    body = json.dumps({"rows": [row]}).encode()

    def call(app: Any) -> Callable[[], bytes]:
        def once() -> bytes:
            environ = {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/v1/predict",
                "QUERY_STRING": "",
                "SERVER_NAME": "bench",
                "SERVER_PORT": "80",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "HTTP_HOST": "bench",
                "wsgi.url_scheme": "http",
                "CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(body)),
                "wsgi.input": io.BytesIO(body),
            }
            statuses: list[str] = []
            result = app(environ, lambda status, headers, exc=None: statuses.append(status))
            payload = b"".join(result)
            if hasattr(result, "close"):
                result.close()
            if not statuses or not statuses[0].startswith("200"):
                raise RuntimeError(f"{statuses}: {payload[:200]!r}")
            return payload

        return once

    names = list(model.schema.outputs.values())
    feeds = raw_rows_to_feeds([row], model.schema)
    drift = fast.extensions["pipeport"].drift
    cases = {
        "pipeport_fast_path": call(fast),
        "pipeport_flask_only": call(flask_only),
        "echo_app": call(echo),
        "raw_rows_to_feeds": lambda: raw_rows_to_feeds([row], model.schema),
        "model_run": lambda: model.run(names, feeds),
        "public_session_run": lambda: model.session.run(names, feeds),
        "feeds_and_run": lambda: model.run(names, raw_rows_to_feeds([row], model.schema)),
        # the production loop (issue 14): drift counters are on by default
        "pipeport_fast_path_without_drift_counters": call(no_drift),
        "drift_counting_alone": lambda: drift.observe(feeds),
        # the writer thread runs in this process: its encoding and writing are in the time
        "pipeport_fast_path_logging_every_request": call(logged),
        "pipeport_fast_path_logging_and_a_shadow_model": call(shadowed),
    }
    writes = {  # written out before the clock stops (drained: the writer thread is then idle)
        "pipeport_fast_path_logging_every_request": logged.extensions["pipeport"].prediction_log,
        "pipeport_fast_path_logging_and_a_shadow_model": shadowed.extensions[
            "pipeport"
        ].prediction_log,
    }
    result = _interleaved_us(
        cases, number, repeats, {name: log._drain for name, log in writes.items()}
    )
    for app in (logged, shadowed):
        app.extensions["pipeport"].close()
    logs.cleanup()
    result["pipeport_rsgi_bridge"] = _bridge_us(fast, body, number, repeats)
    return result


def _bridge_us(app: Any, body: bytes, number: int, repeats: int) -> float:
    """µs per request through serving.bridge (granian's RSGI front door, fast path included)
    on a uvloop event loop, with a stand-in for granian's scope and protocol objects."""
    import asyncio

    import uvloop

    from pipeport.serving.bridge import RsgiBridge

    bridge = RsgiBridge(app, 30.0)

    class Scope:
        proto, method, path, query_string = "http", "POST", "/v1/predict", ""
        server, client, scheme, http_version = "bench:80", "bench:1", "http", "1.1"
        headers = {"content-type": "application/json", "content-length": str(len(body))}

    class Protocol:
        status = 0

        async def __call__(self) -> bytes:
            return body

        def response_bytes(self, status: int, headers: Any, payload: bytes) -> None:
            self.status = status

    async def timed() -> float:
        scope, protocol = Scope(), Protocol()
        await bridge(scope, protocol)
        if protocol.status != 200:
            raise RuntimeError(f"bridge answered {protocol.status}")
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(number):
                await bridge(scope, protocol)
            best = min(best, time.perf_counter() - start)
        return best / number * 1e6

    async def in_a_task() -> float:
        return await asyncio.get_running_loop().create_task(timed())

    return uvloop.run(in_a_task())


def batch(model_path: Path, sklearn_path: Path, holdout: Path, rows: int, repeats: int) -> Any:
    import joblib
    import numpy as np
    import onnxruntime as ort
    import pandas as pd
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    from pipeport.contract import columns_to_feeds
    from pipeport.serving.model import load_model, session_options

    model = load_model(model_path, threads=1)
    schema = model.schema
    names = list(schema.input_names)
    sample = (
        pd.read_csv(holdout)[names]
        .sample(n=rows, replace=True, random_state=0)
        .reset_index(drop=True)
    )
    columns: dict[str, Any] = {}
    for spec in schema.inputs:
        column = sample[spec.name]
        if spec.kind == "numeric":
            columns[spec.name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            columns[spec.name] = column.to_numpy(dtype=object, na_value="")
    feeds = columns_to_feeds(columns, schema)
    outputs = list(schema.outputs.values())

    pipeline = joblib.load(sklearn_path)
    forest = pipeline[-1]
    if hasattr(forest, "n_jobs"):
        forest.n_jobs = 1
    features = pipeline[:-1].transform(sample)
    features = np.asarray(features.toarray() if hasattr(features, "toarray") else features)

    # The graph's own TreeEnsemble node, timed by onnxruntime's profiler over `repeats` runs.
    options = session_options(1)
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "profile")
        profiled = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        for _ in range(repeats + 1):
            profiled.run(outputs, feeds)
        events = json.loads(Path(profiled.end_profiling()).read_text())
    kernel: dict[str, list[float]] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op = event.get("args", {}).get("op_name", "?")
            kernel.setdefault(op, []).append(event["dur"] / 1e6)
    runs = repeats + 1
    node_s = {op: sum(d) / runs for op, d in kernel.items()}

    skl2onnx_float32 = convert_sklearn(
        forest,
        initial_types=[("x", FloatTensorType([None, features.shape[1]]))],
        options={id(forest): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    plain = ort.InferenceSession(
        skl2onnx_float32.SerializeToString(),
        session_options(1),
        providers=["CPUExecutionProvider"],
    )
    x32 = features.astype(np.float32)

    result = {
        "rows": rows,
        "estimator": type(forest).__name__,
        "onnxruntime_graph_s": _median_s(lambda: model.run(outputs, feeds), repeats),
        "onnxruntime_tree_ensemble_node_s": node_s.get("TreeEnsemble"),
        "onnxruntime_other_nodes_s": sum(v for k, v in node_s.items() if k != "TreeEnsemble"),
        "skl2onnx_float32_tree_ensemble_classifier_s": _median_s(
            lambda: plain.run(None, {"x": x32}), repeats
        ),
        "sklearn_forest_alone_s": _median_s(lambda: forest.predict_proba(features), repeats),
        "sklearn_pipeline_s": _median_s(lambda: pipeline.predict_proba(sample), repeats),
        "nodes_by_op_s": node_s,
    }
    return result


# Run in a fresh interpreter: the steps of `pipeport serve` before granian forks, in its order
# of imports, each timed. Flask is what the echo app pays too (and gunicorn, ~15 ms, instead of
# granian).
_COLD_START_CHILD = """
import json, sys, time
t = time.perf_counter
marks = [("start", t())]
sys.path.insert(0, sys.argv[1])
import flask; marks.append(("import flask", t()))
import granian.server.mp, uvloop; marks.append(("import granian and uvloop", t()))
import numpy; marks.append(("import numpy", t()))
import onnxruntime; marks.append(("import onnxruntime", t()))
import pipeport.cli, pipeport.serving.cli, pipeport.serving.app, pipeport.serving.granian_app
marks.append(("import pipeport's serving modules", t()))
from pipeport.serving.model import load_model
model = load_model(sys.argv[2]); marks.append(("load the model", t()))
from pipeport.serving.app import ServingSettings, create_app_for_model
create_app_for_model(model, ServingSettings()); marks.append(("build the app", t()))
print(json.dumps([(b[0], b[1] - a[1]) for a, b in zip(marks, marks[1:])]))
"""


def cold_start_pieces(model_path: Path, runs: int) -> dict[str, float]:
    """Median seconds of each step above over `runs` fresh interpreters, plus the interpreter."""
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "pipeport", "research", "export", "serving"],
        cwd=ROOT,
        check=True,
    )
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.setdefault("start Python (site, no imports)", []).append(time.perf_counter() - t0)
        done = subprocess.run(
            [sys.executable, "-c", _COLD_START_CHILD, str(ROOT), str(model_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        for name, seconds in json.loads(done.stdout):
            samples.setdefault(name, []).append(seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/inprocess.py",
        description="In-process costs behind bench/serve.py: per-request µs of pipeport's WSGI "
        "app (fast path and Flask-only) vs the echo app, and where batch time goes "
        "(onnxruntime's TreeEnsemble vs the rest, skl2onnx's float32 forest, scikit-learn).",
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS / "pipeline.onnx")
    parser.add_argument(
        "--sklearn", type=Path, default=DEFAULT_ARTIFACTS / "sklearn_pipeline.joblib"
    )
    parser.add_argument("--holdout", type=Path, default=DEFAULT_ARTIFACTS / "holdout.csv")
    parser.add_argument("--requests", type=int, default=2000, help="calls per timing run")
    parser.add_argument("--repeats", type=int, default=7, help="timing runs (best is kept)")
    parser.add_argument(
        "--cold-runs", type=int, default=7, help="fresh interpreters timed (median kept)"
    )
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--batch-repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "inprocess.json")
    args = parser.parse_args(argv)
    for path in (args.model, args.sklearn, args.holdout):
        if not path.exists():
            print(f"bench/inprocess.py: {path} missing; run `make export` first", file=sys.stderr)
            return 2
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print("request path…", file=sys.stderr)
    path = request_path(args.model, args.holdout, args.requests, args.repeats)
    print("cold start pieces…", file=sys.stderr)
    cold = cold_start_pieces(args.model, args.cold_runs)
    print("batch…", file=sys.stderr)
    scoring = batch(args.model, args.sklearn, args.holdout, args.batch_rows, args.batch_repeats)
    lines = [
        f"Single-row `POST /v1/predict`, WSGI app called in-process, best of {args.repeats} × "
        f"{args.requests} calls:",
        "",
        "| what | µs per call |",
        "|---|---:|",
        *(f"| {name.replace('_', ' ')} | {us:.1f} |" for name, us in path.items()),
        "",
        f"Cold start of `pipeport serve` before granian forks, step by step, median of "
        f"{args.cold_runs} fresh interpreters:",
        "",
        "| step | ms |",
        "|---|---:|",
        *(f"| {name} | {seconds * 1000:.0f} |" for name, seconds in cold.items()),
        "",
        f"Batch, {scoring['rows']:,} rows, one thread, median of {args.batch_repeats} "
        f"({scoring['estimator']}):",
        "",
        "| what | seconds |",
        "|---|---:|",
    ]
    for key in (
        "onnxruntime_graph_s",
        "onnxruntime_tree_ensemble_node_s",
        "onnxruntime_other_nodes_s",
        "skl2onnx_float32_tree_ensemble_classifier_s",
        "sklearn_forest_alone_s",
        "sklearn_pipeline_s",
    ):
        value = scoring[key]
        shown = "n/a" if value is None else f"{value:.3f}"
        lines.append(f"| {key.removesuffix('_s').replace('_', ' ')} | {shown} |")
    table = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"request_path_us": path, "cold_start_s": cold, "batch": scoring, "markdown": table},
            indent=2,
        )
        + "\n"
    )
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
