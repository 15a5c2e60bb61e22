"""`pipeport export`: the gate through the command line, and the metadata it writes.

A failing gate exits 1, writes no file and prints the worst rows; --force writes the file and
records parity.forced = true; a passing export writes a self-describing file (docs/onnx-contract.md)
whose metadata is checked here against the raw data, the config file and scikit-learn.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import metadata as importlib_metadata
from pathlib import Path

import export_testkit as kit
import joblib
import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier

ONNX = "pipeline.onnx"


def _train(tmp: Path, raw: dict) -> tuple[Path, Path]:
    config = tmp / "config.toml"
    config.write_text(kit.toml_text(raw), encoding="utf-8")
    out = tmp / "artifacts"
    assert kit.run_cli("train", str(config), "--out", str(out), "--quiet") == 0
    return config, out


@pytest.fixture(scope="module")
def species(tmp_path_factory):
    """Species (classification) trained and exported by the CLI, default 10,000 generated rows."""
    raw = kit.penguin_config("classification", "random_forest", {"n_estimators": 10})
    raw["name"] = "penguins-species"
    config, out = _train(tmp_path_factory.mktemp("cli-species"), raw)
    assert kit.run_cli("export", str(out)) == 0
    return config, out, raw


@pytest.fixture(scope="module")
def body_mass(tmp_path_factory):
    """Body mass (regression), with SelectKBest, trained and exported by the CLI (10,000 rows)."""
    raw = kit.penguin_config("regression", "gradient_boosting", {"n_estimators": 20})
    raw["name"] = "penguins-body-mass"
    raw["features"]["select_k_best"] = 6
    config, out = _train(tmp_path_factory.mktemp("cli-body-mass"), raw)
    assert kit.run_cli("export", str(out)) == 0
    return config, out, raw


def _metadata(path: Path) -> dict:
    model = onnx.load(str(path))
    (entry,) = [e for e in model.metadata_props if e.key == "pipeport"]
    return json.loads(entry.value)


def _check_common_metadata(config: Path, out: Path, raw: dict, task: str) -> dict:
    meta = _metadata(out / ONNX)
    model = onnx.load(str(out / ONNX))
    assert [e.key for e in model.metadata_props] == ["pipeport"]
    assert meta["format_version"] == 2
    assert meta["name"] == raw["name"] and meta["version"] == raw["version"] == "3"
    assert meta["task"] == task
    features = raw["features"]["numeric"] + raw["features"]["categorical"]
    assert [i["name"] for i in meta["inputs"]] == features
    assert [i["onnx_name"] for i in meta["inputs"]] == [i.name for i in model.graph.input]
    data = pd.read_csv(kit.PENGUINS)
    for entry in meta["inputs"]:
        assert entry["missing_allowed"] is True
        if entry["name"] in raw["features"]["categorical"]:
            assert entry["kind"] == "categorical" and entry["missing_value"] == ""
            assert entry["onnx_type"] == "tensor(string)"
            assert entry["categories"] == sorted(data[entry["name"]].dropna().unique())
        else:
            assert entry["kind"] == "numeric" and entry["missing_value"] == "NaN"
            assert entry["onnx_type"] == "tensor(double)"
    training = meta["training"]
    assert training["data_sha256"] == kit.file_sha256(kit.PENGUINS)
    assert training["config_sha256"] == kit.file_sha256(config)
    assert training["target"] == raw["data"]["target"]
    for package in ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy"):
        assert meta["packages"][package] == importlib_metadata.version(package)
    holdout = pd.read_csv(out / "holdout.csv")
    parity = meta["parity"]
    assert parity["passed"] is True and parity["forced"] is False
    assert parity["rows"] == len(holdout) + 10_000
    assert parity["label_mismatches"] == 0 and parity["rows_outside_tolerance"] == 0
    return meta


def _no_timestamps(value, path="") -> None:
    date = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}")
    if isinstance(value, dict):
        for key, item in value.items():
            assert not re.search(
                r"(^|_)(time|timestamp|date|created|exported_at)($|_)", key, re.I
            ), f"{path}.{key}"
            _no_timestamps(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            _no_timestamps(item, path)
    elif isinstance(value, str):
        assert not date.search(value), f"{path} = {value!r}"


def test_cli_classification_metadata_describes_the_file(species):
    config, out, raw = species
    meta = _check_common_metadata(config, out, raw, "classification")
    assert meta["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert meta["outputs"] == {
        "label": {"onnx_name": "label", "onnx_type": "tensor(string)"},
        "probabilities": {"onnx_name": "probabilities", "onnx_type": "tensor(double)"},
    }
    assert meta["estimator"] == "RandomForestClassifier"
    # classes are in probability-column order: checked against scikit-learn on the held-out rows
    pipeline = joblib.load(out / "sklearn_pipeline.joblib")
    holdout = pd.read_csv(out / "holdout.csv")
    session = kit.ort_session(onnx.load(str(out / ONNX)))
    _label, proba = session.run(["label", "probabilities"], kit.contract_feeds(meta, holdout))
    assert list(pipeline.classes_) == meta["classes"]
    assert np.abs(proba - pipeline.predict_proba(holdout)).max() <= kit.PROBA_ATOL
    _no_timestamps(meta)


def test_cli_numeric_ranges_are_the_training_rows_not_the_held_out_rows(species):
    """min/max in the file are what training saw (train_manifest.json), which drift monitoring
    compares requests with; the held-out rows span less (the control: they differ here)."""
    _config, out, _raw = species
    meta = _metadata(out / ONNX)
    manifest = json.loads((out / "train_manifest.json").read_text())
    training = {f["name"]: (f["min"], f["max"]) for f in manifest["features"] if "min" in f}
    holdout = pd.read_csv(out / "holdout.csv")
    numeric = [i for i in meta["inputs"] if i["kind"] == "numeric"]
    assert numeric
    for entry in numeric:
        assert (entry["min"], entry["max"]) == training[entry["name"]], entry["name"]
    held_out = {i["name"]: (holdout[i["name"]].min(), holdout[i["name"]].max()) for i in numeric}
    assert any(held_out[name] != training[name] for name in held_out)


def test_to_onnx_takes_numeric_ranges_and_defaults_to_the_samples():
    from sklearn.linear_model import LogisticRegression

    import pipeport

    X = pd.DataFrame({"x0": [0.5, 1.5, 2.0, 3.25, 4.0, 5.5], "x1": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    pipeline.fit(X, [0, 0, 0, 1, 1, 1])
    low, high = float(X["x0"].min()), float(X["x0"].max())
    default = pipeport.read_metadata(pipeport.to_onnx(pipeline, X, "r", generated_rows=0))
    given = pipeport.read_metadata(
        pipeport.to_onnx(pipeline, X, "r", generated_rows=0, ranges={"x0": (-100, 100.5)})
    )
    by_name = {i["name"]: i for i in default["inputs"]}
    assert (by_name["x0"]["min"], by_name["x0"]["max"]) == (low, high)
    given_by_name = {i["name"]: i for i in given["inputs"]}
    assert (given_by_name["x0"]["min"], given_by_name["x0"]["max"]) == (-100, 100.5)
    for name in set(by_name) - {"x0"}:  # columns not in `ranges` keep the sample's
        assert given_by_name[name]["min"] == by_name[name]["min"]
    with pytest.raises(ValueError, match="min 2.0 is above max 1.0"):
        pipeport.to_onnx(pipeline, X, "r", generated_rows=0, ranges={"x0": (2, 1)})


def test_cli_regression_metadata_has_prediction_and_no_classes(body_mass):
    config, out, raw = body_mass
    meta = _check_common_metadata(config, out, raw, "regression")
    assert "classes" not in meta
    assert meta["outputs"] == {
        "prediction": {"onnx_name": "prediction", "onnx_type": "tensor(double)"}
    }
    assert meta["parity"]["max_rel_error"] <= kit.REGRESSION_RTOL
    _no_timestamps(meta)


def test_cli_written_file_has_no_timestamps_or_producer_noise(species):
    _config, out, _raw = species
    model = onnx.load(str(out / ONNX))
    assert model.doc_string == "" and model.graph.doc_string == ""
    assert model.model_version == 0
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 21), ("ai.onnx.ml", 5)]
    onnx.checker.check_model(model, full_check=True)


def test_cli_rows_option_sets_the_number_of_generated_rows(species, tmp_path):
    _config, out, _raw = species
    target = tmp_path / "small.onnx"
    assert kit.run_cli("export", str(out), "--rows", "123", "--out", str(target)) == 0
    holdout = pd.read_csv(out / "holdout.csv")
    assert _metadata(target)["parity"]["rows"] == len(holdout) + 123


# -- a failing gate -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tree_species(tmp_path_factory):
    raw = kit.penguin_config("classification", "decision_tree")
    _config, out = _train(tmp_path_factory.mktemp("cli-tree"), raw)
    return out


@pytest.fixture
def off_by_one_ulp_tree_converter(monkeypatch, tree_species):
    """Make the registered DecisionTreeClassifier converter write the root threshold one ulp
    below the highest held-out value that goes left: the smallest change that moves a row."""
    from dataclasses import replace

    from pipeport.export import registry

    pipeline = joblib.load(tree_species / "sklearn_pipeline.joblib")
    holdout = pd.read_csv(tree_species / "holdout.csv")
    tree = pipeline[-1].tree_
    x = pipeline[:-1].transform(holdout).astype(np.float32).astype(np.float64)[:, tree.feature[0]]
    threshold = np.nextafter(x[x <= tree.threshold[0]].max(), -np.inf)
    oracle = copy.deepcopy(pipeline)
    oracle[-1].tree_.threshold[0] = threshold
    difference = np.abs(oracle.predict_proba(holdout) - pipeline.predict_proba(holdout))
    moved = np.flatnonzero(difference.max(axis=1) > kit.PROBA_ATOL)
    assert moved.size >= 1  # scikit-learn itself changes on these held-out rows

    registered = registry.find(pipeline[-1])
    assert registered is not None

    def convert(model, cols, g, where):
        thresholds = model.tree_.threshold
        saved = thresholds[0]
        thresholds[0] = threshold
        try:
            return registered.convert(model, cols, g, where)
        finally:
            thresholds[0] = saved

    monkeypatch.setitem(
        registry._BY_CLASS, type(pipeline[-1]), replace(registered, convert=convert)
    )
    return tree_species


def test_cli_failing_gate_exits_1_writes_nothing_and_prints_worst_rows(
    off_by_one_ulp_tree_converter, capsys
):
    out = off_by_one_ulp_tree_converter
    assert kit.run_cli("export", str(out), "--rows", "500") == 1
    assert not (out / ONNX).exists()
    assert not list(out.glob("*.onnx*"))
    err = capsys.readouterr().err
    assert "parity FAILED" in err
    assert "worst rows" in err
    assert re.search(r"row +\d+ +(label|proba\[\d\]) +sklearn=", err)
    assert "refused to write" in err and "--force" in err


def test_cli_force_writes_the_file_and_records_forced_parity(off_by_one_ulp_tree_converter, capsys):
    out = off_by_one_ulp_tree_converter
    target = out / "forced.onnx"
    assert kit.run_cli("export", str(out), "--rows", "500", "--force", "--out", str(target)) == 0
    parity = _metadata(target)["parity"]
    assert parity["passed"] is False and parity["forced"] is True
    assert parity["rows_outside_tolerance"] >= 1
    assert "WARNING: parity FAILED" in capsys.readouterr().err


def test_cli_unsupported_step_exits_2_naming_the_step(tmp_path, capsys):
    frame = pd.read_csv(kit.PENGUINS).dropna()
    pipeline = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        (
                            "numeric",
                            Pipeline(
                                [("log", FunctionTransformer(np.cbrt)), ("scale", StandardScaler())]
                            ),
                            ["bill_length_mm", "body_mass_g"],
                        ),
                    ]
                ),
            ),
            ("model", DecisionTreeClassifier(random_state=0)),
        ]
    ).fit(frame, frame["species"])
    joblib.dump(pipeline, tmp_path / "sklearn_pipeline.joblib")
    frame.to_csv(tmp_path / "holdout.csv", index=False)
    assert kit.run_cli("export", str(tmp_path), "--rows", "10") == 2
    err = capsys.readouterr().err
    assert "preprocess__numeric__log" in err and "FunctionTransformer" in err
    assert not (tmp_path / ONNX).exists()
