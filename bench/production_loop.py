#!/usr/bin/env python
"""What the production loop costs a server (issue 14): throughput with the prediction log on
every request, and with a shadow model, against the same server without them, in one run.

Servers, all `pipeport serve MODEL.onnx` under its default server (granian), one worker per core,
running at once on their own loopback ports (drift counters are on in all three: the default):

  plain        no prediction log
  log          --log-predictions DIR           (--log-sample 1: every request logged)
  log+shadow   --log-predictions DIR --shadow SHADOW.onnx  (default: a copy of MODEL.onnx, so
               the shadow costs what running the served model again costs)

Load: wrk, single-row `POST /v1/predict`, keep-alive, --connections connections, --duration s per
server, --rounds rounds; in each round every server is loaded in turn (start order rotated, after
waiting for the machine to be quiet) and the throughput ratios log ÷ plain and log+shadow ÷ plain
are taken within the round, so slow drift of the machine cancels; the medians are reported.
After the rounds each logging server is stopped with SIGTERM (its logs are written out), and
its logs are checked: one line per answered request, and the requests its /metrics counted as
dropped (a full queue) or failed.

    python bench/production_loop.py [--duration 10] [--rounds 3] [--connections 8]
                                    [--out bench/results/production_loop.json]
"""

from __future__ import annotations

import argparse
import atexit
import datetime as _dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.serve import (  # noqa: E402  (the same wrk runner, script and process handling)
    _LIVE,
    HOST,
    LUA_TEMPLATE,
    _stop_all,
    free_port,
    run_wrk,
    wait_first_prediction,
    wait_for_quiet,
)

DEFAULT_ARTIFACTS = ROOT / "artifacts" / "penguins-species"
SERVERS = ("plain", "log", "log+shadow")


def command(name: str, model: Path, shadow: Path, port: int, workers: int, logs: Path) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "pipeport",
        "serve",
        str(model),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    if name != "plain":
        cmd += ["--log-predictions", str(logs / name)]
    if name == "log+shadow":
        cmd += ["--shadow", str(shadow)]
    return cmd


def spawn(cmd: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _LIVE.append(proc)
    return proc


def metric(port: int, name: str) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return float("nan")


def check_logs(folder: Path) -> dict[str, Any]:
    files = sorted(folder.glob("*.jsonl"))
    lines = 0
    incomplete = 0
    for path in files:
        for text in path.read_text().splitlines():
            try:
                json.loads(text)
                lines += 1
            except ValueError:
                incomplete += 1
    return {
        "files": len(files),
        "lines": lines,
        "incomplete_lines": incomplete,
        "bytes": sum(p.stat().st_size for p in files),
    }


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    rows = []
    for name in SERVERS:
        s = result["summary"][name]
        rows.append(
            f"| {name} | {s['rps']:,.0f} ({s['rps_min']:,.0f}–{s['rps_max']:,.0f}) | "
            f"{s['p50_ms']:.2f} ms | {s['p99_ms']:.2f} ms | {s['cpu_other']:.2f} |"
        )
    ratios = result["ratios"]
    lines = [
        f"Single-row `POST /v1/predict`, wrk, {env['connections']} keep-alive connections, "
        f"{env['duration_s']:g} s per server and round, {env['rounds']} rounds (start order "
        f"rotated); `pipeport serve --workers {env['workers']}` (granian) three times, at once:",
        "",
        "| server | req/s (min–max) | p50 | p99 | CPU: other processes |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        "log ÷ plain, per round: "
        + ", ".join(f"{r:.3f}" for r in ratios["log"])
        + f"; median {statistics.median(ratios['log']):.3f} "
        + f"(cost {1 - statistics.median(ratios['log']):.1%}).  ",
        "log+shadow ÷ plain, per round: "
        + ", ".join(f"{r:.3f}" for r in ratios["log+shadow"])
        + f"; median {statistics.median(ratios['log+shadow']):.3f} "
        + f"(cost {1 - statistics.median(ratios['log+shadow']):.1%}).",
        "",
        "Each logging server's logs after SIGTERM: requests wrk counted as answered (warm-up "
        "and the first prediction included; a request in flight when wrk stops is answered and "
        "logged but not counted, up to one per connection and run), the lines in its files "
        "(each a complete JSON object), and what its /metrics counted as dropped (queue full) "
        "or failed:",
        "",
        "| logging server | answered (wrk) | lines in its logs | dropped | failed | files | MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("log", "log+shadow"):
        c = result["logs"][name]
        lines.append(
            f"| {name} | {c['answered']:,} | {c['lines']:,} | {c['dropped']:.0f} | "
            f"{c['failed']:.0f} | {c['files']} | {c['bytes'] / 2**20:.1f} |"
        )
    lines += [
        "",
        f"Machine: {env['cpu_model']}, {env['cores']} cores; Python {env['python']}; "
        f"{env['date']}, commit {env['commit']}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/production_loop.py",
        description="Throughput of pipeport serve with the prediction log (every request) "
        "and with a shadow model, against the same server without them (ratios per round).",
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS / "pipeline.onnx")
    parser.add_argument("--shadow", type=Path, help="shadow model (default: a copy of --model)")
    parser.add_argument("--holdout", type=Path, default=DEFAULT_ARTIFACTS / "holdout.csv")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--quiet-threshold", type=float, default=0.3)
    parser.add_argument("--quiet-timeout", type=float, default=20.0)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "production_loop.json"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench/production_loop.py: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    for path in (args.model, args.holdout):
        if not path.exists():
            print(f"bench/production_loop.py: {path} missing; run `make export`", file=sys.stderr)
            return 2
    atexit.register(_stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    import csv

    from pipeport.serving.model import load_model

    schema = load_model(args.model).schema
    with open(args.holdout, newline="") as handle:
        first = next(csv.DictReader(handle))
    row = {
        spec.name: None
        if first[spec.name] == ""
        else float(first[spec.name])
        if spec.kind == "numeric"
        else first[spec.name]
        for spec in schema.inputs
    }
    body = json.dumps({"rows": [row]}, separators=(",", ":")).encode()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pipeport-bench-loop-") as tmp_text:
        tmp = Path(tmp_text)
        shadow = args.shadow or tmp / "shadow.onnx"
        if args.shadow is None:
            shutil.copyfile(args.model, shadow)
        script = tmp / "post.lua"
        script.write_text(LUA_TEMPLATE.replace("BODY", body.decode()))
        logs = tmp / "logs"
        ports: dict[str, int] = {}
        procs: dict[str, subprocess.Popen[bytes]] = {}
        for name in SERVERS:
            ports[name] = free_port(set(ports.values()))
            cmd = command(name, args.model, shadow, ports[name], args.workers, logs)
            print(f"bench: {name}: {' '.join(cmd)}", file=sys.stderr)
            procs[name] = spawn(cmd, tmp / f"{name.replace('+', '-')}.log")
            wait_first_prediction(procs[name], ports[name], body)
        warmed: dict[str, int] = {}
        for name in SERVERS:  # warm up
            warm = run_wrk(ports[name], script, args.warmup, args.connections, 1, procs[name].pid)
            warmed[name] = int(warm["requests"]) + 1  # + the first prediction
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in SERVERS}
        ratios: dict[str, list[float]] = {"log": [], "log+shadow": []}
        for r in range(args.rounds):
            order = SERVERS[r % len(SERVERS) :] + SERVERS[: r % len(SERVERS)]
            rps = {}
            for name in order:
                quiet = wait_for_quiet(args.quiet_threshold, args.quiet_timeout, name)
                result = run_wrk(
                    ports[name], script, args.duration, args.connections, 1, procs[name].pid
                )
                result.pop("wrk_output", None)
                result["quiet_before"] = quiet
                rounds[name].append(result)
                rps[name] = result["rps"]
                print(
                    f"  round {r + 1} {name}: {result['rps']:,.0f} req/s, "
                    f"errors {result['errors_total']}",
                    file=sys.stderr,
                )
            for name in ratios:
                ratios[name].append(rps[name] / rps["plain"])
        answered = {
            name: warmed[name] + int(sum(x["requests"] for x in rounds[name])) for name in SERVERS
        }
        checked: dict[str, dict[str, Any]] = {}
        for name in ("log", "log+shadow"):
            counted = {
                "dropped": metric(ports[name], "pipeport_prediction_log_dropped_total"),
                "failed": metric(ports[name], "pipeport_prediction_log_errors_total"),
            }
            procs[name].send_signal(signal.SIGTERM)
            procs[name].wait(timeout=60)
            checked[name] = {**check_logs(logs / name), **counted}
            checked[name]["answered"] = answered[name]
        _stop_all()
    for name in SERVERS:
        rps_values = [x["rps"] for x in rounds[name]]
        summary[name] = {
            "rps": statistics.median(rps_values),
            "rps_min": min(rps_values),
            "rps_max": max(rps_values),
            "rps_per_round": rps_values,
            "p50_ms": statistics.median(x["latency_us"]["p50"] for x in rounds[name]) / 1000,
            "p99_ms": statistics.median(x["latency_us"]["p99"] for x in rounds[name]) / 1000,
            "errors": sum(x["errors_total"] for x in rounds[name]),
            "cpu_server": statistics.median(x["cpu_cores"]["server"] for x in rounds[name]),
            "cpu_other": statistics.median(x["cpu_cores"]["other_processes"] for x in rounds[name]),
        }
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    document = {
        "environment": {
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "workers": args.workers,
            "cores": len(os.sched_getaffinity(0)),
            "cpu_model": cpu_model,
            "python": platform.python_version(),
            "date": _dt.date.today().isoformat(),
            "commit": commit,
            "shadow": "a copy of the model" if args.shadow is None else str(args.shadow),
        },
        "request_body": body.decode(),
        "summary": summary,
        "ratios": ratios,
        "ratio_medians": {k: statistics.median(v) for k, v in ratios.items()},
        "logs": checked,
        "rounds": rounds,
    }
    document["markdown"] = markdown(document)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(document["markdown"])
    print(f"\nbench: results written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
