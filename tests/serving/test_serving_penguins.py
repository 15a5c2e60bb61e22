"""Integration: serve the real exported penguins models, when the exporter has produced them."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import REPO

from serving.batch import predict_file
from serving.model import load_model

ARTIFACTS = REPO / "artifacts"
MODELS = [ARTIFACTS / name / "pipeline.onnx" for name in ("penguins-species", "penguins-body-mass")]


@pytest.mark.parametrize("model_path", MODELS, ids=lambda p: p.parent.name)
def test_batch_and_http_agree_on_the_holdout_rows(start_server, model_path, tmp_path):
    holdout = model_path.parent / "holdout.csv"
    if not model_path.exists() or not holdout.exists():
        pytest.skip("run `pipeport train` and `pipeport export` first")
    model = load_model(model_path)
    count = predict_file(model, holdout, tmp_path / "preds.csv", ignore_unknown_columns=True,
                         progress="never")
    with (tmp_path / "preds.csv").open(newline="") as handle:
        batch = list(csv.DictReader(handle))[:25]
    assert count > 0
    # The same rows as JSON, with empty CSV fields as null and numbers as floats.
    with holdout.open(newline="") as handle:
        raw = list(csv.DictReader(handle))[:25]
    rows = [{spec.name: (None if r[spec.name] == "" else
                         float(r[spec.name]) if spec.kind == "numeric" else r[spec.name])
             for spec in model.schema.inputs} for r in raw]
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
