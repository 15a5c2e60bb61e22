"""Helpers of the production-loop tests: two versions of the penguins-species model trained and
exported by the CLI, a real server (serving_testkit's), and clients that send logged rows."""

from __future__ import annotations

import json
import signal
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "serving"))

from serving_testkit import Server  # noqa: E402

from pipeport.cli import main as pipeport  # noqa: E402
from pipeport.contract import frame_to_rows  # noqa: E402
from pipeport.serving.model import load_model  # noqa: E402

CONFIG = REPO / "configs" / "penguins-species.toml"


def train_version(tmp: Path, version: str, n_estimators: int, drop: tuple[str, ...] = ()) -> Path:
    """The bundled penguins-species config as version `version` with `n_estimators` trees
    (and without the numeric features in `drop`), trained and exported into tmp/v<version>."""
    text = CONFIG.read_text().replace('"../data/penguins.csv"', f'"{REPO / "data/penguins.csv"}"')
    text = text.replace('version = "1"', f'version = "{version}"')
    text = text.replace("n_estimators = 100", f"n_estimators = {n_estimators}")
    for column in drop:
        text = text.replace(f'"{column}", ', "").replace(f', "{column}"', "")
    config = tmp / f"v{version}.toml"
    config.write_text(text)
    out = tmp / f"v{version}"
    assert pipeport(["train", str(config), "--out", str(out), "--quiet"]) == 0
    assert pipeport(["export", str(out), "--rows", "300"]) == 0
    return out


def holdout_rows(directory: Path) -> list[dict[str, Any]]:
    """The held-out rows as the JSON rows a client sends (the model's columns only)."""
    schema = load_model(directory / "pipeline.onnx").schema
    return frame_to_rows(pd.read_csv(directory / "holdout.csv"), schema)


def post(server: Server, path: str, body: Any, request_id: str) -> dict[str, Any]:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Request-ID": request_id},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert response.headers["X-Request-ID"] == request_id
        return dict(json.loads(response.read()))


def send_in_requests(server: Server, rows: list[dict[str, Any]], size: int = 7) -> list[str]:
    """The rows in requests of `size` rows, ids req-0, req-1, …; returns the id of each row."""
    ids = []
    for k, start in enumerate(range(0, len(rows), size)):
        part = rows[start : start + size]
        post(server, "/v1/predict", {"rows": part}, f"req-{k}")
        ids += [f"req-{k}"] * len(part)
    return ids


def stop(server: Server) -> None:
    """SIGTERM, as an orchestrator stops a server: the log is written out."""
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
