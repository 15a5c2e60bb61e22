"""Run a pipeport ONNX file in headless Chromium (onnxruntime-web, WebAssembly).

What is exercised is what a web page ships: clients/web/pipeport-web.js and clients/common/ on
top of onnxruntime-web's own dist files, loaded by clients/web/index.html over loopback HTTP
(onnxruntime-web cannot load its WebAssembly from file://). The browser is Debian's chromium,
driven by Python playwright; no tool downloads a browser of its own.

Predictions leave the page as JSON text (JSON.stringify) and are parsed with Python's json, the
same float64 round trip as the Node.js adapter.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeport.parity_tests.runtimes import RuntimeFailed, RuntimeUnavailable
from pipeport.parity_tests.runtimes.node import float_values

CLIENTS_DIR = Path(__file__).resolve().parents[2] / "clients"
ORT_WEB_DIST = CLIENTS_DIR / "node_modules" / "onnxruntime-web" / "dist"
INSTALL_HINT = "cd clients && ONNXRUNTIME_NODE_INSTALL=skip npm ci"
MODEL_URL_PATH = "/__pipeport_model__.onnx"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Rows per page.evaluate call: bounded message size, and a bad row's index is still global.
BATCH_ROWS = 2000
TIMEOUT_MS = 120_000


def chromium_executable() -> str:
    """Debian's chromium (or $PIPEPORT_CHROMIUM); else RuntimeUnavailable naming the install."""
    path = os.environ.get("PIPEPORT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        raise RuntimeUnavailable(
            "chromium is not installed; apt-get update && apt-get install -y chromium "
            "(never `playwright install`: it downloads a browser build)"
        )
    return path


def check_browser_runtime() -> str:
    """Chromium's path if everything run_browser needs is installed, else RuntimeUnavailable."""
    chromium = chromium_executable()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        raise RuntimeUnavailable(
            "the playwright Python package is missing; pip install 'pipeport[dev]'"
        ) from exc
    if not (ORT_WEB_DIST / "ort.wasm.min.js").is_file():
        raise RuntimeUnavailable(
            f"onnxruntime-web is not installed in {ORT_WEB_DIST}; run: {INSTALL_HINT}"
        )
    return chromium


class _ClientsHandler(SimpleHTTPRequestHandler):
    """Serves clients/ as the site root, and the model under test at MODEL_URL_PATH."""

    # module scripts and wasm need exact MIME types, whatever /etc/mime.types says
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
    }

    def __init__(self, *args: Any, model_path: Path, **kwargs: Any) -> None:
        self.model_path = model_path
        super().__init__(*args, directory=str(CLIENTS_DIR), **kwargs)

    def translate_path(self, path: str) -> str:
        """The model under MODEL_URL_PATH (GET and HEAD); everything else from clients/."""
        if path.split("?", 1)[0] == MODEL_URL_PATH:
            return str(self.model_path)
        return super().translate_path(path)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


@contextmanager
def serve_clients(model_path: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (free port) in a thread; yields its base URL."""
    handler = functools.partial(_ClientsHandler, model_path=Path(model_path).resolve())
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="pipeport-web", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


_LOAD_JS = """async (url) => {
  window.__pipeportModel = await window.pipeport.loadModel(url);
  return window.__pipeportModel.schema.name;
}"""

_PREDICT_JS = """async ([rows, rowOffset]) => {
  try {
    return {ok: JSON.stringify(await window.__pipeportModel.predict(rows, {rowOffset}))};
  } catch (err) {
    return {error: `${err.name}: ${err.message}`};
  }
}"""


def run_browser(model_path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Predict raw rows with onnxruntime-web in headless Chromium; one dict per row, in order."""
    chromium = check_browser_runtime()
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    # JSON text, not Python objects: rows cross exactly as a web caller would send them
    # (and NaN/Infinity are refused here, as the contract wants null for missing).
    rows_json = json.loads(json.dumps(rows, allow_nan=False))
    console: list[str] = []
    predictions: list[dict[str, Any]] = []
    with serve_clients(model_path) as base_url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("console", lambda m: console.append(f"console.{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"page error: {e}"))
            page.goto(f"{base_url}/web/index.html", wait_until="load")
            try:
                page.evaluate(_LOAD_JS, MODEL_URL_PATH)
            except PlaywrightError as exc:
                raise RuntimeFailed(
                    f"the page could not load {model_path}", "\n".join([str(exc), *console])
                ) from exc
            for start in range(0, len(rows_json), BATCH_ROWS):
                result = page.evaluate(_PREDICT_JS, [rows_json[start : start + BATCH_ROWS], start])
                if "error" in result:
                    raise RuntimeFailed(
                        f"pipeport-web refused the rows: {result['error']}", "\n".join(console)
                    )
                predictions.extend(float_values(p) for p in json.loads(result["ok"]))
        finally:
            browser.close()
    return predictions
