"""The exported graph against the library's own predict: LightGBM and XGBoost, one core each.

    python bench/boosting.py [--trees 300] [--rows 100000] [--repeats 2000] [--json FILE]

For each library, a binary classifier and a regressor (`--trees` trees; LightGBM num_leaves=31,
XGBoost max_depth=6) are trained on a generated table of 20 numeric columns with missing values,
and exported with pipeport (the gate on). Then, with one thread everywhere (onnxruntime
intra/inter-op 1; LightGBM and XGBoost n_jobs=1; OpenMP limited to 1):

- single row: one row, predict_proba (classifier) or predict (regressor) through the library's
  scikit-learn API, and the graph's session.run on that row's tensors, interleaved in one loop
  (median per call, so machine noise hits both alike);
- batch: `--rows` rows at once, the median of a few runs each.

Prints a Markdown table (the README's): times and the graph's time as a ratio of the library's
(below 1: the graph is faster). The graph of an XGBoost model keeps one output per tree and sums
them in float32 in tree order (XGBoost's arithmetic); that costs memory per batch row, measured
here too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

N_FEATURES = 20


def _table(rows: int, seed: int) -> tuple[Any, Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, N_FEATURES))
    X[rng.random(X.shape) < 0.05] = np.nan
    signal = np.nan_to_num(X[:, :5]) @ np.array([1.0, -0.8, 0.6, 0.4, -0.3])
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(N_FEATURES)])
    noisy = signal + rng.normal(0, 0.5, rows)
    return frame, (noisy > 0).astype(int), 3.0 * noisy + 10.0


def _models(trees: int) -> list[tuple[str, Any]]:
    import lightgbm as lgb
    import xgboost as xgb

    common = {"n_estimators": trees, "random_state": 0, "n_jobs": 1}
    return [
        ("LightGBM LGBMClassifier", lgb.LGBMClassifier(num_leaves=31, verbose=-1, **common)),
        ("LightGBM LGBMRegressor", lgb.LGBMRegressor(num_leaves=31, verbose=-1, **common)),
        ("XGBoost XGBClassifier", xgb.XGBClassifier(max_depth=6, **common)),
        ("XGBoost XGBRegressor", xgb.XGBRegressor(max_depth=6, **common)),
    ]


def _session(model: Any) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def _feeds(graph: Any, frame: Any) -> dict[str, Any]:
    """The graph's input tensors for `frame`, built by the contract module (as the server)."""
    import pipeport
    from pipeport.contract import frame_to_feeds
    from pipeport.schema import ModelSchema

    return dict(frame_to_feeds(frame, ModelSchema.from_metadata(pipeport.read_metadata(graph))))


def _interleaved_us(graph_call: Any, library_call: Any, repeats: int) -> tuple[float, float]:
    graph_times, library_times = [], []
    for _ in range(20):  # warm-up
        graph_call()
        library_call()
    for _ in range(repeats):
        t0 = time.perf_counter()
        graph_call()
        t1 = time.perf_counter()
        library_call()
        t2 = time.perf_counter()
        graph_times.append(t1 - t0)
        library_times.append(t2 - t1)
    return statistics.median(graph_times) * 1e6, statistics.median(library_times) * 1e6


def _median_ms(call: Any, runs: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def measure(trees: int, rows: int, repeats: int, runs: int) -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_limits

    import pipeport

    train, y_class, y_value = _table(20_000, seed=0)
    batch, _, _ = _table(rows, seed=1)
    results = []
    with threadpool_limits(limits=1, user_api="openmp"):
        for name, model in _models(trees):
            classifier = hasattr(model, "predict_proba")
            model.fit(train, y_class if classifier else y_value)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph = pipeport.to_onnx(model, train.head(2000), name, generated_rows=2000)
            session = _session(graph)
            predict = model.predict_proba if classifier else model.predict
            one = batch.head(1)
            one_array, batch_array = one.to_numpy(), batch.to_numpy()
            one_feeds, batch_feeds = _feeds(graph, one), _feeds(graph, batch)
            graph_one, library_one = _interleaved_us(
                lambda s=session, f=one_feeds: s.run(None, f),
                lambda p=predict, x=one_array: p(x),
                repeats,
            )
            graph_batch = _median_ms(lambda s=session, f=batch_feeds: s.run(None, f), runs)
            library_batch = _median_ms(lambda p=predict, x=batch_array: p(x), runs)
            results.append(
                {
                    "model": name,
                    "trees": trees,
                    "single_row_graph_us": graph_one,
                    "single_row_library_us": library_one,
                    "batch_rows": rows,
                    "batch_graph_ms": graph_batch,
                    "batch_library_ms": library_batch,
                    "parity_passed": pipeport.read_metadata(graph)["parity"]["passed"],
                }
            )
            print(f"{name}: done", file=sys.stderr)
    return results


def markdown(results: list[dict[str, Any]]) -> str:
    rows = results[0]["batch_rows"] if results else 0
    lines = [
        f"| model (trees) | 1 row: graph | 1 row: library | ratio | {rows:,} rows: graph "
        f"| {rows:,} rows: library | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} ({r['trees']}) "
            f"| {r['single_row_graph_us']:.0f} µs | {r['single_row_library_us']:.0f} µs "
            f"| {r['single_row_graph_us'] / r['single_row_library_us']:.2f} "
            f"| {r['batch_graph_ms']:.0f} ms | {r['batch_library_ms']:.0f} ms "
            f"| {r['batch_graph_ms'] / r['batch_library_ms']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the batch")
    parser.add_argument("--repeats", type=int, default=2000, help="single-row calls timed")
    parser.add_argument("--runs", type=int, default=5, help="batch runs timed")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    results = measure(args.trees, args.rows, args.repeats, args.runs)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
