#!/usr/bin/env python3
"""Serve the pipeport demo page on 127.0.0.1, optionally with one model at /model.onnx.

    python3 clients/web/serve.py artifacts/penguins-species/pipeline.onnx
    # then open the URL it prints

Why not `python3 -m http.server`: onnxruntime-web imports a `.mjs` module and a `.wasm` file,
which browsers accept only with the right MIME types, and Python's defaults depend on the
machine's /etc/mime.types. Standard library only; serves clients/ (page, common/, node_modules/).
"""

from __future__ import annotations

import argparse
import errno
import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CLIENTS_DIR = Path(__file__).resolve().parents[1]
MODEL_URL_PATH = "/model.onnx"


class DemoHandler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
    }

    def __init__(self, *args: Any, model_path: Path | None, **kwargs: Any) -> None:
        self.model_path = model_path
        super().__init__(*args, directory=str(CLIENTS_DIR), **kwargs)

    def translate_path(self, path: str) -> str:
        """The model under MODEL_URL_PATH (GET and HEAD); everything else from clients/."""
        if self.model_path is not None and path.split("?", 1)[0] == MODEL_URL_PATH:
            return str(self.model_path)
        return super().translate_path(path)


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True  # Ctrl-C does not wait for a browser's open connections

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that goes away mid-response (a reload, a closed tab) is normal, not an
        error: no traceback for it. Anything else is still reported."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset, ...
            return
        super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "model", nargs="?", type=Path, help="a pipeline.onnx to serve at /model.onnx"
    )
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port (default 8000)")
    args = parser.parse_args(argv)
    if args.model is not None and not args.model.is_file():
        parser.error(f"no such model file: {args.model}")
    if not (CLIENTS_DIR / "node_modules" / "onnxruntime-web" / "dist").is_dir():
        parser.error(
            "onnxruntime-web is missing: cd clients && ONNXRUNTIME_NODE_INSTALL=skip npm ci"
        )
    model = args.model.resolve() if args.model is not None else None
    handler = functools.partial(DemoHandler, model_path=model)
    try:
        server = DemoServer(("127.0.0.1", args.port), handler)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"serve.py: error: port {args.port} is in use; try --port", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{server.server_address[1]}/web/index.html"
    print(f"{url}?model={MODEL_URL_PATH}" if model else url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
