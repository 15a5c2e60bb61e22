"""Every bundled config and every registry estimator, through every runtime, equal to sklearn."""

from __future__ import annotations

from pathlib import Path

import pytest
from parity_testkit import BUNDLED, registry_config, train_and_export

from pipeport.parity_tests.harness import run_parity_dir as run_parity
from pipeport.research.estimators import ESTIMATORS, TASKS

REGISTRY = [
    (name, task) for name, spec in ESTIMATORS.items() for task in TASKS if spec.cls_for(task)
]


def assert_all_passed(run, runtimes: tuple[str, ...]) -> None:
    statuses = {o.runtime: o.status for o in run.outcomes}
    expected = set(runtimes) | ({"http-v2"} if "http" in runtimes else set())
    assert expected <= set(statuses), f"runtimes missing from the run: {expected - set(statuses)}"
    failures = {
        o.runtime: (o.status, o.reason or (o.report.table() if o.report else ""))
        for o in run.outcomes
        if o.status != "passed"
    }
    assert not failures, failures
    assert run.rows > 0
    for o in run.outcomes:
        if o.report is not None:
            assert (
                o.report.rows == run.rows
            )  # every runtime kept row count (and order: compared row by row)


@pytest.mark.parametrize("config", [c.stem for c in BUNDLED])
def test_bundled_config_agrees_in_every_runtime(bundled_dirs: dict[str, Path], config: str) -> None:
    runtimes = ("sklearn", "onnxruntime", "reference", "http", "node", "browser")
    run = run_parity(bundled_dirs[config], runtimes, property_rows=150)
    assert_all_passed(run, runtimes)
    assert run.sources["edge cases"] > 0
    assert run.sources["property-based (hypothesis)"] == 150


@pytest.mark.parametrize(("estimator", "task"), REGISTRY, ids=[f"{e}-{t}" for e, t in REGISTRY])
def test_registry_estimator_agrees_in_python_runtimes_and_http(
    tmp_path: Path, estimator: str, task: str
) -> None:
    directory = train_and_export(
        registry_config(tmp_path, estimator, task), tmp_path / "out", rows=1000
    )
    runtimes = ("sklearn", "onnxruntime", "reference", "http")
    # Known limitation (docs/support.md): for raw values ~1e9 and beyond, scikit-learn's brute
    # force distances (the ||x||^2 - 2x.y + ||y||^2 expansion) lose every significant digit, so
    # the nearest neighbours of such rows are arbitrary and KNN disagrees there. Its held-out
    # rows and the export gate's 1,000 generated rows (up to 1000x the range) still pass.
    edge_cases = estimator != "knn"
    run = run_parity(directory, runtimes, edge_cases=edge_cases)
    assert_all_passed(run, runtimes)
