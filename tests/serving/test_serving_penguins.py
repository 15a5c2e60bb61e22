"""Integration: serve the real exported penguins model, when the exporter has produced it."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from serving.app import create_app

MODEL = REPO / "artifacts" / "penguins-species" / "pipeline.onnx"


@pytest.mark.skipif(not MODEL.exists(), reason="run `pipeport export` first")
def test_serves_the_exported_penguins_model(start_server):
    app = create_app(MODEL)
    schema = app.extensions["pipeport"].model.schema
    row = {}
    for spec in schema.inputs:
        row[spec.name] = (spec.categories[0] if spec.categories else "x") \
            if spec.kind == "categorical" else None
    server = start_server(MODEL, workers=1)
    status, body = server.post_json("/v1/predict", {"rows": [row]})
    assert status == 200, body
    prediction = json.loads(body)["predictions"][0]
    if schema.task == "classification":
        assert prediction["label"] in schema.classes
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)
