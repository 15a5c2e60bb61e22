"""The examples in the documentation, executed as written (only the address and the model path
are swapped for the test's), so that they cannot rot: docs/serving.md's curl and tritonclient
examples, the README's curl example, clients/README.md's Node.js examples and the example in
`node clients/node/predict.js --help`. Also: clients/web/serve.py stays quiet when a browser
disconnects. Against the real penguins-species model, trained and exported here.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from serving_testkit import REPO, free_port, subprocess_env

MODEL_PATH = "artifacts/penguins-species/pipeline.onnx"
ADDRESS = re.compile(r"(?:http://)?(?:localhost|127\.0\.0\.1):8000")


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), re.S)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is needed to run the documented examples: apt-get install -y {name}")
    return found


@pytest.fixture(scope="module")
def penguins_server(start_server, penguins_model):
    return start_server(penguins_model, workers=1)


def _run_shell(script: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=subprocess_env(),
    )


@pytest.mark.parametrize("document", ["docs/serving.md", "README.md"])
def test_documented_curl_examples_predict(penguins_server, document):
    _tool("curl")
    examples = [b for b in _blocks(REPO / document, "sh") if "curl" in b and "/v1/predict" in b]
    assert examples, f"no curl example in {document}"
    for example in examples:
        script = ADDRESS.sub(penguins_server.url, example)
        result = _run_shell(script)
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert "error" not in answer, answer
        assert answer["predictions"][0]["label"] in ("Adelie", "Chinstrap", "Gentoo")


def test_documented_tritonclient_example_runs(penguins_server):
    (example,) = [b for b in _blocks(REPO / "docs/serving.md", "python") if "tritonclient" in b]
    code = example.replace("127.0.0.1:8000", penguins_server.url.removeprefix("http://"))
    result = subprocess.run(
        [*_python(), "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert "Adelie" in result.stdout or "Gentoo" in result.stdout or "Chinstrap" in result.stdout


def _python() -> list[str]:
    import sys

    return [sys.executable]


@pytest.fixture(scope="module")
def node() -> str:
    return _tool("node")


def test_clients_readme_command_line_example_predicts(node, penguins_model):
    examples = [
        b for b in _blocks(REPO / "clients/README.md", "sh") if "printf" in b and "predict.js" in b
    ]
    assert examples
    script = examples[0].split("\nnode ")[0].replace(MODEL_PATH, str(penguins_model))
    result = _run_shell(script)
    assert result.returncode == 0, result.stderr
    assert "label" in json.loads(result.stdout.splitlines()[0])


def test_predict_js_help_example_predicts(node, penguins_model):
    help_text = subprocess.run(
        [node, "clients/node/predict.js", "--help"], capture_output=True, text=True, cwd=REPO
    ).stdout
    (example,) = [line.strip() for line in help_text.splitlines() if "| node " in line]
    result = _run_shell(example.replace(MODEL_PATH, str(penguins_model)))
    assert result.returncode == 0, result.stderr
    assert "label" in json.loads(result.stdout)


def test_clients_readme_embedding_example_predicts(node, penguins_model, tmp_path):
    (example,) = [b for b in _blocks(REPO / "clients/README.md", "js") if "loadModel" in b]
    # As the README says: pipeport.js and common/ side by side, as in clients/.
    script = REPO / "clients" / f".readme-example-{tmp_path.name}.js"
    script.write_text(example.replace(MODEL_PATH, str(penguins_model)))
    try:
        result = subprocess.run(
            [node, str(script)], capture_output=True, text=True, timeout=60, cwd=REPO
        )
    finally:
        script.unlink()
    assert result.returncode == 0, result.stderr
    assert "label:" in result.stdout
    assert "PipeportInputError" not in result.stderr and result.stderr == ""


def test_demo_page_server_is_quiet_when_a_browser_disconnects(penguins_model):
    port = free_port()
    process = subprocess.Popen(
        [*_python(), "clients/web/serve.py", str(penguins_model), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()  # the URL: the server is listening
        wasm = next((REPO / "clients/node_modules/onnxruntime-web/dist").glob("*.wasm"))
        path = "/" + str(wasm.relative_to(REPO / "clients"))
        for _ in range(5):  # ask for a large file and hang up at once, as a reload does
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                sock.recv(10)
        with socket.create_connection(("127.0.0.1", port)) as sock:  # still serving
            sock.sendall(b"GET /web/index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(12) == b"HTTP/1.0 200"
        time.sleep(0.5)  # let the handler threads finish writing (not a measurement)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert "Traceback" not in stderr, stderr
