"""--engine dask when things go wrong: a worker process SIGKILLed mid-job, and workers whose
memory is capped below what the whole table would take."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
from dask_testkit import PIPEPORT, REPO, csv_parts, env, error_line, local, manifest, penguin_rows
from dask_testkit import write_csv as write_rows


def worker_processes(parent: psutil.Process) -> list[psutil.Process]:
    """The LocalCluster's worker processes (spawned children running a dask worker)."""
    found = []
    for child in parent.children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in line and "resource_tracker" not in line:
            found.append(child)
    return found


def test_a_worker_killed_mid_job_changes_nothing_in_the_output(penguins, tmp_path):
    source = write_rows(tmp_path / "rows.csv", penguin_rows(120_000, seed=4))
    expected = local(penguins, source, tmp_path / "local.csv", "--ignore-unknown-columns")
    out = tmp_path / "out"
    command = [
        *PIPEPORT,
        "predict",
        str(penguins),
        "--input",
        str(source),
        "--output",
        str(out),
        "--engine",
        "dask",
        "--workers",
        "2",
        "--ignore-unknown-columns",
        "--output-format",
        "csv",
        "--partition-rows",
        "2000",
        "--chunk-size",
        "500",
    ]
    process = subprocess.Popen(
        command, env=env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("part-*.csv")):  # the job is under way: parts are being written
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no part file appeared"
            time.sleep(0.01)
        (victim, *_) = worker_processes(psutil.Process(process.pid))
        parts_at_kill = len(list(out.glob("part-*.csv")))
        os.kill(victim.pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert not victim.is_running() or victim.status() == psutil.STATUS_ZOMBIE
    assert process.returncode == 0, stderr
    written = manifest(out)
    assert parts_at_kill < len(written["parts"])  # killed mid-job, not after it
    assert csv_parts(out) == expected
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [p["file"] for p in written["parts"]] + ["_pipeport.json"]
    )  # no temporary file of the killed worker is left


def test_worker_memory_is_bounded_by_the_partition_not_the_table(penguins, tmp_path):
    """One worker capped at 400 MiB (killed at 95 %, no pausing or spilling): the whole table
    held at once (one partition, one chunk) needs more, and kills it; split into partitions
    the same table is scored under the same cap."""
    source = write_rows(tmp_path / "rows.csv", penguin_rows(400_000, seed=5))
    capped = {
        "DASK_DISTRIBUTED__WORKER__MEMORY__TARGET": "False",
        "DASK_DISTRIBUTED__WORKER__MEMORY__SPILL": "False",
        "DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE": "False",
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    }
    common = [
        *PIPEPORT,
        "predict",
        str(penguins),
        "--input",
        str(source),
        "--engine",
        "dask",
        "--workers",
        "1",
        "--memory-limit",
        "400MiB",
        "--ignore-unknown-columns",
    ]
    whole = subprocess.run(
        [
            *common,
            "--output",
            str(tmp_path / "whole"),
            "--partition-rows",
            "400000",
            "--chunk-size",
            "400000",
        ],
        env=env(**capped),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert whole.returncode == 2, whole.stderr
    assert "a worker died while scoring" in error_line(whole)
    assert list((tmp_path / "whole").iterdir()) == []
    parts = subprocess.run(
        [*common, "--output", str(tmp_path / "parts"), "--partition-rows", "50000"],
        env=env(**capped),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert parts.returncode == 0, parts.stderr
    assert manifest(tmp_path / "parts")["rows"] == 400_000
