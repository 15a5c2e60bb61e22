"""An anomaly model in the Node.js and browser clients answers exactly what the server's
/v1/predict answers: `{"label": -1 | 1, "score": s}` per row, the label a JSON integer, the score
a JSON number or null where it is not finite.

Three real processes per model, no mocks: `pipeport serve` (the shape to match), node running
clients/node/predict.js, and headless Chromium running clients/web. Their JSON is compared as
parsed, before the parity harness's adapters touch it. Two models: the hand-built contract file of
clients_contract (a negative amount gives a NaN score, so null is exercised) and a real
IsolationForest pipeline exported by pipeport (missing values, an unseen category, far-out
numbers), whose labels and scores are also checked against scikit-learn's predict and
score_samples.
"""

from __future__ import annotations

import json
import math
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from clients_contract import CLIENTS_DIR, require, rows_for
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import pipeport
from pipeport.parity_tests.harness import running_server
from pipeport.parity_tests.runtimes.browser import (
    CHROMIUM_FLAGS,
    MODEL_URL_PATH,
    check_browser_runtime,
    chromium_executable,
    serve_clients,
)
from pipeport.parity_tests.runtimes.node import PREDICT_JS, node_executable

pytestmark = [pytest.mark.node, pytest.mark.browser]


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 1.0, n)
    amount[rng.random(n) < 0.1] = np.nan
    hour = rng.integers(0, 24, n).astype(float)
    hour[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"amount": amount, "hour": hour, "channel": rng.choice(["web", "pos"], n)})


def _json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


@pytest.fixture(scope="module")
def forest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]], Any]:
    """A real IsolationForest pipeline, its exported file, and raw rows (as JSON) to predict."""
    train = _frame(300, 0)
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", SimpleImputer(), ["amount", "hour"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
            ]
        ),
        IsolationForest(n_estimators=20, contamination=0.1, random_state=0),
    ).fit(train)
    path = tmp_path_factory.mktemp("anomaly_clients") / "fraud.onnx"
    path.write_bytes(
        pipeport.to_onnx(pipeline, train, "fraud", generated_rows=0).SerializeToString()
    )
    rows = _frame(40, 1)
    rows.loc[0, "amount"] = 1e9  # far out
    rows.loc[1, "hour"] = -1e6
    rows.loc[2, "channel"] = "atm"  # never seen in training
    rows.loc[3, ["amount", "hour"]] = np.nan
    return path, _json_rows(rows), (pipeline, rows)


def _server(model: Path, rows: list[dict[str, Any]]) -> list[Any]:
    with running_server(model) as url:
        request = urllib.request.Request(
            f"{url}/v1/predict",
            data=json.dumps({"rows": rows}, allow_nan=False).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return list(json.loads(response.read())["predictions"])


def _node(model: Path, rows: list[dict[str, Any]]) -> list[Any]:
    """clients/node/predict.js's stdout, parsed as it is (no float conversion)."""
    proc = subprocess.run(
        [node_executable(), str(PREDICT_JS), str(model), "-"],
        input="".join(json.dumps(r, allow_nan=False) + "\n" for r in rows),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


_PREDICT_IN_PAGE = """async ([url, rows]) => {
  const model = await window.pipeport.loadModel(url);
  return JSON.stringify(await model.predict(rows));
}"""


@pytest.fixture(scope="module")
def chromium(_runtimes_installed: None) -> Iterator[Any]:
    """One headless Chromium for the module (a launch costs seconds); a page per test."""
    from playwright.sync_api import sync_playwright  # lazily, after require() has checked it

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def _browser(chromium: Any, model: Path, rows: list[dict[str, Any]]) -> list[Any]:
    """clients/web's predictions in headless Chromium, as the page's JSON.stringify wrote them."""
    with serve_clients(model) as base:
        page = chromium.new_page()
        try:
            page.goto(f"{base}/web/index.html", wait_until="load")
            return list(json.loads(page.evaluate(_PREDICT_IN_PAGE, [MODEL_URL_PATH, rows])))
        finally:
            page.close()


def _assert_server_shape(predictions: list[Any], n: int, where: str) -> None:
    assert len(predictions) == n, where
    for i, p in enumerate(predictions):
        assert isinstance(p, dict) and set(p) == {"label", "score"}, (where, i, p)
        assert type(p["label"]) is int and p["label"] in (-1, 1), (where, i, p)
        score = p["score"]
        assert score is None or (type(score) in (int, float) and math.isfinite(score)), (
            where,
            i,
            p,
        )


@pytest.fixture(scope="module", autouse=True)
def _runtimes_installed() -> None:  # noqa: PT004 - a check, used for its failure
    require(node_executable)
    require(check_browser_runtime)


def _three_ways(chromium: Any, model: Path, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {
        "server": _server(model, rows),
        "node": _node(model, rows),
        "browser": _browser(chromium, model, rows),
    }


def test_hand_built_anomaly_model_answers_like_the_server_null_included(
    model_dir: Path, chromium: Any
) -> None:
    rows = rows_for("anomaly", 35)
    answers = _three_ways(chromium, model_dir / "anomaly.onnx", rows)
    for where, predictions in answers.items():
        _assert_server_shape(predictions, len(rows), where)
    server = answers["server"]
    # the file's rows reach both labels and a non-finite score (a negative amount: NaN)
    assert {p["label"] for p in server} == {-1, 1}
    assert any(p["score"] is None for p in server)
    # JSON has one number type: -1.0 (Python) and -1 (JavaScript) are the same number
    assert answers["node"] == server
    assert answers["browser"] == server


def test_exported_isolation_forest_answers_like_the_server_and_scikit_learn(
    forest: Any, chromium: Any
) -> None:
    path, rows, (pipeline, frame) = forest
    answers = _three_ways(chromium, path, rows)
    labels = pipeline.predict(frame).tolist()
    scores = pipeline.score_samples(frame).tolist()
    assert -1 in labels and 1 in labels  # the far-out rows are outliers, most are not
    for where, predictions in answers.items():
        _assert_server_shape(predictions, len(rows), where)
        assert [p["label"] for p in predictions] == labels, where
        worst = max(abs(p["score"] - s) for p, s in zip(predictions, scores, strict=True))
        assert worst <= 1e-12, (where, worst)
    assert answers["node"] == answers["server"]
    assert answers["browser"] == answers["server"]


def test_demo_page_shows_an_anomaly_label_and_score(model_dir: Path, chromium: Any) -> None:
    with serve_clients(model_dir / "anomaly.onnx") as base:
        page = chromium.new_page()
        try:
            page.goto(f"{base}/web/index.html?model={MODEL_URL_PATH}")
            page.wait_for_selector("#row-form:not([hidden])", timeout=60_000)
            assert "anomaly" in page.inner_text("#model-info")
            page.get_by_label("amount").fill("0")  # sqrt(0) / 10 = 0: score -(2 ** 0) = -1
            page.get_by_label("channel").fill("shop")
            page.get_by_role("button", name="Predict").click()
            page.wait_for_selector("#result h2")
            assert page.inner_text("#result h2") == "Prediction: -1 (outlier)"
            assert "score -1 (outlier below -0.5)" in page.inner_text("#result")
        finally:
            page.close()


def test_a_client_refuses_an_anomaly_file_without_a_score_output(
    tmp_path: Path, model_dir: Path
) -> None:
    model = onnx.load(str(model_dir / "anomaly.onnx"))
    prop = next(p for p in model.metadata_props if p.key == "pipeport")
    meta = json.loads(prop.value)
    del meta["outputs"]["score"]
    prop.value = json.dumps(meta)
    path = tmp_path / "no-score.onnx"
    onnx.save(model, str(path))
    proc = subprocess.run(
        [node_executable(), str(PREDICT_JS), str(path), "-"],
        input=json.dumps({"amount": 1.0, "channel": "web"}) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=CLIENTS_DIR,
    )
    assert proc.returncode == 1
    assert "anomaly metadata needs outputs.label and outputs.score" in proc.stderr
