"""clients/web really runs pipeport files in onnxruntime-web (WASM) in Debian's headless Chromium.

Every test here launches chromium through playwright and loads clients/web over loopback HTTP;
none mocks it. Without chromium, playwright or clients/node_modules the tests fail, naming what to
install (`make test` installs all three).

WASM and native onnxruntime differ in the last bit of some transcendental functions (Softmax's
exp), so probabilities are compared within 1e-12; labels and tree/linear outputs are exact.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from clients_contract import (
    BUILDERS,
    CLIENTS_DIR,
    TREE_EDGE_ROWS,
    TREE_EXPECTED,
    max_abs_difference,
    predict_with_onnxruntime,
    require,
    rows_for,
)

from pipeport.parity_tests.runtimes.browser import (
    CHROMIUM_FLAGS,
    MODEL_URL_PATH,
    check_browser_runtime,
    chromium_executable,
    run_browser,
    serve_clients,
)
from pipeport.parity_tests.runtimes.node import RuntimeFailed

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def _browser_installed() -> None:
    require(check_browser_runtime)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_browser_predictions_match_onnxruntime_python(model_dir: Path, name: str) -> None:
    rows = rows_for(name, 60)
    worst = max_abs_difference(
        predict_with_onnxruntime(model_dir / f"{name}.onnx", rows),
        run_browser(model_dir / f"{name}.onnx", rows),
    )
    assert worst <= 1e-12


def test_tree_ensemble_v5_in_double_runs_in_wasm_exactly(model_dir: Path) -> None:
    got = [p["prediction"] for p in run_browser(model_dir / "tree.onnx", TREE_EDGE_ROWS)]
    assert got == TREE_EXPECTED


def test_thousands_of_rows_in_batches_keep_order(model_dir: Path) -> None:
    rows = rows_for("species_int", 4500, seed=7)
    expected = predict_with_onnxruntime(model_dir / "species_int.onnx", rows)
    assert max_abs_difference(expected, run_browser(model_dir / "species_int.onnx", rows)) <= 1e-12


def test_missing_field_in_a_later_batch_names_its_global_row(model_dir: Path) -> None:
    rows = rows_for("mass", 2100)
    del rows[2050]["sex"]
    with pytest.raises(RuntimeFailed, match=r'row 2050, field "sex": missing field'):
        run_browser(model_dir / "mass.onnx", rows)


def test_wrong_type_is_refused_naming_row_and_field(model_dir: Path) -> None:
    rows = [{"bill length (mm)": "41.5", "island": "Dream"}]
    with pytest.raises(
        RuntimeFailed, match=r'row 0, field "bill length \(mm\)": expected a number'
    ):
        run_browser(model_dir / "species.onnx", rows)


def test_demo_page_builds_the_form_from_metadata_and_predicts(
    model_dir: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright  # lazily, after require() has checked it

    row = {"bill length (mm)": 48.25, "island": "Biscoe"}
    (expected,) = predict_with_onnxruntime(model_dir / "species.onnx", [row])
    with serve_clients(model_dir / "species.onnx") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/web/index.html?model={MODEL_URL_PATH}")
            page.wait_for_selector("#row-form:not([hidden])", timeout=60_000)
            assert "species v1" in page.inner_text("#model-info")
            # the training range from the metadata's min/max is the numeric field's placeholder
            bill = page.get_by_label("bill length (mm)")
            assert bill.get_attribute("placeholder") == "33.1 … 59.6"
            page.get_by_label("bill length (mm)").fill("48.25")
            page.get_by_label("island").fill("Biscoe")
            page.get_by_role("button", name="Predict").click()
            page.wait_for_selector("#result h2")
            assert page.inner_text("#result h2") == f"Prediction: {expected['label']}"
            page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
        finally:
            browser.close()


def test_demo_server_script_serves_model_and_module_mime_types(model_dir: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(CLIENTS_DIR / "web" / "serve.py"), str(model_dir / "tree.onnx")]
        + ["--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.endswith("/web/index.html?model=/model.onnx")
        base = url.split("/web/", 1)[0]
        with urllib.request.urlopen(f"{base}/model.onnx", timeout=10) as r:
            assert r.read() == (model_dir / "tree.onnx").read_bytes()
        dist = f"{base}/node_modules/onnxruntime-web/dist"
        for name, mime in [
            ("ort-wasm-simd-threaded.mjs", "text/javascript"),
            ("ort-wasm-simd-threaded.wasm", "application/wasm"),
        ]:
            with urllib.request.urlopen(f"{dist}/{name}", timeout=10) as r:
                assert r.headers["Content-Type"] == mime
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_demo_page_loads_a_local_file_and_reports_bad_input(
    model_dir: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright  # lazily, after require() has checked it

    with serve_clients(model_dir / "mass.onnx") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/web/index.html")
            page.set_input_files("#model-file", str(model_dir / "mass.onnx"))
            page.wait_for_selector("#row-form:not([hidden])", timeout=60_000)
            # no min/max in its metadata: no range shown (not "undefined … undefined")
            assert page.get_by_label("flipper.length").get_attribute("placeholder") is None
            page.get_by_label("flipper.length").fill("200")  # sex left empty: sent as null
            page.get_by_role("button", name="Predict").click()
            page.wait_for_selector("#result h2")
            (expected,) = predict_with_onnxruntime(
                model_dir / "mass.onnx", [{"flipper.length": 200.0, "sex": None}]
            )
            assert page.inner_text("#result h2") == f"Prediction: {expected['prediction']}"
            # a model URL that does not exist: a readable error, not a blank page
            page.fill("#model-url", "/missing.onnx")
            page.get_by_role("button", name="Load URL").click()
            page.wait_for_selector("#status.error")
            assert "HTTP 404" in page.inner_text("#status")
        finally:
            browser.close()
