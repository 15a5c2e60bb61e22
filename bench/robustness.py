#!/usr/bin/env python
"""Robustness of `pipeport serve` under traffic that is not a benchmark's: the README's figures.

Each scenario starts a fresh server on 127.0.0.1 (penguins-species, 2 workers), runs bounded
client loops against it and stops it; every figure comes from this run:

  slowloris   --slow-clients connections (200) each send a header line a second; meanwhile good
              single-row requests go out, one at a time, for --slow-seconds: answered / sent and
              their p50 / p99 latency. Run against granian (the default) and, for comparison,
              gunicorn `sync` (pipeport's former default).
  soak        wrk, --soak-connections (64) keep-alive connections for --soak-seconds (60):
              req/s, errors, non-2xx, and the server's PSS sampled every 5 s (first, last, max).
  worker kill wrk, 8 connections for 10 s; one worker SIGKILLed after 3 s: failed requests (wrk's
              errors), whether a new worker took its place.
  SIGTERM     8 clients looping on single-row requests; SIGTERM after 2 s: requests answered,
              requests refused or cut, exit status, seconds to exit.
  quiet stop  an idle server stopped by SIGTERM and by Ctrl-C (SIGINT to its process group):
              seconds to exit, exit status, alarming log lines (tracebacks, killed workers,
              errors), for granian and for gunicorn.

    python bench/robustness.py [--soak-seconds 60] [--out bench/results/robustness.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.serve import LUA_TEMPLATE, free_port, memory, process_tree  # noqa: E402

HOST = "127.0.0.1"
MODEL = ROOT / "artifacts" / "penguins-species" / "pipeline.onnx"
BODY = json.dumps(
    {
        "rows": [
            {
                "bill_length_mm": 39.1,
                "bill_depth_mm": 18.7,
                "flipper_length_mm": 181,
                "body_mass_g": 3750,
                "year": 2007,
                "island": "Torgersen",
                "sex": "male",
            }
        ]
    },
    separators=(",", ":"),
).encode()
REQUEST = (
    f"POST /v1/predict HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    f"Content-Length: {len(BODY)}\r\n\r\n"
).encode() + BODY
ALARMING = re.compile(r"Traceback|SIGKILL|Killing worker|refused to gracefully|ERROR|CRITICAL")


class Server:
    """`pipeport serve` in its own process group, logging to a file."""

    def __init__(self, server: str, log_dir: Path, *extra: str) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"{server}-{self.port}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeport", "serve", str(MODEL), "--port", str(self.port)]
                + ["--workers", "2", "--server", server, *extra],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            if len(self.workers()) == 2 and _request(self.port, timeout=2)[0] == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"server did not come up: {self.log()}")

    def workers(self) -> list[int]:
        return [p for p in process_tree(self.process.pid) if p != self.process.pid]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, group: bool = False) -> dict[str, Any]:
        start = time.monotonic()
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        seconds = time.monotonic() - start
        alarming = [line for line in self.log().splitlines() if ALARMING.search(line)]
        return {"exit_code": code, "seconds": seconds, "alarming_lines": alarming}


REFUSED, CUT = 0, -1  # no connection; a connection that failed after the request was sent


def _request(port: int, timeout: float = 10) -> tuple[int, float]:
    """One single-row request on a new connection: (status, or REFUSED / CUT, seconds)."""
    start = time.monotonic()
    try:
        sock = socket.create_connection((HOST, port), timeout=timeout)
    except OSError:
        return REFUSED, time.monotonic() - start
    try:
        with sock:
            sock.sendall(REQUEST)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        status = int(data[9:12]) if data.startswith(b"HTTP/1.") else CUT
    except OSError:
        status = CUT
    return status, time.monotonic() - start


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def slowloris(server_name: str, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    server = Server(server_name, log_dir)
    stop = threading.Event()
    sockets: list[socket.socket] = []
    for _ in range(args.slow_clients):
        sock = socket.create_connection((HOST, server.port), timeout=5)
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: bench\r\n")
        sockets.append(sock)

    def trickle() -> None:
        line = 0
        while not stop.wait(1.0):
            line += 1
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(f"X-Slow-{line}: {line}\r\n".encode())

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    results = []
    deadline = time.monotonic() + args.slow_seconds
    while time.monotonic() < deadline:
        results.append(_request(server.port, timeout=5))
        time.sleep(0.05)
    stop.set()
    thread.join()
    for sock in sockets:
        sock.close()
    server.stop()
    ok = [seconds for status, seconds in results if status == 200]
    return {
        "server": server_name,
        "slow_connections": args.slow_clients,
        "good_sent": len(results),
        "good_answered": len(ok),
        "p50_ms": statistics.median(ok) * 1000 if ok else None,
        "p99_ms": _percentile(ok, 0.99) * 1000 if ok else None,
    }


def _wrk(port: int, seconds: int, connections: int, script: Path) -> dict[str, Any]:
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script)]
        + [f"http://{HOST}:{port}/v1/predict"],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    result: dict[str, Any] = json.loads(re.search(r"^BENCH_JSON (.*)$", done.stdout, re.M)[1])  # type: ignore[index]
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def soak(args: argparse.Namespace, log_dir: Path, script: Path) -> dict[str, Any]:
    server = Server("granian", log_dir)
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(5.0):
            samples.append(memory(server.process.pid)["pss_mib"])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    run = _wrk(server.port, args.soak_seconds, args.soak_connections, script)
    stop.set()
    sampler.join()
    server.stop()
    return {
        "seconds": args.soak_seconds,
        "connections": args.soak_connections,
        "requests": run["requests"],
        "rps": run["rps"],
        "errors": run["errors"],
        "pss_mib_samples": samples,
    }


def worker_kill(log_dir: Path, script: Path) -> dict[str, Any]:
    server = Server("granian", log_dir)
    before = server.workers()
    killer = threading.Timer(3.0, lambda: os.kill(before[0], signal.SIGKILL))
    killer.start()
    run = _wrk(server.port, 10, 8, script)
    killer.join()
    after = server.workers()
    answered = _request(server.port)[0]
    stopped = server.stop()
    return {
        "connections": 8,
        "requests": run["requests"],
        "errors": run["errors"],
        "worker_replaced": before[0] not in after and len(after) == 2,
        "answers_after": answered,
        "exit_code": stopped["exit_code"],
    }


def sigterm_under_load(log_dir: Path) -> dict[str, Any]:
    server = Server("granian", log_dir)
    counts = {"ok": 0, "refused": 0, "cut": 0, "other": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            status, _ = _request(server.port, timeout=10)
            kind = {200: "ok", REFUSED: "refused", CUT: "cut"}.get(status, "other")
            with lock:
                counts[kind] += 1
            if status != 200:
                return  # the server is going away: a client would stop here too

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    stopped = server.stop()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return {"clients": 8, **counts, **stopped}


def quiet_stops(log_dir: Path) -> list[dict[str, Any]]:
    out = []
    for server_name in ("granian", "gunicorn"):
        for how in ("SIGTERM", "Ctrl-C"):
            server = Server(server_name, log_dir)
            _request(server.port)
            if how == "SIGTERM":
                result = server.stop(signal.SIGTERM)
            else:
                result = server.stop(signal.SIGINT, group=True)
            out.append({"server": server_name, "how": how, **result})
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "Robustness, `python bench/robustness.py` (penguins-species, 2 workers, loopback):",
        "",
        "| scenario | server | result |",
        "|---|---|---|",
    ]
    for r in results["slowloris"]:
        lines.append(
            f"| {r['slow_connections']} slow connections (a header line a second), good "
            f"requests one at a time | {r['server']} | {r['good_answered']}/{r['good_sent']} "
            f"answered, p50 {_ms(r['p50_ms'])}, p99 {_ms(r['p99_ms'])} |"
        )
    s = results["soak"]
    pss = s["pss_mib_samples"]
    errors = sum(s["errors"].values())
    lines.append(
        f"| {s['seconds']} s at {s['connections']} keep-alive connections | granian | "
        f"{s['requests']:,} requests ({s['rps']:,.0f} req/s), {errors} errors; PSS "
        + (f"{pss[0]:.0f} → {pss[-1]:.0f} MiB (max {max(pss):.0f})" if pss else "not sampled")
        + " |"
    )
    k = results["worker_kill"]
    lines.append(
        f"| a worker SIGKILLed under load ({k['connections']} connections, 10 s) | granian | "
        f"{sum(k['errors'].values())} failed requests of {k['requests']:,} "
        f"(wrk: {k['errors']}); replaced: {'yes' if k['worker_replaced'] else '**no**'} |"
    )
    t = results["sigterm"]
    lines.append(
        f"| SIGTERM under load ({t['clients']} clients, a new connection per request) | granian "
        f"| {t['ok']:,} answered, {t['cut']} cut in flight, {t['refused']} new connections "
        f"refused after the stop, {t['other']} other answers; exit {t['exit_code']} in "
        f"{t['seconds']:.2f} s; alarming log lines: {len(t['alarming_lines'])} |"
    )
    for q in results["quiet_stops"]:
        lines.append(
            f"| idle, {q['how']} | {q['server']} | exit {q['exit_code']} in {q['seconds']:.2f} s; "
            f"alarming log lines: {len(q['alarming_lines'])} |"
        )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/robustness.py", description=__doc__)
    parser.add_argument("--slow-clients", type=int, default=200)
    parser.add_argument("--slow-seconds", type=int, default=15)
    parser.add_argument("--soak-seconds", type=int, default=60)
    parser.add_argument("--soak-connections", type=int, default=64)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "robustness.json")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench/robustness.py: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    if not MODEL.exists():
        print(f"bench/robustness.py: {MODEL} missing; run `make export`", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log_dir = args.out.parent / "logs"
    log_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pipeport-robustness-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA_TEMPLATE.replace("BODY", BODY.decode()))
        results: dict[str, Any] = {}
        print("robustness: slowloris", file=sys.stderr)
        results["slowloris"] = [slowloris(s, args, log_dir) for s in ("granian", "gunicorn")]
        print("robustness: soak", file=sys.stderr)
        results["soak"] = soak(args, log_dir, script)
        print("robustness: worker kill", file=sys.stderr)
        results["worker_kill"] = worker_kill(log_dir, script)
        print("robustness: SIGTERM under load", file=sys.stderr)
        results["sigterm"] = sigterm_under_load(log_dir)
        print("robustness: quiet stops", file=sys.stderr)
        results["quiet_stops"] = quiet_stops(log_dir)
    table = markdown(results)
    results["markdown"] = table
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
