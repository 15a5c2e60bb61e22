"""The harness must fail when a graph is wrong: perturb one learned value, the run fails."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from pipeport.cli import main as pipeport
from pipeport.parity_tests.harness import run_parity_dir as run_parity


def _mutated_copy(src: Path, dst: Path, mutate) -> Path:
    shutil.copytree(src, dst)
    model = onnx.load(str(dst / "pipeline.onnx"))
    mutate(model)
    onnx.save(model, str(dst / "pipeline.onnx"))
    return dst


def _shift_initializer(model: onnx.ModelProto, prefix: str, index: int, delta: float) -> None:
    for init in model.graph.initializer:
        if init.name.startswith(prefix):
            values = numpy_helper.to_array(init).copy()
            values.flat[index] += delta
            init.CopyFrom(numpy_helper.from_array(values, init.name))
            return
    raise AssertionError(f"no initializer named {prefix}*")


def _statuses(run) -> dict[str, str]:
    return {o.runtime: o.status for o in run.outcomes}


def test_unmodified_copy_passes(bundled_dirs: dict[str, Path], tmp_path: Path) -> None:
    # The control for the tests below: copying alone changes nothing.
    directory = _mutated_copy(bundled_dirs["penguins-body-mass"], tmp_path / "m", lambda m: None)
    assert run_parity(directory, ("sklearn", "onnxruntime", "reference")).passed


@pytest.mark.parametrize("delta", [0.01, -0.01])
def test_boosting_offset_off_by_a_hundredth_of_a_gram_fails(
    bundled_dirs: dict[str, Path], tmp_path: Path, delta: float
) -> None:
    # Body mass is ~4000 g: 0.01 g is a relative error of ~2.5e-6, just above the 1e-6 tolerance.
    directory = _mutated_copy(
        bundled_dirs["penguins-body-mass"],
        tmp_path / "m",
        lambda m: _shift_initializer(m, "gb_init", 0, delta),
    )
    run = run_parity(directory, ("sklearn", "onnxruntime", "reference"))
    assert _statuses(run) == {"sklearn": "passed", "onnxruntime": "failed", "reference": "failed"}


def test_one_moved_tree_split_fails(bundled_dirs: dict[str, Path], tmp_path: Path) -> None:
    def move_root_split(model: onnx.ModelProto) -> None:
        tree = next(n for n in model.graph.node if n.op_type == "TreeEnsemble")
        attr = next(a for a in tree.attribute if a.name == "nodes_splits")
        splits = numpy_helper.to_array(attr.t).copy()
        splits[0] += 0.5  # one split of one tree, in standardised units
        attr.t.CopyFrom(numpy_helper.from_array(splits, attr.t.name))

    directory = _mutated_copy(bundled_dirs["penguins-species"], tmp_path / "m", move_root_split)
    run = run_parity(directory, ("sklearn", "onnxruntime", "node"))
    assert _statuses(run)["onnxruntime"] == "failed"
    assert _statuses(run)["node"] == "failed"
    assert not run.passed


def test_swapped_category_fails(bundled_dirs: dict[str, Path], tmp_path: Path) -> None:
    def swap_first_two_keys(model: onnx.ModelProto) -> None:
        encoder = next(n for n in model.graph.node if n.op_type == "LabelEncoder")
        keys = next(a for a in encoder.attribute if a.name == "keys_strings")
        keys.strings[0], keys.strings[1] = keys.strings[1], keys.strings[0]

    directory = _mutated_copy(
        bundled_dirs["penguins-body-mass"], tmp_path / "m", swap_first_two_keys
    )
    run = run_parity(directory, ("sklearn", "onnxruntime"))
    assert _statuses(run)["onnxruntime"] == "failed"


def test_cli_exits_non_zero_on_a_perturbed_graph(
    bundled_dirs: dict[str, Path], tmp_path: Path
) -> None:
    directory = _mutated_copy(
        bundled_dirs["penguins-body-mass"],
        tmp_path / "m",
        lambda m: _shift_initializer(m, "gb_init", 0, 1.0),
    )
    assert pipeport(["parity", str(directory), "--runtimes", "sklearn,onnxruntime"]) == 1
    report = (directory / "parity" / "report.json").read_text()
    assert '"passed": false' in report


def test_runtime_that_cannot_run_is_reported_not_run_and_fails(
    bundled_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeport.parity_tests import harness
    from pipeport.parity_tests.runtimes import RuntimeUnavailable

    def unavailable(*_args, **_kwargs):
        raise RuntimeUnavailable("node is not installed (simulated)")

    monkeypatch.setattr(harness, "_client_runtime", unavailable)
    run = run_parity(bundled_dirs["penguins-species"], ("sklearn", "onnxruntime", "node"))
    assert _statuses(run)["node"] == "not run"
    assert not run.passed


def test_zero_error_measure_is_exact() -> None:
    # max_ulps counts float64 steps between outputs: one nextafter step is exactly one ULP.
    from pipeport.parity_tests.harness import max_ulps

    a = np.array([0.25, 4000.0])
    b = np.nextafter(a, np.inf)
    assert max_ulps({"prediction": a}, {"prediction": b}) == 1.0
    assert max_ulps({"prediction": a}, {"prediction": a}) == 0.0


def test_ulps_of_missing_values() -> None:
    # NaN on both sides is the same answer (0 ULPs), as compare judges it; NaN against a number,
    # or against an infinity (a JSON runtime's reference has NaN there already), is infinitely far.
    from pipeport.parity_tests.harness import max_ulps

    reference = np.array([1.0, np.inf, -np.inf, np.nan])
    assert max_ulps({"prediction": reference}, {"prediction": reference.copy()}) == 0
    for actual in ([1.0, np.inf, -np.inf, 1.0], [1.0, np.nan, -np.inf, np.nan], [np.nan] * 4):
        assert max_ulps({"prediction": reference}, {"prediction": np.array(actual)}) == math.inf
