"""Integration: serve the real exported penguins models (trained and exported here first)."""

from __future__ import annotations

import csv
import json

import pytest
from serving_testkit import REPO

from pipeport.serving.batch import predict_file
from pipeport.serving.model import load_model

CONFIGS = ("penguins-species", "penguins-body-mass")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The bundled configs, trained and exported by the real CLI (never skipped)."""
    from pipeport.cli import main as pipeport

    out = {}
    for name in CONFIGS:
        directory = tmp_path_factory.mktemp(name)
        assert (
            pipeport(
                [
                    "train",
                    str(REPO / "configs" / f"{name}.toml"),
                    "--out",
                    str(directory),
                    "--quiet",
                ]
            )
            == 0
        )
        assert pipeport(["export", str(directory), "--rows", "500"]) == 0
        out[name] = directory / "pipeline.onnx"
    return out


@pytest.mark.parametrize("config", CONFIGS)
def test_batch_and_http_agree_on_the_holdout_rows(start_server, exported, config, tmp_path):
    model_path = exported[config]
    holdout = model_path.parent / "holdout.csv"
    model = load_model(model_path)
    count = predict_file(
        model, holdout, tmp_path / "preds.csv", ignore_unknown_columns=True, progress="never"
    )
    with (tmp_path / "preds.csv").open(newline="") as handle:
        batch = list(csv.DictReader(handle))[:25]
    assert count > 0
    # The same rows as JSON, with empty CSV fields as null and numbers as floats.
    with holdout.open(newline="") as handle:
        raw = list(csv.DictReader(handle))[:25]
    rows = [
        {
            spec.name: (
                None
                if r[spec.name] == ""
                else float(r[spec.name])
                if spec.kind == "numeric"
                else r[spec.name]
            )
            for spec in model.schema.inputs
        }
        for r in raw
    ]
    server = start_server(model_path, workers=1)
    status, body = server.post_json("/v1/predict", {"rows": rows})
    assert status == 200, body
    predictions = json.loads(body)["predictions"]
    for served, offline in zip(predictions, batch, strict=True):
        if model.schema.task == "classification":
            assert served["label"] == offline["label"]
            for key, p in served["probabilities"].items():
                assert p == float(offline[f"probability_{key}"])
        else:
            assert served["prediction"] == float(offline["prediction"])
