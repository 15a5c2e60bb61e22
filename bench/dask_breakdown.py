#!/usr/bin/env python
"""Where the dask engine's time goes (the notes under bench/dask_batch.py's tables in
docs/performance.md):

  - the command's fixed cost: `pipeport predict --engine dask --scheduler ADDRESS` on a 100-row
    Parquet file against a running LocalCluster of 2 worker processes (1 thread each), median of
    --repeats runs after one warm-up (Python, pipeport, distributed, connecting, planning,
    scoring 100 rows, writing one part);
  - one 250,000-row piece scored in this process as a worker scores it
    (pipeport.dask_batch.score_piece's steps): reading the Parquet row groups and building the
    feeds, onnxruntime's runs, writing the Parquet part; best of --repeats.

The rows: bench/dask_batch.py's generator (the penguins rows resampled, seed 0).

    python bench/dask_breakdown.py [--config configs/penguins-species.toml] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.dask_batch import PIPEPORT, make_model, make_table  # noqa: E402


def fixed_cost(model: Path, work: Path, repeats: int) -> list[float]:
    import pandas as pd
    from distributed import Client, LocalCluster

    small = work / "small"
    small.mkdir()
    pd.read_parquet(work / "all.parquet").head(100).to_parquet(small / "rows.parquet")
    times = []
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
    ):
        for run in range(repeats + 1):
            command = [*PIPEPORT, "predict", str(model), "--input", str(small)]
            command += ["--output", str(work / f"small-out-{run}"), "--engine", "dask"]
            command += ["--scheduler", cluster.scheduler_address, "--keep-columns", "id"]
            command += ["--progress", "never"]
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            if run:  # the first run warms the workers (their imports, the model's session)
                times.append(time.perf_counter() - started)
    return times


def piece_steps(model: Path, work: Path, repeats: int) -> dict[str, float]:
    from pipeport.dask_batch import Settings, _PartWriter
    from pipeport.dask_inputs import piece_chunks, plan_parquet
    from pipeport.dask_model import read_model, worker_model

    file = read_model(model)
    pieces = plan_parquet(sorted((work / "parts").iterdir()), file.schema, ("id",), True, 250_000)
    piece = pieces[0]
    out = work / "piece-out"
    out.mkdir()
    settings = Settings(str(out), "parquet", ("id",), 1, 50_000, 5)
    loaded, formatter = worker_model(file.data, file.sha256, 1)
    best: dict[str, float] = {}
    for _ in range(repeats + 1):
        spent = {"read and feeds": 0.0, "onnxruntime": 0.0, "write": 0.0}
        started = time.perf_counter()
        with _PartWriter(piece, loaded.schema, formatter, settings) as writer:
            chunks = iter(piece_chunks(piece, loaded.schema, settings.chunk_size, ("id",)))
            while True:
                a = time.perf_counter()
                chunk = next(chunks, None)
                if chunk is None:
                    break
                b = time.perf_counter()
                outputs = loaded.run(formatter.onnx_names, chunk.feeds)
                c = time.perf_counter()
                writer.write(chunk, outputs)
                d = time.perf_counter()
                spent["read and feeds"] += b - a
                spent["onnxruntime"] += c - b
                spent["write"] += d - c
            writer.commit()
        spent["whole piece"] = time.perf_counter() - started
        if not best or spent["whole piece"] < best["whole piece"]:
            best = spent
    best["rows"] = piece.rows
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "penguins-species.toml")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pipeport-dask-breakdown-") as tmp:
        work = Path(tmp)
        model = make_model(work / "model", args.config) / "pipeline.onnx"
        make_table(1_000_000, 250_000, work)
        steps = piece_steps(model, work, args.repeats)
        times = fixed_cost(model, work, args.repeats)
    print(f"model: {args.config}")
    print(
        f"command on 100 rows against a running 2-worker cluster: median "
        f"{statistics.median(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})"
    )
    print(f"one piece of {steps.pop('rows'):,} rows, best of {args.repeats}:")
    for name, seconds in steps.items():
        print(f"  {name}: {seconds:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
