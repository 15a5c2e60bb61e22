#!/usr/bin/env python
"""Serving benchmark: pipeport vs a naive Flask + scikit-learn server vs a Flask echo app.

One run measures, under the same gunicorn settings (pipeport's defaults, read from
serving.gunicorn_app so they stay in sync; overridable with flags):

  (a) `pipeport serve MODEL.onnx`
  (b) bench/naive_sklearn_app.py  (joblib.load; per request pd.DataFrame(rows) → predict_proba)
  (c) bench/echo_app.py           (parse the JSON, return a constant: the Flask ceiling)

per server: req/s, p50 and p99 latency (wrk --latency, single-row POSTs), resident memory of the
master + workers (RSS and PSS from /proc/PID/smaps_rollup, sampled right after the load run),
cold start to first prediction (spawn → first POST that returns 200, median of a few); and batch
prediction rows/s on 100k raw rows (onnxruntime via serving.feeds.raw_rows_to_feeds + session.run
in 10k chunks vs scikit-learn predict_proba on a DataFrame).

It prints the Markdown table the README shows and writes JSON to bench/results/. Servers listen on
127.0.0.1 only, every load loop is bounded in time, and every server is stopped on exit, error or
Ctrl-C.

    python bench/serve.py [--duration 10] [--concurrency 8] [--out bench/results/serve.json]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as _dt
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from serving.gunicorn_app import GunicornSettings  # noqa: E402  (argparse-light, no gunicorn run)

HOST = "127.0.0.1"
DEFAULT_ARTIFACTS = ROOT / "artifacts" / "penguins-species"
SERVERS = ("pipeport", "naive", "echo")
SERVER_TITLES = {
    "pipeport": "pipeport (onnxruntime)",
    "naive": "naive Flask + scikit-learn",
    "echo": "Flask echo (no model)",
}
ENV_VARS_RECORDED = (
    "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
    "PYTHONHASHSEED", "MALLOC_ARENA_MAX",
)
GOALS = {
    # key: (description, comparison, threshold, how to print the threshold)
    "throughput_vs_echo": ("pipeport req/s ÷ echo req/s", ">=", 0.90, "≥ 0.90"),
    "throughput_vs_naive": ("pipeport req/s ÷ naive req/s", ">=", 25.0, "≥ 25×"),
    "p99_ms": ("pipeport p99 latency (ms)", "<", 3.0, "< 3 ms"),
    "pss_vs_naive": ("pipeport PSS ÷ naive PSS", "<=", 1 / 3, "≤ 1/3"),
    "cold_start_s": ("pipeport cold start to first prediction (s)", "<", 0.5, "< 0.5 s"),
    "batch_vs_sklearn": ("batch rows/s: onnxruntime ÷ scikit-learn", ">=", 1.5, "≥ 1.5×"),
}


# --------------------------------------------------------------------------- process handling

_LIVE: list[subprocess.Popen[bytes]] = []


def _stop(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the server's process group (gunicorn's graceful stop), then SIGKILL if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Workers can outlive a dead master for a moment; the group id is the master's pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    if proc in _LIVE:
        _LIVE.remove(proc)


def _stop_all() -> None:
    for proc in list(_LIVE):
        _stop(proc, grace=5.0)


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- server commands

# gunicorn setting name -> command-line flag, for the baselines started with `python -m gunicorn`.
_FLAG = {
    "workers": "--workers", "worker_class": "--worker-class", "threads": "--threads",
    "keepalive": "--keep-alive", "timeout": "--timeout", "graceful_timeout": "--graceful-timeout",
    "backlog": "--backlog", "errorlog": "--error-logfile", "loglevel": "--log-level",
    "accesslog": "--access-logfile", "control_socket": "--control-socket",
}


def gunicorn_flags(options: dict[str, Any], proc_name: str) -> list[str]:
    """pipeport's gunicorn options dict as `gunicorn` command-line flags (fails on unknown keys,
    so a new setting in serving.gunicorn_app cannot silently be left out of the baselines)."""
    args: list[str] = []
    for key, value in options.items():
        if key == "bind":
            for address in value:
                args += ["--bind", address]
        elif key == "preload_app":
            if value:
                args.append("--preload")
        elif key == "control_socket_disable":
            if value:
                args.append("--no-control-socket")
        elif key == "proc_name":
            args += ["--name", proc_name]
        elif key in _FLAG:
            if value is not None:
                args += [_FLAG[key], str(value)]
        else:
            raise SystemExit(f"bench/serve.py: gunicorn setting {key!r} from serving.gunicorn_app "
                             "has no command-line mapping here; add it to _FLAG")
    return args


@dataclass
class BenchSettings:
    gunicorn: GunicornSettings
    baseline_preload: bool
    python: str
    model: Path
    sklearn: Path

    def options(self, port: int) -> dict[str, Any]:
        base = self.gunicorn
        settings = GunicornSettings(
            host=HOST, port=port, workers=base.workers, worker_class=base.worker_class,
            threads=base.threads, keepalive=base.keepalive, timeout=base.timeout,
            graceful_timeout=base.graceful_timeout, access_log=False,
        )
        return settings.options()

    def command(self, server: str, port: int) -> list[str]:
        g = self.gunicorn
        if server == "pipeport":
            return [
                self.python, "-m", "pipeport", "serve", str(self.model),
                "--host", HOST, "--port", str(port),
                "--workers", str(self.options(port)["workers"]),
                "--worker-class", self.options(port)["worker_class"], "--threads", str(g.threads),
                "--keep-alive", str(g.keepalive), "--timeout", str(g.timeout),
                "--graceful-timeout", str(g.graceful_timeout),
            ]
        options = self.options(port)
        options["preload_app"] = self.baseline_preload
        module = {"naive": "bench.naive_sklearn_app:app", "echo": "bench.echo_app:app"}[server]
        return [self.python, "-m", "gunicorn", *gunicorn_flags(options, f"bench-{server}"), module]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)  # OPENBLAS_CORETYPE & co. left as they are, the same for all
        env["PIPEPORT_BENCH_SKLEARN"] = str(self.sklearn)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
        )
        return env


def spawn(
    settings: BenchSettings, server: str, port: int, log_path: Path
) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115  (closed with the process)
    proc = subprocess.Popen(
        settings.command(server, port), cwd=ROOT, env=settings.env(),
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: stopped as a whole, by its id
    )
    log.close()
    _LIVE.append(proc)
    return proc


def post(port: int, body: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", "/v1/predict", body=body,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_first_prediction(proc: subprocess.Popen[bytes], port: int, body: bytes,
                          deadline_s: float = 60.0) -> float:
    """Poll POST /v1/predict until it returns 200; the monotonic time it returned."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before answering")
        try:
            status, _ = post(port, body, timeout=5.0)
            if status == 200:
                return time.monotonic()
        except (ConnectionError, OSError, http.client.HTTPException):
            pass
        time.sleep(0.002)
    raise RuntimeError(f"no 200 from POST /v1/predict within {deadline_s:.0f} s")


# --------------------------------------------------------------------------- measurements

def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (gunicorn master + workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def memory(pid: int) -> dict[str, Any]:
    """RSS and PSS (MiB) summed over the master and its workers, from smaps_rollup."""
    per_process = []
    for p in process_tree(pid):
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        fields = {m.group(1): int(m.group(2))
                  for m in re.finditer(r"^(\w+):\s+(\d+) kB", text, re.M)}
        per_process.append({"pid": p, "rss_kib": fields.get("Rss", 0),
                            "pss_kib": fields.get("Pss", 0)})
    return {
        "processes": len(per_process),
        "rss_mib": sum(x["rss_kib"] for x in per_process) / 1024,
        "pss_mib": sum(x["pss_kib"] for x in per_process) / 1024,
        "per_process": per_process,
    }


LUA_TEMPLATE = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[BODY]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%.0f,"p50":%.0f,"p75":%.0f,"p90":%.0f,' ..
    '"p99":%.0f,"p99.9":%.0f}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
"""


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_busy_s() -> float:
    """CPU-seconds spent busy by the whole machine (all cores) since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK


def tree_cpu_by_pid(pid: int) -> dict[int, float]:
    """CPU-seconds used so far by `pid` and each of its live descendants."""
    used = {}
    for p in process_tree(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        used[p] = (int(rest[11]) + int(rest[12])) / _TICK  # utime, stime
    return used


def tree_cpu_s(pid: int) -> float:
    """CPU-seconds used so far by `pid` and its live descendants."""
    return sum(tree_cpu_by_pid(pid).values())


def own_cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def wait_for_quiet(threshold: float, timeout: float, label: str) -> dict[str, Any]:
    """Wait (bounded) until other processes use < `threshold` cores over a 1 s window.

    The benchmark shares the machine with whatever else runs; this keeps that out of the numbers
    where possible and records it where not.
    """
    start = time.monotonic()
    busy = 0.0
    while True:
        b0, o0, t0 = cpu_busy_s(), own_cpu_s(), time.monotonic()
        time.sleep(1.0)
        busy = max(0.0, (cpu_busy_s() - b0) - (own_cpu_s() - o0)) / (time.monotonic() - t0)
        waited = time.monotonic() - start
        if busy < threshold or waited >= timeout:
            break
    if busy >= threshold:
        print(f"  WARNING {label}: other processes still use {busy:.2f} cores after "
              f"{waited:.0f} s; numbers will be pessimistic", file=sys.stderr)
    return {"other_cores": busy, "waited_s": waited, "quiet": busy < threshold}


def run_wrk(port: int, script: Path, seconds: float, connections: int, threads: int,
            server_pid: int | None = None) -> dict[str, Any]:
    b0, o0 = cpu_busy_s(), own_cpu_s()
    per0 = tree_cpu_by_pid(server_pid) if server_pid else {}
    s0 = sum(per0.values())
    t0 = time.monotonic()
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s",
           "--latency", "-s", str(script), f"http://{HOST}:{port}/v1/predict"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    wall = time.monotonic() - t0
    per1 = tree_cpu_by_pid(server_pid) if server_pid else {}
    server_cpu = sum(per1.values()) - s0
    per_process = {str(p): round((c - per0.get(p, 0.0)) / wall, 3) for p, c in per1.items()}
    own = own_cpu_s() - o0  # this process + wrk
    total = cpu_busy_s() - b0
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    match = re.search(r"^BENCH_JSON (.*)$", done.stdout, re.M)
    if not match:
        raise RuntimeError(f"no summary in wrk output:\n{done.stdout}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors_total"] = sum(result["errors"].values())
    result["wrk_output"] = done.stdout.replace(match.group(0), "").strip()
    result["command"] = " ".join(cmd)
    result["cpu_cores"] = {"server": server_cpu / wall, "wrk_and_bench": own / wall,
                           "other_processes": max(0.0, total - server_cpu - own) / wall,
                           "server_per_process": per_process}
    return result


@dataclass
class ServerResult:
    name: str
    command: list[str]
    cold_starts_s: list[float] = field(default_factory=list)
    load: dict[str, Any] = field(default_factory=dict)
    warmup: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    sample_response: Any = None
    quiet: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "rps": self.load["rps"],
            "p50_ms": self.load["latency_us"]["p50"] / 1000,
            "p99_ms": self.load["latency_us"]["p99"] / 1000,
            "errors": self.load["errors_total"],
            "rss_mib": self.memory["rss_mib"],
            "pss_mib": self.memory["pss_mib"],
            "processes": self.memory["processes"],
            "cold_start_s": statistics.median(self.cold_starts_s),
            "cpu_cores_server": self.load["cpu_cores"]["server"],
            "cpu_cores_wrk": self.load["cpu_cores"]["wrk_and_bench"],
            "cpu_cores_other": self.load["cpu_cores"]["other_processes"],
        }


def bench_server(name: str, settings: BenchSettings, args: argparse.Namespace, body: bytes,
                 script: Path, log_dir: Path) -> ServerResult:
    log_path = log_dir / f"{name}.log"
    log_path.unlink(missing_ok=True)
    result = ServerResult(name=name, command=settings.command(name, 0))
    wait_for_quiet(args.quiet_threshold, args.quiet_timeout, f"{name} cold start")
    for i in range(args.cold_starts):
        port = free_port()
        t0 = time.monotonic()
        proc = spawn(settings, name, port, log_path)
        try:
            result.cold_starts_s.append(wait_first_prediction(proc, port, body) - t0)
        finally:
            _stop(proc)
        print(f"  {name}: cold start {i + 1}/{args.cold_starts}: "
              f"{result.cold_starts_s[-1] * 1000:.0f} ms", file=sys.stderr)

    port = free_port()
    proc = spawn(settings, name, port, log_path)
    try:
        wait_first_prediction(proc, port, body)
        status, payload = post(port, body)
        if status != 200:
            raise RuntimeError(f"{name}: POST /v1/predict returned {status}: {payload[:300]!r}")
        result.sample_response = json.loads(payload)
        if args.warmup:
            result.warmup = run_wrk(port, script, args.warmup, args.concurrency, args.wrk_threads,
                                    proc.pid)
        result.quiet = wait_for_quiet(args.quiet_threshold, args.quiet_timeout, name)
        result.load = run_wrk(port, script, args.duration, args.concurrency, args.wrk_threads,
                              proc.pid)
        result.memory = memory(proc.pid)
        if proc.poll() is not None:
            raise RuntimeError(f"{name}: server died during the run (see {log_path})")
    finally:
        _stop(proc)
    s = result.summary()
    print(f"  {name}: {s['rps']:.0f} req/s, p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms, "
          f"errors {s['errors']}, PSS {s['pss_mib']:.0f} MiB, CPU cores per process "
          f"{result.load['cpu_cores']['server_per_process']}", file=sys.stderr)
    if result.load["errors_total"]:
        print(f"  WARNING {name}: wrk counted errors {result.load['errors']}", file=sys.stderr)
    return result


def _median_time(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_batch(settings: BenchSettings, holdout: Path, n_rows: int, chunk: int, repeats: int,
                with_cli: bool, work_dir: Path) -> dict[str, Any]:
    import joblib
    import numpy as np
    import pandas as pd

    from serving.feeds import raw_rows_to_feeds
    from serving.model import load_model

    model = load_model(settings.model)
    schema = model.schema
    names = list(schema.input_names)
    sample = (pd.read_csv(holdout)[names]
              .sample(n=n_rows, replace=True, random_state=0).reset_index(drop=True))
    # Raw rows as a JSON client sends them: missing values are null (None), not NaN.
    rows = sample.astype(object).where(sample.notna(), None).to_dict("records")
    output_names = [schema.outputs["label"], schema.outputs["probabilities"]]
    session = model.session

    def onnx() -> np.ndarray:
        parts = []
        for start in range(0, len(rows), chunk):
            feeds = raw_rows_to_feeds(rows[start:start + chunk], schema, first_row=start)
            parts.append(session.run(output_names, feeds)[1])
        return np.concatenate(parts)

    pipeline = joblib.load(settings.sklearn)

    def sklearn() -> np.ndarray:
        return pipeline.predict_proba(sample)

    def sklearn_from_rows() -> np.ndarray:
        return pipeline.predict_proba(pd.DataFrame(rows))

    onnx()  # warm-up (first run allocates)
    onnx_s, onnx_proba = _median_time(onnx, repeats)
    sk_s, sk_proba = _median_time(sklearn, repeats)
    sk_rows_s, _ = _median_time(sklearn_from_rows, 1)
    agree = float((np.asarray(onnx_proba).argmax(1) == sk_proba.argmax(1)).mean())
    result: dict[str, Any] = {
        "rows": n_rows,
        "chunk_rows": chunk,
        "repeats": repeats,
        "onnxruntime": {"seconds": onnx_s, "rows_per_s": n_rows / onnx_s,
                        "what": "serving.feeds.raw_rows_to_feeds + session.run, chunks of "
                                f"{chunk} raw rows (list of dicts), 1 intra-op thread"},
        "sklearn": {"seconds": sk_s, "rows_per_s": n_rows / sk_s,
                    "what": "pipeline.predict_proba(DataFrame) on all rows at once, "
                            f"RandomForest n_jobs={getattr(pipeline[-1], 'n_jobs', None)}"},
        "sklearn_from_rows": {"seconds": sk_rows_s, "rows_per_s": n_rows / sk_rows_s,
                              "what": "predict_proba(pd.DataFrame(raw rows)), informational"},
        "label_agreement": agree,
        "max_abs_proba_diff": float(np.abs(np.asarray(onnx_proba) - sk_proba).max()),
    }
    if with_cli:
        csv_in, csv_out = work_dir / "batch_rows.csv", work_dir / "batch_preds.csv"
        sample.to_csv(csv_in, index=False)
        cmd = [settings.python, "-m", "pipeport", "predict", str(settings.model),
               "--input", str(csv_in), "--output", str(csv_out), "--progress", "never",
               "--chunk-size", str(chunk)]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, env=settings.env(), capture_output=True, text=True,
                              timeout=300, check=False)
        cli_s = time.perf_counter() - t0
        result["pipeport_predict_cli"] = {
            "seconds": cli_s, "rows_per_s": n_rows / cli_s, "returncode": done.returncode,
            "what": "`pipeport predict` on a CSV, whole process (start-up, CSV read and write)",
        }
        csv_in.unlink(missing_ok=True)
        csv_out.unlink(missing_ok=True)
    return result


# --------------------------------------------------------------------------- reporting

def environment(settings: BenchSettings, args: argparse.Namespace) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    wrk_version = (wrk.stdout + wrk.stderr).splitlines()[0].split(" Copyright")[0].strip()
    packages = {}
    for pkg in ("onnxruntime", "scikit-learn", "flask", "gunicorn", "numpy", "pandas", "pipeport"):
        try:
            packages[pkg] = version(pkg)
        except PackageNotFoundError:
            packages[pkg] = None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip() or None
    options = settings.options(0)
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu,
        "cores_online": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": packages,
        "wrk_version": wrk_version,
        "git_commit": commit,
        "env": {k: os.environ.get(k) for k in ENV_VARS_RECORDED},
        "gunicorn": {
            "workers": options["workers"], "worker_class": options["worker_class"],
            "threads": options["threads"], "keepalive_s": options["keepalive"],
            "preload_pipeport": options["preload_app"],
            "preload_baselines": settings.baseline_preload,
            "timeout_s": options["timeout"], "backlog": options["backlog"],
        },
        "load": {"duration_s": args.duration, "warmup_s": args.warmup,
                 "concurrency": args.concurrency, "wrk_threads": args.wrk_threads,
                 "rows_per_request": 1, "cold_start_runs": args.cold_starts},
    }


def goals(summaries: dict[str, dict[str, Any]], batch: dict[str, Any] | None) -> dict[str, Any]:
    values: dict[str, float | None] = {key: None for key in GOALS}
    pp = summaries.get("pipeport")
    if pp:
        values["p99_ms"] = pp["p99_ms"]
        values["cold_start_s"] = pp["cold_start_s"]
        if "echo" in summaries:
            values["throughput_vs_echo"] = pp["rps"] / summaries["echo"]["rps"]
        if "naive" in summaries:
            values["throughput_vs_naive"] = pp["rps"] / summaries["naive"]["rps"]
            values["pss_vs_naive"] = pp["pss_mib"] / summaries["naive"]["pss_mib"]
    if batch:
        values["batch_vs_sklearn"] = (batch["onnxruntime"]["rows_per_s"]
                                      / batch["sklearn"]["rows_per_s"])
    out = {}
    for key, (what, op, threshold, shown) in GOALS.items():
        value = values[key]
        met = None
        if value is not None:
            met = {">=": value >= threshold, "<": value < threshold, "<=": value <= threshold}[op]
        out[key] = {"what": what, "value": value, "goal": shown, "threshold": threshold,
                    "met": met}
    return out


def _fmt_goal_value(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if key == "p99_ms":
        return f"{value:.2f} ms"
    if key == "cold_start_s":
        return f"{value:.2f} s"
    if key == "pss_vs_naive":
        return f"{value:.2f} (1/{1 / value:.1f})" if value else "0"
    if key in ("throughput_vs_naive", "batch_vs_sklearn"):
        return f"{value:.1f}×"
    return f"{value:.2f}"


def markdown(env: dict[str, Any], summaries: dict[str, dict[str, Any]],
             batch: dict[str, Any] | None, goal_results: dict[str, Any]) -> str:
    g, load = env["gunicorn"], env["load"]
    lines = [
        f"Single-row `POST /v1/predict`, wrk, {load['concurrency']} connections "
        f"({load['wrk_threads']} wrk thread), {load['duration_s']:g} s after a "
        f"{load['warmup_s']:g} s warm-up; memory = master + workers after the run; cold start = "
        f"spawn → first 200, median of {load['cold_start_runs']}. CPU = cores used during the "
        "measured run by the server (master + workers) / wrk and this script / all other "
        "processes on the machine (non-zero: the machine was shared, numbers are pessimistic).",
        "",
        "| server | req/s | p50 | p99 | RSS | PSS | cold start | CPU: server / wrk / other |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in SERVERS:
        s = summaries.get(name)
        if not s:
            continue
        err = f" ({s['errors']} errors)" if s["errors"] else ""
        lines.append(
            f"| {SERVER_TITLES[name]} | {s['rps']:,.0f}{err} | {s['p50_ms']:.2f} ms | "
            f"{s['p99_ms']:.2f} ms | {s['rss_mib']:.0f} MiB | {s['pss_mib']:.0f} MiB | "
            f"{s['cold_start_s']:.2f} s | {s['cpu_cores_server']:.2f} / "
            f"{s['cpu_cores_wrk']:.2f} / {s['cpu_cores_other']:.2f} |"
        )
    if batch:
        lines += [
            "",
            f"Batch, {batch['rows']:,} raw rows (holdout.csv resampled), one core:",
            "",
            "| batch path | rows/s |",
            "|---|---:|",
            f"| onnxruntime: `raw_rows_to_feeds` + `session.run`, {batch['chunk_rows']:,}-row "
            f"chunks | {batch['onnxruntime']['rows_per_s']:,.0f} |",
            f"| scikit-learn: `predict_proba(DataFrame)` | {batch['sklearn']['rows_per_s']:,.0f} |",
            f"| scikit-learn: `predict_proba(pd.DataFrame(rows))` (from raw rows) | "
            f"{batch['sklearn_from_rows']['rows_per_s']:,.0f} |",
        ]
        if "pipeport_predict_cli" in batch:
            cli = batch["pipeport_predict_cli"]
            lines.append(f"| `pipeport predict` CSV → CSV, whole process | "
                         f"{cli['rows_per_s']:,.0f} |")
    lines += ["", "| goal | measured | target | met |", "|---|---:|---:|:---:|"]
    for key, goal in goal_results.items():
        met = {True: "yes", False: "**no**", None: "–"}[goal["met"]]
        lines.append(f"| {goal['what']} | {_fmt_goal_value(key, goal['value'])} | "
                     f"{goal['goal']} | {met} |")
    env_vars = ", ".join(f"{k}={v}" for k, v in env["env"].items() if v is not None) or "none set"
    p = env["packages"]
    lines += [
        "",
        f"Settings (all three servers): gunicorn {p['gunicorn']}, {g['workers']} workers "
        f"(one per core), `{g['worker_class']}` worker class, {g['threads']} thread(s) per worker, "
        f"keep-alive {g['keepalive_s']} s, preload "
        f"{'on' if g['preload_pipeport'] else 'off'} (baselines: "
        f"{'on' if g['preload_baselines'] else 'off'}), no access log.  ",
        f"Machine: {env['cpu_model']}, {env['cores_usable']} cores; Python {env['python']}, "
        f"onnxruntime {p['onnxruntime']}, scikit-learn {p['scikit-learn']}, Flask {p['flask']}; "
        f"{env['wrk_version']}; environment: {env_vars}; {env['date'][:10]}"
        + (f", commit {env['git_commit']}" if env["git_commit"] else "") + ".",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = GunicornSettings()
    parser = argparse.ArgumentParser(
        prog="python bench/serve.py",
        description="Serving benchmark: pipeport vs naive Flask + scikit-learn vs Flask echo, "
                    "same gunicorn settings (pipeport's defaults unless overridden), plus batch "
                    "rows/s (onnxruntime vs scikit-learn). Prints a Markdown table, writes JSON.",
    )
    parser.add_argument("--duration", type=int, default=10,
                        help="seconds of measured load per server (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="seconds of unmeasured load first (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="wrk connections (default: %(default)s)")
    parser.add_argument("--wrk-threads", type=int, default=1,
                        help="wrk threads (default: %(default)s; keeps the client off the "
                             "server's cores as much as a 2-core box allows)")
    parser.add_argument("--cold-starts", type=int, default=3,
                        help="cold starts per server, the median is reported "
                             "(default: %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "serve.json",
                        help="JSON results file (default: bench/results/serve.json)")
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS / "pipeline.onnx")
    parser.add_argument("--sklearn", type=Path,
                        default=DEFAULT_ARTIFACTS / "sklearn_pipeline.joblib")
    parser.add_argument("--holdout", type=Path, default=DEFAULT_ARTIFACTS / "holdout.csv")
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="comma-separated subset of %(default)s")
    gun = parser.add_argument_group("gunicorn settings (defaults: serving.gunicorn_app)")
    gun.add_argument("--workers", type=int, default=defaults.workers,
                     help="0: one per core (default: %(default)s)")
    gun.add_argument("--worker-class", choices=("gthread", "sync"), default=defaults.worker_class)
    gun.add_argument("--threads", type=int, default=defaults.threads)
    gun.add_argument("--keep-alive", type=int, default=defaults.keepalive)
    gun.add_argument("--baseline-preload", choices=("same", "on", "off"), default="same",
                     help="--preload for the naive and echo apps (same: as pipeport, which "
                          "always preloads)")
    parser.add_argument("--quiet-threshold", type=float, default=0.25,
                        help="before each phase, wait until other processes use fewer cores "
                             "than this (default: %(default)s)")
    parser.add_argument("--quiet-timeout", type=float, default=10.0,
                        help="but wait at most this many seconds (default: %(default)s)")
    batch = parser.add_argument_group("batch")
    batch.add_argument("--batch-rows", type=int, default=100_000)
    batch.add_argument("--batch-chunk", type=int, default=10_000)
    batch.add_argument("--batch-repeats", type=int, default=3)
    batch.add_argument("--no-batch", action="store_true", help="skip the batch measurement")
    batch.add_argument("--no-cli-batch", action="store_true",
                       help="skip the informational `pipeport predict` CSV run")
    args = parser.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be 1..600 s and --warmup 0..60 s (whole seconds: wrk)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench/serve.py: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    for path in (args.model, args.sklearn, args.holdout):
        if not path.exists():
            print(f"bench/serve.py: {path} missing; run `pipeport train "
                  "configs/penguins-species.toml --out artifacts/penguins-species` and "
                  "`pipeport export artifacts/penguins-species`", file=sys.stderr)
            return 2
    defaults = GunicornSettings()
    preload = defaults.options()["preload_app"]
    settings = BenchSettings(
        gunicorn=GunicornSettings(workers=args.workers, worker_class=args.worker_class,
                                  threads=args.threads, keepalive=args.keep_alive),
        baseline_preload={"same": preload, "on": True, "off": False}[args.baseline_preload],
        python=sys.executable,
        model=args.model.resolve(),
        sklearn=args.sklearn.resolve(),
    )
    atexit.register(_stop_all)
    signal.signal(signal.SIGTERM, _on_signal)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    log_dir = args.out.parent / "logs"
    log_dir.mkdir(exist_ok=True)
    env = environment(settings, args)
    print(f"bench: {env['gunicorn']}  ({env['cpu_model']})", file=sys.stderr)

    import csv

    with open(args.holdout, newline="") as handle:
        first = next(csv.DictReader(handle))
    from serving.model import load_model

    schema = load_model(settings.model).schema
    row: dict[str, Any] = {}
    for spec in schema.inputs:
        text = first[spec.name]
        row[spec.name] = (None if text == "" else float(text) if spec.kind == "numeric" else text)
    body = json.dumps({"rows": [row]}, separators=(",", ":")).encode()

    results: dict[str, ServerResult] = {}
    batch = None
    with tempfile.TemporaryDirectory(prefix="pipeport-bench-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA_TEMPLATE.replace("BODY", body.decode()))
        try:
            for name in args.servers:
                print(f"bench: {name}: {' '.join(settings.command(name, 0))}", file=sys.stderr)
                results[name] = bench_server(name, settings, args, body, script, log_dir)
            if not args.no_batch:
                print(f"bench: batch, {args.batch_rows} rows", file=sys.stderr)
                batch_quiet = wait_for_quiet(args.quiet_threshold, args.quiet_timeout, "batch")
                batch = bench_batch(settings, args.holdout, args.batch_rows, args.batch_chunk,
                                    args.batch_repeats, not args.no_cli_batch, Path(tmp))
                batch["quiet_before"] = batch_quiet
        finally:
            _stop_all()

    summaries = {name: r.summary() for name, r in results.items()}
    goal_results = goals(summaries, batch)
    table = markdown(env, summaries, batch, goal_results)
    document = {
        "environment": env,
        "request_body": body.decode(),
        "summary": summaries,
        "goals": goal_results,
        "servers": {name: {
            "command": r.command, "cold_starts_s": r.cold_starts_s, "load": r.load,
            "warmup": {k: v for k, v in r.warmup.items() if k != "wrk_output"},
            "memory": r.memory, "sample_response": r.sample_response, "quiet_before": r.quiet,
        } for name, r in results.items()},
        "batch": batch,
        "markdown": table,
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(table)
    print(f"\nbench: results written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
