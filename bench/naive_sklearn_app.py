"""Baseline for the serving benchmark: the naive way to serve the same pipeline.

joblib.load the scikit-learn pipeline; per request `pd.DataFrame(rows)` → `predict_proba`; return
JSON shaped like pipeport's answer. No validation beyond what pandas/scikit-learn do.
Run: PIPEPORT_BENCH_SKLEARN=artifacts/penguins-species/sklearn_pipeline.joblib \
     python -m gunicorn bench.naive_sklearn_app:app (bench/serve.py starts it).
"""

from __future__ import annotations

import os

import joblib
import pandas as pd
from flask import Flask, jsonify, request

PIPELINE_PATH = os.environ.get(
    "PIPEPORT_BENCH_SKLEARN", "artifacts/penguins-species/sklearn_pipeline.joblib"
)
pipeline = joblib.load(PIPELINE_PATH)
classes = [c.item() if hasattr(c, "item") else c for c in pipeline.classes_]
class_keys = [str(c) for c in classes]

app = Flask("naive_sklearn")


@app.post("/v1/predict")
def predict():  # type: ignore[no-untyped-def]
    rows = request.get_json()["rows"]
    frame = pd.DataFrame(rows)
    probabilities = pipeline.predict_proba(frame)
    predictions = [
        {
            "label": classes[int(p.argmax())],
            "probabilities": dict(zip(class_keys, p.tolist(), strict=True)),
        }
        for p in probabilities
    ]
    return jsonify({"predictions": predictions})


@app.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    return jsonify({"status": "ready"})
