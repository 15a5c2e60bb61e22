"""What a step costs at serving time: graph size and single-row run time per support case.

    python bench/steps.py [--repeats 2000] [--cases id,id,...] [--json bench/results/steps.json]

Each pipeline of docs/support.md (pipeport/export/support_cases*.py) is exported, then one raw
row is fed through the contract and run in onnxruntime (one thread, as the server runs it) many
times, interleaved with a baseline graph (StandardScaler + LogisticRegression on two numeric
columns) in the same loop, so the ratio to the baseline is what to read: machines are noisy.
Prints a Markdown table (the README's) and writes the figures as JSON.
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


def _baseline() -> tuple[Any, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from pipeport.export.support_cases import people

    frame = people()
    X = frame[["fare", "sibsp"]]
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, frame["survived"]), X


def _runner(model: Any, row: Any) -> Any:
    """A zero-argument callable: one single-row prediction as the server makes it."""
    import onnxruntime as ort

    import pipeport
    from pipeport.contract import raw_rows_to_feeds
    from pipeport.schema import ModelSchema

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    schema = ModelSchema.from_metadata(pipeport.read_metadata(model))
    names = [schema.outputs[k] for k in schema.output_keys()]
    rows = [row]
    return lambda: session.run(names, raw_rows_to_feeds(rows, schema))


def _time(run: Any, baseline: Any, repeats: int) -> tuple[float, float]:
    """Median µs per call of `run` and of `baseline`, interleaved in blocks of 50."""
    ours, base = [], []
    for _ in range(max(1, repeats // 50)):
        for target, sink in ((run, ours), (baseline, base)):
            start = time.perf_counter()
            for _ in range(50):
                target()
            sink.append((time.perf_counter() - start) / 50 * 1e6)
    return statistics.median(ours), statistics.median(base)


def measure(repeats: int, only: set[str] | None) -> list[dict[str, Any]]:
    import pipeport
    from pipeport.contract import frame_to_rows
    from pipeport.export.support_cases import cases
    from pipeport.schema import ModelSchema

    base_pipeline, base_X = _baseline()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base_model = pipeport.to_onnx(base_pipeline, base_X, "baseline", generated_rows=0)
    base_schema = ModelSchema.from_metadata(pipeport.read_metadata(base_model))
    baseline = _runner(base_model, frame_to_rows(base_X.head(1), base_schema)[0])
    results = []
    for case in cases():
        if only and case.id not in only:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline, sample = case.fit(), case.features()
            model = pipeport.to_onnx(pipeline, sample, case.id, generated_rows=0)
        schema = ModelSchema.from_metadata(pipeport.read_metadata(model))
        row = frame_to_rows(sample.head(1), schema)[0]
        run = _runner(model, row)
        run()  # warm up
        ours, base = _time(run, baseline, repeats)
        results.append(
            {
                "case": case.id,
                "nodes": len(model.graph.node),
                "kib": round(len(model.SerializeToString()) / 1024, 1),
                "us_per_row": round(ours, 1),
                "baseline_us": round(base, 1),
                "ratio": round(ours / base, 2),
            }
        )
        print(f"[steps] {case.id}: {ours:.1f} µs ({ours / base:.2f}x baseline)", file=sys.stderr)
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| pipeline (support case) | graph nodes | file KiB | µs per single-row run | ÷ baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| `{r['case']}` | {r['nodes']} | {r['kib']:,} | {r['us_per_row']:,} | "
            f"{r['ratio']:.2f}× |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2000, help="single-row runs per case")
    parser.add_argument("--cases", help="comma-separated support case ids (default: all)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "steps.json")
    args = parser.parse_args(argv)
    only = set(args.cases.split(",")) if args.cases else None
    results = measure(args.repeats, only)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(table(results))
    baseline = statistics.median(r["baseline_us"] for r in results) if results else 0
    print(
        f"\nBaseline: StandardScaler + LogisticRegression on two numeric columns, "
        f"{baseline:.1f} µs per single-row run (median over the cases' runs); raw row -> "
        "contract -> onnxruntime, one thread."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
