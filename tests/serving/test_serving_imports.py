"""serving/ must run on an image without scikit-learn, pandas or scipy: prove it statically."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from serving_testkit import REPO, subprocess_env

SERVING = REPO / "serving"
ALLOWED_THIRD_PARTY = {
    "onnxruntime",
    "numpy",
    "flask",
    "werkzeug",
    "gunicorn",
    "granian",
    "uvloop",
    "pyarrow",
}
ALLOWED_FIRST_PARTY = {"pipeport"}
FORBIDDEN = {"sklearn", "pandas", "scipy", "skl2onnx", "onnx", "joblib"}
#: The pipeport modules serving/ may import: itself, the CLI shell, and the raw-row contract
#: (whose modules import numpy and the standard library only).
ALLOWED_PIPEPORT = ("pipeport.serving", "pipeport.contract", "pipeport.schema", "pipeport.errors")


def imported_top_level_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names.add("<dynamic import>")
    return names


def test_serving_modules_import_nothing_forbidden():
    files = sorted(SERVING.glob("*.py"))
    assert len(files) >= 10
    for path in files:
        modules = imported_top_level_modules(path)
        assert not modules & FORBIDDEN, f"{path.name} imports {modules & FORBIDDEN}"
        unexpected = (
            modules - ALLOWED_THIRD_PARTY - ALLOWED_FIRST_PARTY - set(sys.stdlib_module_names)
        )
        assert not unexpected, f"{path.name} imports {unexpected}"


def test_pipeport_imports_only_serving_the_contract_and_the_cli():
    for path in [
        *SERVING.glob("*.py"),
        *(REPO / "pipeport").glob("contract*.py"),
        REPO / "pipeport" / "schema.py",
        REPO / "pipeport" / "errors.py",
    ]:
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipeport"):
                module = node.module or ""
                assert module in ("pipeport", "pipeport.cli") or module.startswith(
                    ALLOWED_PIPEPORT
                ), f"{path.name} imports {module}"


def _serving_imports(path: Path) -> set[str]:
    """The pipeport.serving modules `path` imports, anywhere in the file (TYPE_CHECKING too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "pipeport.serving":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("pipeport.serving."):
                found.add(node.module.removeprefix("pipeport.serving."))
    return found


def test_the_app_imports_the_protocol_modules_and_never_the_reverse():
    app_imports = _serving_imports(SERVING / "app.py")
    assert {"v1", "mlflow", "v2"} <= app_imports
    for path in SERVING.glob("*.py"):
        if path.name not in ("app.py", "cli.py"):  # the factory, and the command that calls it
            assert "app" not in _serving_imports(path), f"{path.name} imports serving.app"
    for protocol in ("v1", "mlflow", "v2"):
        others = {"v1", "mlflow", "v2"} - {protocol}
        assert not _serving_imports(SERVING / f"{protocol}.py") & others, protocol


def test_pyarrow_is_only_imported_lazily_by_batch():
    for path in SERVING.glob("*.py"):
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        for node in top:
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            assert not any(n.startswith("pyarrow") for n in names), path.name


def test_cli_module_imports_only_argparse_at_module_level():
    tree = ast.parse((SERVING / "cli.py").read_text())
    top = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert top <= {"argparse", "__future__", "typing"}


def test_loading_the_app_leaves_sklearn_pandas_scipy_unimported(classifier_path):
    code = (
        "import sys\n"
        "from pipeport.serving.app import create_app\n"
        "import pipeport.serving.batch, pipeport.serving.cli, pipeport.serving.gunicorn_app\n"
        f"app = create_app({str(classifier_path)!r})\n"
        "client = app.test_client()\n"
        "r = client.post('/v1/predict', json={'rows': [{'bill length (mm)': 1.0, "
        "'island': 'Dream'}]})\n"
        "assert r.status_code == 200, r.data\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sklearn', 'pandas', 'scipy', 'skl2onnx', 'onnx'} or m.startswith("
        "('pipeport.research', 'pipeport.export', 'pipeport.parity_tests')))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
