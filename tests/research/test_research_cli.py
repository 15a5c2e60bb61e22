"""`pipeport train` end to end on the penguins configs, and its user-facing errors and help."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import platform
import subprocess
import sys
import tomllib
from collections import Counter
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import joblib
import numpy as np
import pandas as pd
import pytest

from pipeport.cli import main

REPO = Path(__file__).resolve().parents[2]
PENGUINS = REPO / "data" / "penguins.csv"
ARTIFACTS = ("sklearn_pipeline.joblib", "holdout.csv", "train_manifest.json", "metrics.json")

# What each config promises, written out here rather than read from the code under test.
EXPECTED = {
    "penguins-species": SimpleNamespace(
        target="species",
        numeric=["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"],
        categorical=["island", "sex"],
        task="classification",
        estimator_class="RandomForestClassifier",
        # [model.params] random_state = 0 overrides the split seed for the estimator
        seeds={"split": 42, "estimator_random_state": 0},
        metric_names={"accuracy", "f1_macro", "log_loss"},
        categories={"island": ["Biscoe", "Dream", "Torgersen"], "sex": ["female", "male"]},
        classes=["Adelie", "Chinstrap", "Gentoo"],
    ),
    "penguins-body-mass": SimpleNamespace(
        target="body_mass_g",
        numeric=["bill_length_mm", "bill_depth_mm", "flipper_length_mm"],
        categorical=["species", "island", "sex"],
        task="regression",
        estimator_class="GradientBoostingRegressor",
        seeds={"split": 42, "estimator_random_state": 42},
        metric_names={"rmse", "mae", "r2"},
        categories={
            "species": ["Adelie", "Chinstrap", "Gentoo"],
            "island": ["Biscoe", "Dream", "Torgersen"],
            "sex": ["female", "male"],
        },
        classes=None,
    ),
}


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _key(row: pd.Series) -> tuple:
    return tuple(
        "<NA>" if pd.isna(v) else float(v) if isinstance(v, (int, float)) else v for v in row
    )


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def penguins_run(request, tmp_path_factory):
    name = request.param
    config_path = REPO / "configs" / f"{name}.toml"
    out = tmp_path_factory.mktemp(name)
    code, stdout, stderr = run_cli("train", str(config_path), "--out", str(out))
    expected = EXPECTED[name]
    columns = [*expected.numeric, *expected.categorical, expected.target]
    source = pd.read_csv(PENGUINS)
    used = source[source[expected.target].notna()][columns].reset_index(drop=True)
    holdout = pd.read_csv(out / "holdout.csv") if (out / "holdout.csv").exists() else None
    return SimpleNamespace(
        name=name,
        expected=expected,
        config_path=config_path,
        out=out,
        code=code,
        stdout=stdout,
        stderr=stderr,
        source=source,
        used=used,
        holdout=holdout,
        manifest=json.loads((out / "train_manifest.json").read_text()) if code == 0 else None,
    )


def train_rows(run) -> pd.DataFrame:
    """The rows used for training, found independently: used rows minus held-out rows."""
    left = Counter(_key(r) for _, r in run.holdout.iterrows())
    keep = []
    for i, row in run.used.iterrows():
        k = _key(row)
        if left[k]:
            left[k] -= 1
        else:
            keep.append(i)
    assert sum(left.values()) == 0, "holdout.csv holds rows that are not in the data file"
    return run.used.loc[keep]


def test_train_succeeds_and_writes_all_four_artifacts(penguins_run):
    assert penguins_run.code == 0, penguins_run.stderr
    for artifact in ARTIFACTS:
        assert (penguins_run.out / artifact).is_file(), artifact


def test_manifest_records_data_sha256_of_the_file(penguins_run):
    digest = hashlib.sha256(PENGUINS.read_bytes()).hexdigest()
    assert penguins_run.manifest["data"]["sha256"] == digest
    assert penguins_run.manifest["data"]["path"] == str(PENGUINS.resolve())


def test_manifest_records_config_sha256_and_content(penguins_run):
    blob = penguins_run.config_path.read_bytes()
    config = penguins_run.manifest["config"]
    assert config["sha256"] == hashlib.sha256(blob).hexdigest()
    assert config["content"] == tomllib.loads(blob.decode())
    assert penguins_run.manifest["name"] == penguins_run.name


def test_manifest_row_counts_match_the_file(penguins_run):
    data = penguins_run.manifest["data"]
    target = penguins_run.expected.target
    n_lines = len(PENGUINS.read_text().splitlines()) - 1  # minus the header
    n_missing_target = int(penguins_run.source[target].isna().sum())
    assert data["rows_read"] == n_lines == 344
    assert data["rows_missing_target"] == n_missing_target
    assert data["rows_used"] == n_lines - n_missing_target
    assert data["rows_test"] == math.ceil(0.2 * data["rows_used"])
    assert data["rows_train"] == data["rows_used"] - data["rows_test"]


def test_body_mass_config_drops_the_two_rows_without_body_mass(penguins_run):
    expected_dropped = 2 if penguins_run.name == "penguins-body-mass" else 0
    assert penguins_run.manifest["data"]["rows_missing_target"] == expected_dropped
    assert f"({expected_dropped} dropped: no target)" in penguins_run.stdout


def test_holdout_has_feature_and_target_columns_and_rows_test_rows(penguins_run):
    expected = penguins_run.expected
    holdout = penguins_run.holdout
    assert list(holdout.columns) == [*expected.numeric, *expected.categorical, expected.target]
    assert len(holdout) == penguins_run.manifest["data"]["rows_test"]
    assert holdout[expected.target].notna().all()


def test_holdout_rows_are_source_rows_in_file_order(penguins_run):
    # greedy subsequence match: every held-out row appears in the data file, in the same order
    used = [_key(r) for _, r in penguins_run.used.iterrows()]
    position = 0
    for _, row in penguins_run.holdout.iterrows():
        k = _key(row)
        while position < len(used) and used[position] != k:
            position += 1
        assert position < len(used), f"holdout row {k} not found in order in the data file"
        position += 1


def test_feature_schema_lists_kinds_categories_and_missing_counts(penguins_run):
    expected = penguins_run.expected
    rows = train_rows(penguins_run)
    schema = {f["name"]: f for f in penguins_run.manifest["features"]}
    names = [f["name"] for f in penguins_run.manifest["features"]]
    assert names == [*expected.numeric, *expected.categorical]
    for column in expected.numeric:
        assert schema[column]["kind"] == "numeric"
        assert schema[column]["missing"] == int(rows[column].isna().sum())
        assert schema[column]["min"] == float(rows[column].min())
        assert schema[column]["max"] == float(rows[column].max())
    for column in expected.categorical:
        assert schema[column]["kind"] == "categorical"
        assert schema[column]["categories"] == expected.categories[column]
        assert schema[column]["missing"] == int(rows[column].isna().sum())
    # sex has gaps in penguins.csv: the schema must say so
    assert schema["sex"]["missing"] > 0


def test_manifest_records_package_versions(penguins_run):
    packages = penguins_run.manifest["packages"]
    assert packages["python"] == platform.python_version()
    for name in ("scikit-learn", "numpy", "pandas", "scipy", "joblib"):
        assert packages[name] == metadata.version(name)


def test_manifest_records_the_seeds_actually_used(penguins_run):
    assert penguins_run.manifest["seeds"] == penguins_run.expected.seeds
    model = joblib.load(penguins_run.out / "sklearn_pipeline.joblib")[-1]
    assert model.random_state == penguins_run.expected.seeds["estimator_random_state"]


def test_manifest_records_task_estimator_and_classes(penguins_run):
    manifest = penguins_run.manifest
    assert manifest["task"] == penguins_run.expected.task
    assert manifest["target"] == penguins_run.expected.target
    assert manifest["estimator"]["class"] == penguins_run.expected.estimator_class
    assert manifest["classes"] == penguins_run.expected.classes


def test_metrics_json_equals_manifest_metrics(penguins_run):
    metrics = json.loads((penguins_run.out / "metrics.json").read_text())
    assert metrics == penguins_run.manifest["metrics"]
    assert set(metrics) == penguins_run.expected.metric_names
    assert all(math.isfinite(v) for v in metrics.values())


def test_metrics_are_those_of_the_saved_pipeline_on_holdout(penguins_run):
    expected = penguins_run.expected
    pipeline = joblib.load(penguins_run.out / "sklearn_pipeline.joblib")
    holdout = penguins_run.holdout
    truth = holdout[expected.target].to_numpy()
    predicted = pipeline.predict(holdout)  # the raw holdout file, target column and all
    metrics = penguins_run.manifest["metrics"]
    if expected.task == "classification":
        assert metrics["accuracy"] == np.mean(predicted == truth)
        assert metrics["accuracy"] > 0.9  # penguin species are easy: a broken pipeline is not
    else:
        errors = predicted - truth.astype(float)
        assert metrics["rmse"] == pytest.approx(np.sqrt(np.mean(errors**2)), rel=1e-12)
        assert metrics["mae"] == pytest.approx(np.mean(np.abs(errors)), rel=1e-12)
        assert metrics["r2"] > 0.7


def test_summary_is_printed_on_stdout_and_progress_on_stderr(penguins_run):
    data = penguins_run.manifest["data"]
    expected = penguins_run.expected
    n_features = len(expected.numeric) + len(expected.categorical)
    assert penguins_run.stdout.splitlines()[0] == (
        f"trained {penguins_run.name}: {expected.estimator_class} ({expected.task}) on "
        f"{data['rows_train']} rows, {n_features} raw features; held out {data['rows_test']} "
        f"rows ({data['rows_missing_target']} dropped: no target)"
    )
    assert f"artifacts in {penguins_run.out}" in penguins_run.stdout
    assert "[train] read 344 rows from penguins.csv" in penguins_run.stderr


def test_train_help_describes_config_out_and_artifacts():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main(["train", "--help"])
    assert exited.value.code == 0
    text = out.getvalue()
    assert text.startswith("usage: pipeport train ")
    for fragment in ("CONFIG.toml", "--out DIR", "--quiet", "sklearn_pipeline.joblib"):
        assert fragment in text


def test_train_help_works_as_a_module_command():
    done = subprocess.run(
        [sys.executable, "-m", "pipeport.cli", "train", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "usage: pipeport train" in done.stdout


def test_missing_config_is_one_line_error_with_status_2(tmp_path):
    missing = tmp_path / "nope.toml"
    code, stdout, stderr = run_cli("train", str(missing), "--out", str(tmp_path / "out"))
    assert code == 2
    assert stderr == f"pipeport train: error: config file not found: {missing}\n"
    assert stdout == ""
    assert not (tmp_path / "out").exists()


def test_config_error_is_one_line_error_with_status_2(write_project, config_helpers, tmp_path):
    path = write_project(config=config_helpers.base_config(estimator="catboost"))
    code, _, stderr = run_cli("train", str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    assert stderr.startswith("pipeport train: error: unknown estimator 'catboost'. ")
    assert stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_sha256_mismatch_is_one_line_error_with_both_hashes(
    write_project, config_helpers, tmp_path
):
    doc = config_helpers.base_config()
    doc["data"]["sha256"] = "f" * 64
    path = write_project(config=doc)
    actual = hashlib.sha256((tmp_path / "data.csv").read_bytes()).hexdigest()
    code, _, stderr = run_cli("train", str(path), "--quiet", "--out", str(tmp_path / "out"))
    assert code == 2
    assert stderr.startswith("pipeport train: error: sha256 of ")
    assert f"expected {'f' * 64}" in stderr and f"actual {actual}" in stderr
    assert stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_default_out_dir_is_artifacts_name_and_quiet_silences_progress(
    write_project, config_helpers, tmp_path, monkeypatch
):
    path = write_project(config=config_helpers.base_config(name="small-tree"))
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run_cli("train", str(path), "--quiet")
    assert code == 0, stderr
    assert stderr == ""
    for artifact in ARTIFACTS:
        assert (tmp_path / "artifacts" / "small-tree" / artifact).is_file()
    assert "artifacts in artifacts/small-tree" in stdout
