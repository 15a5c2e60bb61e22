#!/usr/bin/env python
"""Serving benchmark: pipeport vs a naive Flask + scikit-learn server vs a Flask echo app.

One run measures:

  (a) `pipeport serve MODEL.onnx` (its default server, granian; `--pipeport-server gunicorn`
      for the other)
  (b) bench/naive_sklearn_app.py  (joblib.load; per request pd.DataFrame(rows) → predict_proba)
  (c) bench/echo_app.py           (parse the JSON, return a constant: a Flask app's ceiling)

(b) and (c) run under gunicorn with pipeport's former defaults (serving.gunicorn_app: `sync`
workers, one per core, preload; overridable with flags). Every load phase runs twice per round:
keep-alive clients, and clients that send `Connection: close` on every request.

Phases, in this order:

  0. Bytecode for pipeport's own packages is compiled first (`python -m compileall`), as pip
     does for an installed package: an editable install has none, and with
     PYTHONDONTWRITEBYTECODE=1 every start would compile them again.
  1. Cold start, each server alone, one after the other: spawn → first POST that returns 200,
     median of --cold-starts. After the last one, still alone: a short wrk load (--warmup s, at
     least 2), then resident memory of master + workers (RSS and PSS from
     /proc/PID/smaps_rollup). Alone, because PSS divides shared pages among every process that
     maps them.
  2. Load, all selected servers running at once (each on its own port): a --warmup s wrk run per
     server, then --rounds rounds; each round runs wrk (--duration s, single-row POSTs,
     --latency) against every server in turn, the start order rotated each round so no server
     is always first, after waiting for the machine to be quiet. Per server: median req/s (and
     min/max), median p50/p99, wrk errors summed, CPU used by server / wrk / other processes
     (median). The throughput ratios (pipeport ÷ echo, pipeport ÷ naive) are computed within
     each round and their median is reported, so slow drift of the machine largely cancels.
     Then all servers are stopped.
  3. Batch, from a pandas DataFrame of --batch-rows rows (holdout.csv resampled): onnxruntime
     (DataFrame columns → serving.feeds.columns_to_feeds → session.run, in --batch-chunk
     chunks) vs scikit-learn predict_proba(DataFrame); each timed region includes everything the
     path needs from the DataFrame. Two settings, one core (1 intra-op thread vs n_jobs=1) and
     all cores (one intra-op thread per usable core vs n_jobs=-1); the paths alternate within
     each of --batch-repeats repeats and medians (of times and of per-repeat ratios) are
     reported, with label agreement and the largest probability difference. Informational
     rows: both paths from raw row dicts, and one `pipeport predict` CSV → CSV run.

It prints the Markdown table the README shows and writes JSON (every round's wrk result per
server) to bench/results/. Servers listen on 127.0.0.1 only, every load loop is bounded in time,
and every server is stopped on exit, error or Ctrl-C.

    python bench/serve.py [--duration 10] [--rounds 3] [--concurrency 8]
                          [--out bench/results/serve.json]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
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

from pipeport.serving.gunicorn_app import GunicornSettings  # noqa: E402  (argparse-light, no gunicorn run)

HOST = "127.0.0.1"
PIPEPORT_PACKAGES = ("pipeport", "research", "export", "serving", "parity_tests")
DEFAULT_ARTIFACTS = ROOT / "artifacts" / "penguins-species"
SERVERS = ("pipeport", "naive", "echo")
SERVER_TITLES = {
    "pipeport": "pipeport (onnxruntime)",
    "naive": "naive Flask + scikit-learn",
    "echo": "Flask echo (no model)",
}
ENV_VARS_RECORDED = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "PYTHONHASHSEED",
    "MALLOC_ARENA_MAX",
)
MODES = ("keepalive", "close")
MODE_TITLES = {
    "keepalive": "keep-alive clients (each connection reused)",
    "close": "clients that close each connection (`Connection: close`)",
}
GOALS = {
    # key: (description, comparison, threshold, how to print the threshold)
    # The throughput ratios are medians of per-round ratios; batch is the one-core setting.
    "throughput_vs_echo": ("pipeport req/s ÷ echo req/s, keep-alive", ">=", 2.5, "≥ 2.5×"),
    "throughput_vs_echo_close": (
        "pipeport req/s ÷ echo req/s, closing clients",
        ">=",
        2.5,
        "≥ 2.5×",
    ),
    "throughput_vs_naive": ("pipeport req/s ÷ naive req/s, keep-alive", ">=", 60.0, "≥ 60×"),
    "p99_vs_echo": ("pipeport p99 ÷ echo p99, keep-alive", "<=", 1.0, "≤ 1"),
    "p99_vs_echo_close": ("pipeport p99 ÷ echo p99, closing clients", "<=", 1.0, "≤ 1"),
    "pss_vs_naive": ("pipeport PSS ÷ naive PSS", "<=", 1 / 3, "≤ 1/3"),
    "cold_start_s": ("pipeport cold start to first prediction (s)", "<", 0.5, "< 0.5 s"),
    "batch_vs_sklearn": ("batch rows/s: onnxruntime ÷ scikit-learn, one core", ">=", 1.5, "≥ 1.5×"),
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


def free_port(avoid: set[int] | None = None) -> int:
    """A port free on 127.0.0.1 now, not in `avoid` (ports handed out but maybe not bound yet)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if not avoid or port not in avoid:
            return port
    raise RuntimeError("no free port found")


# --------------------------------------------------------------------------- server commands

# gunicorn setting name -> command-line flag, for the baselines started with `python -m gunicorn`.
_FLAG = {
    "workers": "--workers",
    "worker_class": "--worker-class",
    "threads": "--threads",
    "keepalive": "--keep-alive",
    "timeout": "--timeout",
    "graceful_timeout": "--graceful-timeout",
    "backlog": "--backlog",
    "errorlog": "--error-logfile",
    "loglevel": "--log-level",
    "accesslog": "--access-logfile",
    "control_socket": "--control-socket",
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
        elif key == "worker_exit":
            pass  # a Python hook (onnxruntime's exit hang); the baselines load no onnxruntime
        elif key == "control_socket_disable":
            if value:
                args.append("--no-control-socket")
        elif key == "proc_name":
            args += ["--name", proc_name]
        elif key in _FLAG:
            if value is not None:
                args += [_FLAG[key], str(value)]
        else:
            raise SystemExit(
                f"bench/serve.py: gunicorn setting {key!r} from serving.gunicorn_app "
                "has no command-line mapping here; add it to _FLAG"
            )
    return args


@dataclass
class BenchSettings:
    gunicorn: GunicornSettings  # the baselines' server settings (and pipeport's, under gunicorn)
    baseline_preload: bool
    python: str
    model: Path
    sklearn: Path
    pipeport_server: str = "granian"

    def options(self, port: int) -> dict[str, Any]:
        return dataclasses.replace(self.gunicorn, host=HOST, port=port, access_log=False).options()

    def command(self, server: str, port: int) -> list[str]:
        g = self.gunicorn
        if server == "pipeport":
            command = [
                self.python,
                "-m",
                "pipeport",
                "serve",
                str(self.model),
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                str(self.options(port)["workers"]),
                "--server",
                self.pipeport_server,
            ]
            if self.pipeport_server == "gunicorn":
                command += [
                    "--worker-class",
                    self.options(port)["worker_class"],
                    "--threads",
                    str(g.threads),
                    "--keep-alive",
                    str(g.keepalive),
                    "--timeout",
                    str(g.timeout),
                ]
            return command
        options = self.options(port)
        options["preload_app"] = self.baseline_preload
        module = {"naive": "bench.naive_sklearn_app:app", "echo": "bench.echo_app:app"}[server]
        return [self.python, "-m", "gunicorn", *gunicorn_flags(options, f"bench-{server}"), module]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)  # OPENBLAS_CORETYPE & co. left as they are, the same for all
        env["PIPEPORT_BENCH_SKLEARN"] = str(self.sklearn)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        return env


def spawn(
    settings: BenchSettings, server: str, port: int, log_path: Path
) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115  (closed with the process)
    proc = subprocess.Popen(
        settings.command(server, port),
        cwd=ROOT,
        env=settings.env(),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: stopped as a whole, by its id
    )
    log.close()
    _LIVE.append(proc)
    return proc


def post(port: int, body: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", "/v1/predict", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_first_prediction(
    proc: subprocess.Popen[bytes], port: int, body: bytes, deadline_s: float = 60.0
) -> float:
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
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
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
        fields = {
            m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+):\s+(\d+) kB", text, re.M)
        }
        # Pss_Anon / Pss_File (kernel 5.x+): file pages (shared libraries) are split among every
        # process that maps them, the other servers' processes included.
        per_process.append(
            {
                "pid": p,
                "rss_kib": fields.get("Rss", 0),
                "pss_kib": fields.get("Pss", 0),
                "pss_anon_kib": fields.get("Pss_Anon"),
                "pss_file_kib": fields.get("Pss_File"),
            }
        )
    return {
        "processes": len(per_process),
        "rss_mib": sum(x["rss_kib"] for x in per_process) / 1024,
        "pss_mib": sum(x["pss_kib"] for x in per_process) / 1024,
        "pss_file_mib": sum(x["pss_file_kib"] or 0 for x in per_process) / 1024,
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
        rest = stat[stat.rindex(")") + 2 :].split()
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
        print(
            f"  WARNING {label}: other processes still use {busy:.2f} cores after "
            f"{waited:.0f} s; numbers will be pessimistic",
            file=sys.stderr,
        )
    return {"other_cores": busy, "waited_s": waited, "quiet": busy < threshold}


def run_wrk(
    port: int,
    script: Path,
    seconds: float,
    connections: int,
    threads: int,
    server_pid: int | None = None,
) -> dict[str, Any]:
    b0, o0 = cpu_busy_s(), own_cpu_s()
    per0 = tree_cpu_by_pid(server_pid) if server_pid else {}
    s0 = sum(per0.values())
    t0 = time.monotonic()
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        f"http://{HOST}:{port}/v1/predict",
    ]
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
    result["cpu_cores"] = {
        "server": server_cpu / wall,
        "wrk_and_bench": own / wall,
        "other_processes": max(0.0, total - server_cpu - own) / wall,
        "server_per_process": per_process,
    }
    return result


@dataclass
class ServerResult:
    name: str
    command: list[str]
    log_path: Path
    cold_starts_s: list[float] = field(default_factory=list)
    port: int = 0
    sample_response: Any = None
    warmup: dict[str, Any] = field(default_factory=dict)
    # One wrk result per round (without wrk's text output), in round order.
    rounds: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)

    def summary(self, mode: str = "keepalive") -> dict[str, Any]:
        rounds = [r for r in self.rounds if r["mode"] == mode]
        rps = [r["rps"] for r in rounds]

        def median_of(get: Any) -> float:
            return statistics.median([get(r) for r in rounds])

        return {
            "mode": mode,
            "rounds": len(rounds),
            "rps": statistics.median(rps),
            "rps_min": min(rps),
            "rps_max": max(rps),
            "rps_per_round": rps,
            "p50_ms": median_of(lambda r: r["latency_us"]["p50"]) / 1000,
            "p99_ms": median_of(lambda r: r["latency_us"]["p99"]) / 1000,
            "errors": sum(r["errors_total"] for r in rounds),
            "rss_mib": self.memory["rss_mib"],
            "pss_mib": self.memory["pss_mib"],
            "processes": self.memory["processes"],
            "cold_start_s": statistics.median(self.cold_starts_s),
            "cpu_cores_server": median_of(lambda r: r["cpu_cores"]["server"]),
            "cpu_cores_wrk": median_of(lambda r: r["cpu_cores"]["wrk_and_bench"]),
            "cpu_cores_other": median_of(lambda r: r["cpu_cores"]["other_processes"]),
        }


def bench_cold_starts(
    result: ServerResult,
    settings: BenchSettings,
    args: argparse.Namespace,
    body: bytes,
    script: Path,
) -> None:
    """Spawn → first 200, `--cold-starts` times, the server alone on the machine; after the
    last one, memory (RSS, PSS) after a short load, still alone."""
    name = result.name
    wait_for_quiet(args.quiet_threshold, args.quiet_timeout, f"{name} cold start")
    for i in range(args.cold_starts):
        port = free_port()
        t0 = time.monotonic()
        proc = spawn(settings, name, port, result.log_path)
        try:
            result.cold_starts_s.append(wait_first_prediction(proc, port, body) - t0)
            if i == args.cold_starts - 1:
                # Memory with this server alone on the machine (PSS divides shared pages among
                # the processes that map them, so other servers running would lower it), after
                # some load so that every worker has served requests.
                run_wrk(port, script, max(args.warmup, 2), args.concurrency, args.wrk_threads)
                _check_alive(result, proc, "during the memory load")
                result.memory = memory(proc.pid)
        finally:
            _stop(proc)
        print(
            f"  {name}: cold start {i + 1}/{args.cold_starts}: "
            f"{result.cold_starts_s[-1] * 1000:.0f} ms",
            file=sys.stderr,
        )


def _check_alive(result: ServerResult, proc: subprocess.Popen[bytes], when: str) -> None:
    if proc.poll() is not None:
        raise RuntimeError(
            f"{result.name}: server exited with code {proc.returncode} {when} "
            f"(see {result.log_path})"
        )


def bench_load(
    results: dict[str, ServerResult],
    settings: BenchSettings,
    args: argparse.Namespace,
    body: bytes,
    scripts: dict[str, Path],
) -> None:
    """All servers at once: warm up each, then `--rounds` interleaved wrk rounds, then memory.

    Round r runs wrk against every server in turn, starting at server r mod k, so no server is
    always measured first (or last) and slow drift of the machine hits all of them alike.
    """
    names = list(results)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        used: set[int] = set()
        for name in names:
            result = results[name]
            result.port = free_port(avoid=used)
            used.add(result.port)
            procs[name] = spawn(settings, name, result.port, result.log_path)
        for name in names:
            result, proc = results[name], procs[name]
            wait_first_prediction(proc, result.port, body)
            status, payload = post(result.port, body)
            if status != 200:
                raise RuntimeError(f"{name}: POST /v1/predict returned {status}: {payload[:300]!r}")
            result.sample_response = json.loads(payload)
            print(f"  {name}: up on port {result.port} (pid {proc.pid})", file=sys.stderr)
        if args.warmup:
            for name in names:
                result, proc = results[name], procs[name]
                warm = run_wrk(
                    result.port,
                    scripts["keepalive"],
                    args.warmup,
                    args.concurrency,
                    args.wrk_threads,
                    proc.pid,
                )
                warm.pop("wrk_output", None)
                result.warmup = warm
                _check_alive(result, proc, "during the warm-up")
                print(f"  {name}: warm-up {warm['rps']:.0f} req/s", file=sys.stderr)

        k = len(names)
        for r in range(args.rounds):
            first = r % k
            order = names[first:] + names[:first]
            print(f"  round {r + 1}/{args.rounds}: {', '.join(order)}", file=sys.stderr)
            for mode, position, name in [
                (m, i, n) for m in args.modes for i, n in enumerate(order)
            ]:
                result, proc = results[name], procs[name]
                quiet = wait_for_quiet(
                    args.quiet_threshold, args.quiet_timeout, f"{name} {mode} round {r + 1}"
                )
                run = run_wrk(
                    result.port,
                    scripts[mode],
                    args.duration,
                    args.concurrency,
                    args.wrk_threads,
                    proc.pid,
                )
                _check_alive(result, proc, f"during round {r + 1}")
                run.pop("wrk_output", None)
                run.update(
                    {"round": r + 1, "mode": mode, "position": position, "quiet_before": quiet}
                )
                result.rounds.append(run)
                cpu = run["cpu_cores"]
                print(
                    f"    {name} ({mode}): {run['rps']:.0f} req/s, p50 "
                    f"{run['latency_us']['p50'] / 1000:.2f} ms, p99 "
                    f"{run['latency_us']['p99'] / 1000:.2f} ms, errors {run['errors_total']}, "
                    f"CPU server/wrk/other {cpu['server']:.2f}/{cpu['wrk_and_bench']:.2f}/"
                    f"{cpu['other_processes']:.2f}",
                    file=sys.stderr,
                )
                if run["errors_total"]:
                    print(
                        f"  WARNING {name}: wrk counted errors {run['errors']} in round {r + 1}",
                        file=sys.stderr,
                    )

        for name in names:
            _check_alive(results[name], procs[name], "after the rounds")
    finally:
        for proc in procs.values():
            _stop(proc)
    for name in names:
        s = results[name].summary(args.modes[0])
        print(
            f"  {name} ({args.modes[0]}): median {s['rps']:.0f} req/s "
            f"({s['rps_min']:.0f}–{s['rps_max']:.0f}), "
            f"p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms, errors {s['errors']}, "
            f"PSS {s['pss_mib']:.0f} MiB",
            file=sys.stderr,
        )


def round_ratios(results: dict[str, ServerResult], mode: str = "keepalive") -> dict[str, Any]:
    """pipeport req/s ÷ each baseline's req/s, per round (the same round), and their median."""
    out: dict[str, Any] = {}
    pipeport = results.get("pipeport")
    if pipeport is None:
        return out
    mine = [r for r in pipeport.rounds if r["mode"] == mode]
    for other in ("echo", "naive"):
        base = results.get(other)
        if base is None:
            continue
        theirs = [r for r in base.rounds if r["mode"] == mode]
        per_round = [a["rps"] / b["rps"] for a, b in zip(mine, theirs, strict=True)]
        out[f"pipeport_vs_{other}"] = {
            "median": statistics.median(per_round),
            "per_round": per_round,
        }
    return out


def _final_estimator(pipeline: Any) -> Any:
    return pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline


def _set_n_jobs(pipeline: Any, n_jobs: int) -> int | None:
    """Set the final estimator's n_jobs if it has one; the value now in effect (None: none)."""
    estimator = _final_estimator(pipeline)
    if not hasattr(estimator, "n_jobs"):
        return None
    estimator.n_jobs = n_jobs
    return n_jobs


def _timed(fn: Any) -> tuple[float, Any, float]:
    """Wall seconds of `fn()`, its result, and the cores other processes used meanwhile."""
    b0, o0, t0 = cpu_busy_s(), own_cpu_s(), time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    other = max(0.0, (cpu_busy_s() - b0) - (own_cpu_s() - o0)) / wall
    return wall, out, other


def _agreement(onnx_proba: Any, sk_proba: Any) -> tuple[float, float]:
    import numpy as np

    onnx_proba, sk_proba = np.asarray(onnx_proba), np.asarray(sk_proba)
    agree = float((onnx_proba.argmax(1) == sk_proba.argmax(1)).mean())
    return agree, float(np.abs(onnx_proba - sk_proba).max())


def bench_batch(
    settings: BenchSettings,
    holdout: Path,
    n_rows: int,
    chunk: int,
    repeats: int,
    with_cli: bool,
    work_dir: Path,
) -> dict[str, Any]:
    """onnxruntime vs scikit-learn on the same DataFrame, one core and all cores, interleaved."""
    import joblib
    import numpy as np
    import pandas as pd

    from pipeport.contract import columns_to_feeds, raw_rows_to_feeds
    from pipeport.serving.model import load_model

    cores = len(os.sched_getaffinity(0))
    models = {
        "one_core": load_model(settings.model, threads=1),
        "all_cores": load_model(settings.model, threads=cores),
    }
    schema = models["one_core"].schema
    names = list(schema.input_names)
    sample = (
        pd.read_csv(holdout)[names]
        .sample(n=n_rows, replace=True, random_state=0)
        .reset_index(drop=True)
    )
    output_names = [schema.outputs["label"], schema.outputs["probabilities"]]
    # Two copies of the pipeline, so neither setting changes the other's n_jobs mid-run.
    pipelines = {
        "one_core": joblib.load(settings.sklearn),
        "all_cores": joblib.load(settings.sklearn),
    }
    n_jobs = {
        "one_core": _set_n_jobs(pipelines["one_core"], 1),
        "all_cores": _set_n_jobs(pipelines["all_cores"], -1),
    }
    threads = {"one_core": 1, "all_cores": cores}
    estimator = type(_final_estimator(pipelines["one_core"])).__name__

    def onnx_from_frame(session: Any) -> Any:
        parts = []
        for start in range(0, n_rows, chunk):
            part = sample.iloc[start : start + chunk]
            columns: dict[str, Any] = {}
            for spec in schema.inputs:
                column = part[spec.name]
                if spec.kind == "numeric":
                    columns[spec.name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
                elif column.dtype == object:  # text as read_csv gives it: str, NaN for missing
                    columns[spec.name] = column.to_numpy(dtype=object, na_value="")
                else:  # e.g. integer codes read as numbers: the contract's text form
                    columns[spec.name] = np.where(column.isna(), "", column.astype(str)).astype(
                        object
                    )
            feeds = columns_to_feeds(columns, schema, first_row=start)
            parts.append(session.run(output_names, feeds)[1])
        return np.concatenate(parts)

    def paths(setting: str) -> tuple[Any, Any]:
        session, pipeline = models[setting].session, pipelines[setting]
        return (lambda: onnx_from_frame(session)), (lambda: pipeline.predict_proba(sample))

    settings_measured: dict[str, Any] = {}
    times: dict[str, dict[str, list[float]]] = {
        s: {"onnxruntime": [], "sklearn": []} for s in models
    }
    others: dict[str, dict[str, list[float]]] = {
        s: {"onnxruntime": [], "sklearn": []} for s in models
    }
    last: dict[str, tuple[Any, Any]] = {}
    for setting in models:  # warm-up: first runs allocate, thread pools start
        onnx_fn, sk_fn = paths(setting)
        last[setting] = (onnx_fn(), sk_fn())
    for repeat in range(repeats):
        for setting in models:
            onnx_fn, sk_fn = paths(setting)
            onnx_s, onnx_proba, onnx_other = _timed(onnx_fn)
            sk_s, sk_proba, sk_other = _timed(sk_fn)
            times[setting]["onnxruntime"].append(onnx_s)
            times[setting]["sklearn"].append(sk_s)
            others[setting]["onnxruntime"].append(onnx_other)
            others[setting]["sklearn"].append(sk_other)
            last[setting] = (onnx_proba, sk_proba)
            print(
                f"  batch repeat {repeat + 1}/{repeats}, {setting}: onnxruntime "
                f"{n_rows / onnx_s:,.0f} rows/s, scikit-learn {n_rows / sk_s:,.0f} rows/s "
                f"(other processes: {onnx_other:.2f} / {sk_other:.2f} cores)",
                file=sys.stderr,
            )
    for setting in models:
        onnx_times, sk_times = times[setting]["onnxruntime"], times[setting]["sklearn"]
        ratios = [sk / ox for ox, sk in zip(onnx_times, sk_times, strict=True)]
        agree, diff = _agreement(*last[setting])
        if agree < 1.0 or diff > 1e-6:
            print(
                f"  WARNING batch {setting}: onnxruntime and scikit-learn disagree: label "
                f"agreement {agree:.6f}, max |Δp| {diff:.3g}",
                file=sys.stderr,
            )
        onnx_s, sk_s = statistics.median(onnx_times), statistics.median(sk_times)
        settings_measured[setting] = {
            "onnxruntime": {
                "seconds": onnx_s,
                "rows_per_s": n_rows / onnx_s,
                "seconds_per_repeat": onnx_times,
                "other_processes_cores_per_repeat": others[setting]["onnxruntime"],
                "intra_op_threads": threads[setting],
                "what": "DataFrame slice → column arrays → serving.feeds.columns_to_feeds → "
                f"session.run, chunks of {chunk} rows, {threads[setting]} intra-op "
                "thread(s)",
            },
            "sklearn": {
                "seconds": sk_s,
                "rows_per_s": n_rows / sk_s,
                "seconds_per_repeat": sk_times,
                "other_processes_cores_per_repeat": others[setting]["sklearn"],
                "n_jobs": n_jobs[setting],
                "what": f"pipeline.predict_proba(DataFrame), all rows at once, {estimator} "
                f"n_jobs={n_jobs[setting]}",
            },
            "ratio": {
                "median": statistics.median(ratios),
                "per_repeat": ratios,
                "what": "onnxruntime rows/s ÷ scikit-learn rows/s, per repeat",
            },
            "label_agreement": agree,
            "max_abs_proba_diff": diff,
        }

    # Informational: the same rows as a JSON client sends them (missing values are None, not
    # NaN), one core, timed alternately like the above but fewer times.
    rows = sample.astype(object).where(sample.notna(), None).to_dict("records")
    session_1, pipeline_1 = models["one_core"].session, pipelines["one_core"]

    def onnx_from_rows() -> Any:
        parts = []
        for start in range(0, len(rows), chunk):
            feeds = raw_rows_to_feeds(rows[start : start + chunk], schema, first_row=start)
            parts.append(session_1.run(output_names, feeds)[1])
        return np.concatenate(parts)

    def sklearn_from_rows() -> Any:
        return pipeline_1.predict_proba(pd.DataFrame(rows))

    info_repeats = min(repeats, 3)
    row_times: dict[str, list[float]] = {"onnxruntime": [], "sklearn": []}
    for _ in range(info_repeats):
        row_times["onnxruntime"].append(_timed(onnx_from_rows)[0])
        row_times["sklearn"].append(_timed(sklearn_from_rows)[0])
    rows_onnx_s = statistics.median(row_times["onnxruntime"])
    rows_sk_s = statistics.median(row_times["sklearn"])
    result: dict[str, Any] = {
        "rows": n_rows,
        "chunk_rows": chunk,
        "repeats": repeats,
        "cores": cores,
        "sklearn_estimator": estimator,
        "order": "per repeat: one core (onnxruntime, scikit-learn), then all cores (onnxruntime, "
        "scikit-learn); one untimed warm-up of each first",
        **settings_measured,
        "onnxruntime_from_rows": {
            "seconds": rows_onnx_s,
            "rows_per_s": n_rows / rows_onnx_s,
            "repeats": info_repeats,
            "what": "serving.feeds.raw_rows_to_feeds + session.run on raw row dicts, chunks of "
            f"{chunk} rows, 1 intra-op thread, informational",
        },
        "sklearn_from_rows": {
            "seconds": rows_sk_s,
            "rows_per_s": n_rows / rows_sk_s,
            "repeats": info_repeats,
            "what": f"predict_proba(pd.DataFrame(raw rows)), n_jobs={n_jobs['one_core']}, "
            "informational",
        },
    }
    if with_cli:
        csv_in, csv_out = work_dir / "batch_rows.csv", work_dir / "batch_preds.csv"
        sample.to_csv(csv_in, index=False)
        cmd = [
            settings.python,
            "-m",
            "pipeport",
            "predict",
            str(settings.model),
            "--input",
            str(csv_in),
            "--output",
            str(csv_out),
            "--progress",
            "never",
            "--chunk-size",
            str(chunk),
        ]
        t0 = time.perf_counter()
        done = subprocess.run(
            cmd,
            cwd=ROOT,
            env=settings.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        cli_s = time.perf_counter() - t0
        if done.returncode != 0:
            print(
                f"  WARNING batch: `pipeport predict` exited with {done.returncode}: "
                f"{done.stderr.strip()[-500:]}",
                file=sys.stderr,
            )
        result["pipeport_predict_cli"] = {
            "seconds": cli_s,
            "rows_per_s": n_rows / cli_s,
            "returncode": done.returncode,
            "what": "`pipeport predict` on a CSV, whole process (start-up, CSV read and write), "
            "its default onnxruntime threads (one per core), timed once",
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
    for pkg in (
        "onnxruntime",
        "scikit-learn",
        "flask",
        "gunicorn",
        "granian",
        "uvloop",
        "numpy",
        "pandas",
        "pipeport",
    ):
        try:
            packages[pkg] = version(pkg)
        except PackageNotFoundError:
            packages[pkg] = None
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        or None
    )
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
        "pipeport_server": settings.pipeport_server,
        "gunicorn": {
            "workers": options["workers"],
            "worker_class": options["worker_class"],
            "threads": options["threads"],
            "keepalive_s": options["keepalive"],
            "preload_pipeport": options["preload_app"],
            "preload_baselines": settings.baseline_preload,
            "timeout_s": options["timeout"],
            "backlog": options["backlog"],
        },
        "load": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "servers": args.servers,
            "concurrency": args.concurrency,
            "modes": args.modes,
            "wrk_threads": args.wrk_threads,
            "rows_per_request": 1,
            "cold_start_runs": args.cold_starts,
            "order": "all servers running at once; round r starts at server r mod k, "
            "servers in the order given",
        },
    }


def goals(
    summaries: dict[str, dict[str, dict[str, Any]]],
    ratios: dict[str, dict[str, Any]],
    batch: dict[str, Any] | None,
) -> dict[str, Any]:
    """The issue's goals from one run: `summaries[mode][server]`, `ratios[mode]`."""
    values: dict[str, float | None] = {key: None for key in GOALS}
    for mode, suffix in (("keepalive", ""), ("close", "_close")):
        by_server = summaries.get(mode, {})
        pp, echo = by_server.get("pipeport"), by_server.get("echo")
        if pp and echo and f"p99_vs_echo{suffix}" in values:
            values[f"p99_vs_echo{suffix}"] = pp["p99_ms"] / echo["p99_ms"]
        mode_ratios = ratios.get(mode, {})
        if "pipeport_vs_echo" in mode_ratios:
            values[f"throughput_vs_echo{suffix}"] = mode_ratios["pipeport_vs_echo"]["median"]
        if "pipeport_vs_naive" in mode_ratios and not suffix:
            values["throughput_vs_naive"] = mode_ratios["pipeport_vs_naive"]["median"]
    first = next(iter(summaries.values()), {})
    pp = first.get("pipeport")
    if pp:
        values["cold_start_s"] = pp["cold_start_s"]
        if "naive" in first:
            values["pss_vs_naive"] = pp["pss_mib"] / first["naive"]["pss_mib"]
    if batch:
        values["batch_vs_sklearn"] = batch["one_core"]["ratio"]["median"]
    out = {}
    for key, (what, op, threshold, shown) in GOALS.items():
        value = values[key]
        met = None
        if value is not None:
            met = {">=": value >= threshold, "<": value < threshold, "<=": value <= threshold}[op]
        out[key] = {"what": what, "value": value, "goal": shown, "threshold": threshold, "met": met}
    return out


def _fmt_goal_value(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if key.startswith("p99_vs_echo"):
        return f"{value:.2f}"
    if key == "cold_start_s":
        return f"{value:.2f} s"
    if key == "pss_vs_naive":
        return f"{value:.2f} (1/{1 / value:.1f})" if value else "0"
    if key.startswith("throughput"):
        return f"{value:.1f}×" if value >= 10 else f"{value:.2f}×"
    if key == "batch_vs_sklearn":
        return f"{value:.2f}×"
    return f"{value:.2f}"


def markdown(
    env: dict[str, Any],
    summaries: dict[str, dict[str, dict[str, Any]]],
    ratios: dict[str, dict[str, Any]],
    batch: dict[str, Any] | None,
    goal_results: dict[str, Any],
) -> str:
    g, load = env["gunicorn"], env["load"]
    rounds = load["rounds"]
    lines = [
        f"Single-row `POST /v1/predict`, wrk, {load['concurrency']} connections "
        f"({load['wrk_threads']} wrk thread), twice: keep-alive clients, and clients that close "
        "each connection; all servers running at once, each warmed up for "
        f"{load['warmup_s']:g} s, then median of {rounds} round{'s' if rounds != 1 else ''} of "
        f"{load['duration_s']:g} s per server and client kind, servers interleaved (start order "
        "rotated each round), ratios per round; req/s is the median with the min–max over rounds "
        "in brackets. Memory = master + workers, each server alone, after a short load. Cold "
        f"start = spawn → first 200, each server alone, median of {load['cold_start_runs']}. CPU "
        "= median cores used during a measured run by the server (master + workers) / wrk and "
        "this script / all other processes on the machine (non-zero: the machine was shared, "
        "numbers are pessimistic).",
    ]
    for mode in load["modes"]:
        lines += [
            "",
            f"**{MODE_TITLES[mode].capitalize()}**",
            "",
            "| server | req/s (min–max) | p50 | p99 | RSS | PSS | cold start | "
            "CPU: server / wrk / other |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in SERVERS:
            s = summaries.get(mode, {}).get(name)
            if not s:
                continue
            err = f", {s['errors']} errors" if s["errors"] else ""
            lines.append(
                f"| {SERVER_TITLES[name]} | {s['rps']:,.0f} ({s['rps_min']:,.0f}–"
                f"{s['rps_max']:,.0f}{err}) | {s['p50_ms']:.2f} ms | {s['p99_ms']:.2f} ms | "
                f"{s['rss_mib']:.0f} MiB | {s['pss_mib']:.0f} MiB | {s['cold_start_s']:.2f} s | "
                f"{s['cpu_cores_server']:.2f} / {s['cpu_cores_wrk']:.2f} / "
                f"{s['cpu_cores_other']:.2f} |"
            )
        mode_ratios = ratios.get(mode, {})
        ratio_lines = [
            f"req/s {title}, per round: "
            + ", ".join(f"{x:.2f}" for x in mode_ratios[key]["per_round"])
            + f"; median {mode_ratios[key]['median']:.2f}."
            for key, title in (
                ("pipeport_vs_echo", "pipeport ÷ echo"),
                ("pipeport_vs_naive", "pipeport ÷ naive"),
            )
            if key in mode_ratios
        ]
        if ratio_lines:
            lines += ["", "  \n".join(ratio_lines)]  # Markdown line breaks, one paragraph
    if batch:
        one, all_ = batch["one_core"], batch["all_cores"]

        def rate(entry: dict[str, Any] | None) -> str:
            return f"{entry['rows_per_s']:,.0f}" if entry else "n/a"

        agreement = min(one["label_agreement"], all_["label_agreement"])
        diff = max(one["max_abs_proba_diff"], all_["max_abs_proba_diff"])
        verdict = "agree" if agreement == 1.0 and diff <= 1e-6 else "**differ**"

        lines += [
            "",
            f"Batch, {batch['rows']:,} rows (holdout.csv resampled) starting from a pandas "
            "DataFrame; timed regions include building the inputs from it. Median of "
            f"{batch['repeats']} repeats, onnxruntime and scikit-learn alternating. One core: 1 "
            f"onnxruntime intra-op thread vs {batch['sklearn_estimator']} "
            f"n_jobs={one['sklearn']['n_jobs']}; all cores ({batch['cores']}): "
            f"{all_['onnxruntime']['intra_op_threads']} intra-op threads vs "
            f"n_jobs={all_['sklearn']['n_jobs']}. Predictions {verdict} (labels "
            f"{agreement:.2%} the same, max |Δp| {diff:.1g}).",
            "",
            "| path | one core rows/s | all cores rows/s |",
            "|---|---:|---:|",
            f"| onnxruntime: `columns_to_feeds` + `session.run`, {batch['chunk_rows']:,}-row "
            f"chunks | {rate(one['onnxruntime'])} | {rate(all_['onnxruntime'])} |",
            f"| scikit-learn: `predict_proba(DataFrame)` | {rate(one['sklearn'])} | "
            f"{rate(all_['sklearn'])} |",
            f"| onnxruntime ÷ scikit-learn (median per repeat) | {one['ratio']['median']:.2f}× | "
            f"{all_['ratio']['median']:.2f}× |",
            "| *informational:* onnxruntime from raw row dicts: `raw_rows_to_feeds` + "
            f"`session.run` | {rate(batch['onnxruntime_from_rows'])} | n/a |",
            "| *informational:* scikit-learn `predict_proba(pd.DataFrame(rows))` from raw row "
            f"dicts | {rate(batch['sklearn_from_rows'])} | n/a |",
        ]
        if "pipeport_predict_cli" in batch:
            lines.append(
                "| *informational:* `pipeport predict` CSV → CSV, whole process, once | "
                f"n/a | {rate(batch['pipeport_predict_cli'])} |"
            )
    lines += ["", "| goal | measured | target | met |", "|---|---:|---:|:---:|"]
    for key, goal in goal_results.items():
        met = {True: "yes", False: "**no**", None: "–"}[goal["met"]]
        lines.append(
            f"| {goal['what']} | {_fmt_goal_value(key, goal['value'])} | {goal['goal']} | {met} |"
        )
    env_vars = ", ".join(f"{k}={v}" for k, v in env["env"].items() if v is not None) or "none set"
    p = env["packages"]
    lines += [
        "",
        f"Settings: pipeport `pipeport serve --workers {g['workers']}` "
        f"(`--server {env['pipeport_server']}`, granian {p['granian']}, its defaults otherwise); "
        f"the baselines under gunicorn {p['gunicorn']}, {g['workers']} workers "
        f"(one per core), `{g['worker_class']}` worker class, {g['threads']} thread(s) per worker, "
        f"keep-alive {g['keepalive_s']} s, preload "
        f"{'on' if g['preload_baselines'] else 'off'}, no access log (pipeport's settings when "
        "it ran under gunicorn).  ",
        f"Machine: {env['cpu_model']}, {env['cores_usable']} cores; Python {env['python']}, "
        f"onnxruntime {p['onnxruntime']}, scikit-learn {p['scikit-learn']}, Flask {p['flask']}; "
        f"{env['wrk_version']}; environment: {env_vars}; {env['date'][:10]}"
        + (f", commit {env['git_commit']}" if env["git_commit"] else "")
        + ".",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = GunicornSettings()
    parser = argparse.ArgumentParser(
        prog="python bench/serve.py",
        description="Serving benchmark: pipeport vs naive Flask + scikit-learn vs Flask echo, "
        "same gunicorn settings (pipeport's defaults unless overridden). Cold starts "
        "each server alone; then all servers run at once and wrk measures them in "
        "interleaved rounds (start order rotated), reporting medians over rounds and "
        "per-round throughput ratios; memory after the rounds. Then batch rows/s, "
        "onnxruntime vs scikit-learn from the same DataFrame, one core and all "
        "cores, interleaved repeats. Prints a Markdown table, writes JSON.",
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=10,
        help="seconds of measured load per server in each round (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measurement rounds; each runs wrk against every server in turn, "
        "the start order rotated by one each round; medians are reported "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="seconds of unmeasured load per server, once, before the first "
        "round (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="wrk connections (default: %(default)s)"
    )
    parser.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk threads (default: %(default)s; keeps the client off the "
        "server's cores as much as a 2-core box allows)",
    )
    parser.add_argument(
        "--cold-starts",
        type=int,
        default=3,
        help="cold starts per server, each server alone, the median is "
        "reported (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results" / "serve.json",
        help="JSON results file (default: bench/results/serve.json)",
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS / "pipeline.onnx")
    parser.add_argument(
        "--sklearn", type=Path, default=DEFAULT_ARTIFACTS / "sklearn_pipeline.joblib"
    )
    parser.add_argument("--holdout", type=Path, default=DEFAULT_ARTIFACTS / "holdout.csv")
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help="comma-separated subset of %(default)s"
    )
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="client kinds, comma-separated subset of %(default)s (keepalive: connections "
        "reused; close: `Connection: close` on every request)",
    )
    parser.add_argument(
        "--pipeport-server",
        choices=("granian", "gunicorn"),
        default="granian",
        help="`pipeport serve --server` (default: %(default)s)",
    )
    gun = parser.add_argument_group(
        "gunicorn settings of the baselines (defaults: serving.gunicorn_app)"
    )
    gun.add_argument(
        "--workers",
        type=int,
        default=defaults.workers,
        help="0: one per core (default: %(default)s)",
    )
    gun.add_argument("--worker-class", choices=("gthread", "sync"), default=defaults.worker_class)
    gun.add_argument("--threads", type=int, default=defaults.threads)
    gun.add_argument("--keep-alive", type=int, default=defaults.keepalive)
    gun.add_argument(
        "--baseline-preload",
        choices=("same", "on", "off"),
        default="same",
        help="--preload for the naive and echo apps (same: as pipeport, which always preloads)",
    )
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=0.25,
        help="before each cold-start series, each measured wrk run and the "
        "batch phase, wait until other processes use fewer cores than this "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--quiet-timeout",
        type=float,
        default=10.0,
        help="but wait at most this many seconds (default: %(default)s)",
    )
    batch = parser.add_argument_group("batch")
    batch.add_argument(
        "--batch-rows",
        type=int,
        default=100_000,
        help="rows in the DataFrame, holdout.csv resampled with replacement (default: %(default)s)",
    )
    batch.add_argument(
        "--batch-chunk",
        type=int,
        default=10_000,
        help="rows per onnxruntime call (default: %(default)s); scikit-learn gets all rows at once",
    )
    batch.add_argument(
        "--batch-repeats",
        type=int,
        default=5,
        help="timed repeats per path and setting, onnxruntime and scikit-learn "
        "alternating; medians are reported (default: %(default)s)",
    )
    batch.add_argument("--no-batch", action="store_true", help="skip the batch measurement")
    batch.add_argument(
        "--no-cli-batch",
        action="store_true",
        help="skip the informational `pipeport predict` CSV run",
    )
    args = parser.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or set(args.modes) - set(MODES):
        parser.error(f"--modes must be a subset of {','.join(MODES)}")
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be 1..600 s and --warmup 0..60 s (whole seconds: wrk)")
    if not 1 <= args.rounds <= 50:
        parser.error("--rounds must be 1..50")
    if not 1 <= args.cold_starts <= 50:
        parser.error("--cold-starts must be 1..50")
    if not 1 <= args.batch_repeats <= 50 or args.batch_rows < 1 or args.batch_chunk < 1:
        parser.error("--batch-repeats must be 1..50, --batch-rows and --batch-chunk at least 1")
    if len(set(args.servers)) != len(args.servers) or not args.servers:
        parser.error("--servers must name each server at most once, and at least one")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench/serve.py: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    for path in (args.model, args.sklearn, args.holdout):
        if not path.exists():
            print(
                f"bench/serve.py: {path} missing; run `pipeport train "
                "configs/penguins-species.toml --out artifacts/penguins-species` and "
                "`pipeport export artifacts/penguins-species`",
                file=sys.stderr,
            )
            return 2
    defaults = GunicornSettings()
    preload = defaults.options()["preload_app"]
    settings = BenchSettings(
        gunicorn=GunicornSettings(
            workers=args.workers,
            worker_class=args.worker_class,
            threads=args.threads,
            keepalive=args.keep_alive,
        ),
        baseline_preload={"same": preload, "on": True, "off": False}[args.baseline_preload],
        python=sys.executable,
        model=args.model.resolve(),
        sklearn=args.sklearn.resolve(),
        pipeport_server=args.pipeport_server,
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
    from pipeport.serving.model import load_model

    schema = load_model(settings.model).schema
    row: dict[str, Any] = {}
    for spec in schema.inputs:
        text = first[spec.name]
        row[spec.name] = None if text == "" else float(text) if spec.kind == "numeric" else text
    body = json.dumps({"rows": [row]}, separators=(",", ":")).encode()

    subprocess.run(
        [settings.python, "-m", "compileall", "-q", *PIPEPORT_PACKAGES],
        cwd=ROOT,
        check=True,
    )
    results: dict[str, ServerResult] = {}
    batch = None
    with tempfile.TemporaryDirectory(prefix="pipeport-bench-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA_TEMPLATE.replace("BODY", body.decode()))
        closing = Path(tmp) / "post-close.lua"
        closing.write_text(
            LUA_TEMPLATE.replace("BODY", body.decode()) + 'wrk.headers["Connection"] = "close"\n'
        )
        scripts = {"keepalive": script, "close": closing}
        try:
            for name in args.servers:
                print(f"bench: {name}: {' '.join(settings.command(name, 0))}", file=sys.stderr)
                log_path = log_dir / f"{name}.log"
                log_path.unlink(missing_ok=True)
                results[name] = ServerResult(
                    name=name, command=settings.command(name, 0), log_path=log_path
                )
                bench_cold_starts(results[name], settings, args, body, script)
            print(
                f"bench: load, {', '.join(args.servers)} at once, {args.rounds} round(s) of "
                f"{args.duration} s per server",
                file=sys.stderr,
            )
            bench_load(results, settings, args, body, scripts)
            if not args.no_batch:
                print(f"bench: batch, {args.batch_rows} rows", file=sys.stderr)
                batch_quiet = wait_for_quiet(args.quiet_threshold, args.quiet_timeout, "batch")
                batch = bench_batch(
                    settings,
                    args.holdout,
                    args.batch_rows,
                    args.batch_chunk,
                    args.batch_repeats,
                    not args.no_cli_batch,
                    Path(tmp),
                )
                batch["quiet_before"] = batch_quiet
        finally:
            _stop_all()

    summaries = {
        mode: {name: r.summary(mode) for name, r in results.items()} for mode in args.modes
    }
    ratios = {mode: round_ratios(results, mode) for mode in args.modes}
    goal_results = goals(summaries, ratios, batch)
    table = markdown(env, summaries, ratios, batch, goal_results)
    document = {
        "environment": env,
        "request_body": body.decode(),
        "summary": summaries,
        "ratios": ratios,
        "goals": goal_results,
        "servers": {
            name: {
                "command": r.command,
                "cold_starts_s": r.cold_starts_s,
                "port": r.port,
                "warmup": r.warmup,
                "rounds": r.rounds,
                "memory": r.memory,
                "sample_response": r.sample_response,
            }
            for name, r in results.items()
        },
        "batch": batch,
        "markdown": table,
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(table)
    print(f"\nbench: results written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
