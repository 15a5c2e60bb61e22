"""Serving-benchmark baseline: a Flask app that parses the JSON body and returns a constant.

The ceiling for any Flask app under the same gunicorn settings: HTTP + WSGI + JSON parsing,
no model.
Run: python -m gunicorn bench.echo_app:app (bench/serve.py starts it with pipeport's settings).
"""

from __future__ import annotations

from flask import Flask, Response, request

app = Flask("echo")

_CONSTANT = b'{"predictions":[{"label":"Adelie"}]}'


@app.post("/v1/predict")
def predict() -> Response:
    body = request.get_json()
    if not isinstance(body, dict) or not isinstance(body.get("rows"), list):
        return Response(b'{"error":"bad body"}', status=400, mimetype="application/json")
    return Response(_CONSTANT, mimetype="application/json")


@app.get("/readyz")
def readyz() -> Response:
    return Response(b'{"status":"ready"}', mimetype="application/json")
