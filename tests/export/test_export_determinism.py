"""The same pipeline, data and package versions give byte-identical ONNX files."""

from __future__ import annotations

import os
import subprocess
import sys

import export_testkit as kit
import pytest

from pipeport.export.onnx_export import to_onnx


@pytest.mark.parametrize(
    ("estimator", "task"),
    [
        ("random_forest", "classification"),
        ("hist_gradient_boosting", "regression"),
        ("gradient_boosting", "classification"),
        ("logistic_regression", "classification"),
        ("knn", "regression"),
        ("mlp", "classification"),
    ],
)
def test_exporting_the_same_pipeline_twice_gives_identical_bytes(synthetic, estimator, task):
    trained = synthetic(estimator, task)
    first = trained.exported().SerializeToString()
    second = to_onnx(trained.pipeline, trained.holdout, "model", generated_rows=2_000, seed=0)
    assert second.SerializeToString() == first


def _cli(*argv: str, hash_seed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pipeport.cli", *argv],
        cwd=kit.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_cli_train_and_export_twice_gives_byte_identical_onnx_files(tmp_path, synthetic_csv):
    """Two separate processes (different hash seeds), same data + config: same file."""
    raw = kit.train_config(
        synthetic_csv,
        kit.SYN_CLASS_TARGET,
        kit.SYN_NUMERIC,
        kit.SYN_CATEGORICAL,
        "classification",
        "random_forest",
        {"n_estimators": 5},
    )
    config = tmp_path / "config.toml"
    config.write_text(kit.toml_text(raw), encoding="utf-8")
    blobs = []
    for run, hash_seed in (("a", "1"), ("b", "2")):
        out = tmp_path / run
        _cli("train", str(config), "--out", str(out), "--quiet", hash_seed=hash_seed)
        _cli("export", str(out), hash_seed=hash_seed)  # default: 10,000 generated rows
        blobs.append((out / "pipeline.onnx").read_bytes())
    assert len(blobs[0]) > 0
    assert blobs[0] == blobs[1]
