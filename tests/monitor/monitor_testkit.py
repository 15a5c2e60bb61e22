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


# -- anomaly models (a pipeline ending with IsolationForest) -----------------------------------


def anomaly_frame(n: int, seed: int) -> pd.DataFrame:
    """Card payments: an amount (5 % missing), an hour and a channel; a few far-out amounts."""
    import numpy as np

    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 1.0, n)
    amount[rng.random(n) < 0.05] = np.nan
    amount[rng.random(n) < 0.03] = 1e5
    return pd.DataFrame(
        {
            "amount": amount,
            "hour": rng.integers(0, 24, n),
            "channel": rng.choice(["web", "shop", "phone"], n),
        }
    )


def train_anomaly(folder: Path, version: str, n_estimators: int, seed: int) -> Path:
    """An IsolationForest pipeline fitted on anomaly_frame(400, 0) by scikit-learn, exported by
    pipeport.to_onnx as fraud v<version>: folder/v<version>/ holds sklearn_pipeline.joblib (an
    artifacts folder replay can take) and pipeline.onnx."""
    import joblib
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import IsolationForest
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from pipeport import to_onnx

    frame = anomaly_frame(400, 0)
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", SimpleImputer(strategy="median"), ["amount", "hour"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
            ]
        ),
        IsolationForest(n_estimators=n_estimators, contamination=0.1, random_state=seed),
    ).fit(frame)
    out = folder / f"v{version}"
    out.mkdir(parents=True)
    joblib.dump(pipeline, out / "sklearn_pipeline.joblib")
    model = to_onnx(pipeline, frame, "fraud", version, generated_rows=200)
    (out / "pipeline.onnx").write_bytes(model.SerializeToString())
    return out


def anomaly_rows(n: int, seed: int) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """New rows (an unseen channel among them) as a DataFrame and as the JSON rows a client
    sends (null for a missing amount)."""
    import math

    frame = anomaly_frame(n, seed)
    frame.loc[5, "channel"] = "fax"  # a channel never seen: OneHotEncoder ignores it
    rows = [
        {
            "amount": None if math.isnan(r["amount"]) else float(r["amount"]),
            "hour": int(r["hour"]),
            "channel": str(r["channel"]),
        }
        for r in frame.to_dict(orient="records")
    ]
    return frame, rows
