#!/usr/bin/env python
"""Batch scoring beyond one process: rows/s of `pipeport predict` on one machine and on a Dask
cluster, against dask + scikit-learn on the same cluster, and the workers' memory.

The data: the bundled penguins rows resampled to --rows rows (numpy seed 0, noise on the
numbers, the missing values kept), written into a temporary folder as Parquet files of
--file-rows rows (row groups of 100,000), plus the same rows as one file for the single-process
command. The model: `pipeport train configs/penguins-species.toml` (or --config CONFIG) +
`pipeport export` (or --model DIR holding pipeline.onnx and sklearn_pipeline.joblib).

Timed in --repeats rounds, each running every measurement once (the order rotates per round),
so that each ratio is taken within a round:
  - `pipeport predict all.parquet --output preds.csv` (the local engine, one process);
  - on two LocalClusters, of 1 and of 2 worker processes (1 thread each), both started before
    and timed without their start: `pipeport predict --engine dask --scheduler ADDRESS` over the
    folder (the whole command: start, connect, plan, score, write Parquet parts), and dask +
    scikit-learn: `dd.read_parquet(folder).map_partitions(pipeline.predict_proba)` written with
    `to_parquet`, the pipeline scattered to the workers once.
Each run also records the cores that other processes on the machine used meanwhile.
Memory: the peak RSS of each worker process during a pipeport run (sampled every 20 ms) on a
fresh LocalCluster of 2 workers, on a quarter of the files and on all of them; the
single-process command's peak RSS; the table's size in pandas.

    python bench/dask_batch.py [--rows 4000000] [--repeats 3] [--config CONFIG | --model DIR]
                               [--out bench/results/dask_batch.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PIPEPORT = [sys.executable, "-m", "pipeport"]
ROW_GROUP = 100_000


def make_model(folder: Path, config: Path) -> Path:
    subprocess.run(
        [*PIPEPORT, "train", str(config), "--out", str(folder)],
        check=True,
        capture_output=True,
    )
    subprocess.run([*PIPEPORT, "export", str(folder)], check=True, capture_output=True)
    return folder


def make_table(rows: int, file_rows: int, folder: Path) -> tuple[Path, Path, int]:
    """Parquet parts in folder/parts/ and the same rows in folder/all.parquet."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pd.read_csv(ROOT / "data" / "penguins.csv").drop(columns=["species"])
    rng = np.random.default_rng(0)
    table = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    for column in ("bill_length_mm", "bill_depth_mm"):
        table[column] = (table[column] + rng.normal(0, 1.0, rows)).round(1)
    for column in ("flipper_length_mm", "body_mass_g"):
        table[column] = (table[column] + rng.normal(0, 5.0, rows)).round(0)
    table.insert(0, "id", np.arange(rows, dtype=np.int64))
    in_memory = int(table.memory_usage(deep=True).sum())
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    parts = folder / "parts"
    parts.mkdir()
    for number, start in enumerate(range(0, rows, file_rows)):
        piece = arrow.slice(start, file_rows)
        pq.write_table(piece, parts / f"part-{number:04d}.parquet", row_group_size=ROW_GROUP)
    whole = folder / "all.parquet"
    pq.write_table(arrow, whole, row_group_size=ROW_GROUP)
    return parts, whole, in_memory


class PeakRSS:
    """Peak RSS of some processes, sampled in a thread."""

    def __init__(self, pids: list[int]) -> None:
        import psutil

        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            for process in self.processes:
                try:
                    rss = process.memory_info().rss
                except psutil.Error:
                    continue
                self.peak[process.pid] = max(self.peak.get(process.pid, 0), rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class OtherCPU:
    """Cores used by processes other than this benchmark's (this process, its children and the
    workers) while a measurement runs: the machine is shared, so each time says how much."""

    def __init__(self, worker_pids: list[int]) -> None:
        import psutil

        self.workers = [psutil.Process(pid) for pid in worker_pids]

    def _ours(self) -> float:
        import resource

        import psutil

        total = sum(sum(p.cpu_times()[:2]) for p in self.workers)
        total += sum(psutil.Process().cpu_times()[:2])
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return total + children.ru_utime + children.ru_stime

    def __enter__(self) -> OtherCPU:
        import psutil

        times = psutil.cpu_times()
        self.busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
        self.ours = self._ours()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        import psutil

        times = psutil.cpu_times()
        busy = sum(times) - times.idle - getattr(times, "iowait", 0.0) - self.busy
        elapsed = time.perf_counter() - self.started
        self.cores = max(busy - (self._ours() - self.ours), 0.0) / elapsed


def run_command(command: list[str], **kwargs: Any) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return elapsed


def single_process(model: Path, whole: Path, work: Path) -> tuple[float, int]:
    out = work / "single.csv"
    process = subprocess.Popen(
        [*PIPEPORT, "predict", str(model), "--input", str(whole), "--output", str(out)]
        + ["--ignore-unknown-columns"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.perf_counter()
    with PeakRSS([process.pid]) as memory:
        _, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"pipeport predict failed:\n{stderr[-3000:]}")
    return elapsed, max(memory.peak.values())


def pipeport_dask(
    model: Path, parts: Path, out: Path, address: str, worker_pids: list[int]
) -> tuple[float, list[int]]:
    shutil.rmtree(out, ignore_errors=True)
    command = [
        *PIPEPORT,
        "predict",
        str(model),
        "--input",
        str(parts),
        "--output",
        str(out),
        "--engine",
        "dask",
        "--scheduler",
        address,
        "--keep-columns",
        "id",
        "--progress",
        "never",
    ]
    with PeakRSS(worker_pids) as memory:
        elapsed = run_command(command)
    return elapsed, [memory.peak.get(pid, 0) for pid in worker_pids]


def _sklearn_partition(frame: Any, pipeline: Any, classes: list[str]) -> Any:
    import numpy as np
    import pandas as pd

    probabilities = pipeline.predict_proba(frame.drop(columns=["id"]))
    result = pd.DataFrame(probabilities, columns=[f"probability_{c}" for c in classes])
    result.insert(0, "label", np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)])
    result.insert(0, "id", frame["id"].to_numpy())
    return result


def sklearn_dask(client: Any, pipeline_path: Path, parts: Path, out: Path) -> float:
    import dask.dataframe as dd
    import joblib
    import pandas as pd

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    pipeline = joblib.load(pipeline_path)
    classes = [str(c) for c in pipeline.classes_]
    shipped = client.scatter(pipeline, broadcast=True, hash=True)
    frame = dd.read_parquet(str(parts))
    meta = pd.DataFrame(
        {"id": pd.Series([], dtype="int64"), "label": pd.Series([], dtype="str")}
        | {f"probability_{c}": pd.Series([], dtype="float64") for c in classes}
    )
    predictions = frame.map_partitions(_sklearn_partition, shipped, classes, meta=meta)
    with client.as_current():
        predictions.to_parquet(str(out), write_index=False)
    return time.perf_counter() - started


def agreement(dask_out: Path, sklearn_out: Path, single_csv: Path) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    ours = pd.read_parquet(dask_out).sort_values("row").reset_index(drop=True)
    theirs = pd.read_parquet(sklearn_out).sort_values("id").reset_index(drop=True)
    single = pd.read_csv(single_csv)
    columns = [c for c in ours.columns if c.startswith("probability_")]
    same_as_single = bool(
        (ours["row"].to_numpy() == single["row"].to_numpy()).all()
        and (ours["label"].astype(str).to_numpy() == single["label"].astype(str).to_numpy()).all()
        and all(np.array_equal(ours[c].to_numpy(), single[c].to_numpy()) for c in columns)
    )
    return {
        "rows": len(ours),
        "dask output equals the single-process output": same_as_single,
        "labels equal to scikit-learn": float(
            (ours["label"].astype(str).to_numpy() == theirs["label"].astype(str).to_numpy()).mean()
        ),
        "max |dp| vs scikit-learn": float(
            max(np.abs(ours[c].to_numpy() - theirs[c].to_numpy()).max() for c in columns)
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--file-rows", type=int, default=250_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", type=Path, help="a folder with pipeline.onnx and the joblib")
    parser.add_argument(
        "--config",
        type=Path,
        default=ROOT / "configs" / "penguins-species.toml",
        help="the training config of the model, without --model (the bundled random forest; "
        "bench/configs/penguins-species-logistic.toml: the same columns, logistic regression)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dask_batch.json")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory(prefix="pipeport-dask-bench-") as tmp:
        work = Path(tmp)
        model_dir = args.model or make_model(work / "model", args.config)
        model = model_dir / "pipeline.onnx"
        print(f"generating {args.rows:,} rows ...", file=sys.stderr)
        parts, whole, in_memory = make_table(args.rows, args.file_rows, work)
        quarter = work / "quarter"
        quarter.mkdir()
        for path in sorted(parts.iterdir())[: max(len(list(parts.iterdir())) // 4, 1)]:
            shutil.copy(path, quarter / path.name)

        times: dict[str, list[float]] = {}
        others: dict[str, list[float]] = {}
        memory: dict[str, Any] = {}
        with contextlib.ExitStack() as stack:
            clusters = {}
            for workers in (1, 2):
                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                    )
                )
                client = stack.enter_context(Client(cluster, set_as_default=False))
                clusters[workers] = (cluster, client, sorted(client.run(os.getpid).values()))
            every_worker = [pid for *_, pids in clusters.values() for pid in pids]
            runs = ["single", "pipeport 1", "pipeport 2", "sklearn 1", "sklearn 2"]
            for repeat in range(args.repeats):
                order = runs[repeat % len(runs) :] + runs[: repeat % len(runs)]
                print(f"round {repeat + 1}: {', '.join(order)}", file=sys.stderr)
                for what in order:
                    kind, _, size = what.partition(" ")
                    with OtherCPU(every_worker) as other:
                        if kind == "single":
                            elapsed, peak = single_process(model, whole, work)
                            memory["single process peak RSS"] = max(
                                memory.get("single process peak RSS", 0), peak
                            )
                        elif kind == "pipeport":
                            cluster, client, pids = clusters[int(size)]
                            elapsed, _ = pipeport_dask(
                                model, parts, work / "dask-out", cluster.scheduler_address, pids
                            )
                        else:
                            cluster, client, pids = clusters[int(size)]
                            elapsed = sklearn_dask(
                                client, model_dir / "sklearn_pipeline.joblib", parts, work / "sk"
                            )
                    times.setdefault(what, []).append(elapsed)
                    others.setdefault(what, []).append(other.cores)
        for label, folder in (("quarter", quarter), ("whole", parts)):
            # Memory on a fresh cluster per table: workers that ran scikit-learn hold its heap.
            with (
                LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                ) as cluster,
                Client(cluster) as client,
            ):
                pids = sorted(client.run(os.getpid).values())
                _, peaks = pipeport_dask(
                    model, folder, work / f"memory-{label}", cluster.scheduler_address, pids
                )
                memory[f"worker peak RSS, {label} table"] = max(peaks)
        checks = agreement(work / "dask-out", work / "sk", work / "single.csv")

    rows_per_s = {key: args.rows / statistics.median(value) for key, value in times.items()}
    scaling = [one / two for one, two in zip(times["pipeport 1"], times["pipeport 2"], strict=True)]
    versus = [
        theirs / ours for ours, theirs in zip(times["pipeport 2"], times["sklearn 2"], strict=True)
    ]
    result = {
        "rows": args.rows,
        "model": str(args.model) if args.model else str(args.config.resolve().relative_to(ROOT)),
        "files": -(-args.rows // args.file_rows),
        "row_group": ROW_GROUP,
        "table bytes in pandas": in_memory,
        "seconds": times,
        "rows_per_s": rows_per_s,
        "2 workers / 1 worker, per round": scaling,
        "pipeport / dask+sklearn (2 workers), per round": versus,
        "other processes' cores during each run": others,
        "memory bytes": memory,
        "checks": checks,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    return 0


def markdown(result: dict[str, Any]) -> str:
    rps = result["rows_per_s"]
    seconds = result["seconds"]
    mib = {key: value / 2**20 for key, value in result["memory bytes"].items()}

    others = result["other processes' cores during each run"]

    def row(label: str, key: str) -> str:
        times = seconds[key]
        return (
            f"| {label} | {rps[key]:,.0f} | {statistics.median(times):.2f} s "
            f"({min(times):.2f}–{max(times):.2f}) | {statistics.median(others[key]):.2f} |"
        )

    scaling = statistics.median(result["2 workers / 1 worker, per round"])
    versus = statistics.median(result["pipeport / dask+sklearn (2 workers), per round"])
    lines = [
        f"{result['rows']:,} rows, {result['files']} Parquet files (row groups of "
        f"{result['row_group']:,}); median of {len(seconds['single'])} (min–max):",
        "",
        "| what | rows/s | time | other processes, cores |",
        "|---|---:|---:|---:|",
        row("`pipeport predict` (local engine, one process, all.parquet)", "single"),
        row("`pipeport predict --engine dask`, 1 worker", "pipeport 1"),
        row("`pipeport predict --engine dask`, 2 workers", "pipeport 2"),
        row("dask + scikit-learn `map_partitions(predict_proba)`, 1 worker", "sklearn 1"),
        row("dask + scikit-learn `map_partitions(predict_proba)`, 2 workers", "sklearn 2"),
        "",
        "| goal | measured (per round) | target | met |",
        "|---|---:|---:|:---:|",
        f"| 2 workers ÷ 1 worker | {scaling:.2f}× ("
        + ", ".join(f"{r:.2f}" for r in result["2 workers / 1 worker, per round"])
        + f") | ≥ 1.8× | {'yes' if scaling >= 1.8 else '**no**'} |",
        f"| pipeport ÷ dask + scikit-learn, 2 workers | {versus:.2f}× ("
        + ", ".join(f"{r:.2f}" for r in result["pipeport / dask+sklearn (2 workers), per round"])
        + f") | ≥ 1.4× | {'yes' if versus >= 1.4 else '**no**'} |",
        "",
        f"Table in pandas: {result['table bytes in pandas'] / 2**20:,.0f} MiB. Peak RSS: "
        + "; ".join(f"{key} {value:,.0f} MiB" for key, value in mib.items())
        + ".",
        "",
        "Checks: " + json.dumps(result["checks"]),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
