"""dask is an optional extra: declared as pipeport[dask], installed by dev (so CI runs these
tests), absent from the serve extra and its lock, never imported by `import pipeport`, by the
server or by the local engine; and a missing dask says which extra to install."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from dask_testkit import REPO, env

DASK_ONLY = {"dask", "distributed", "fsspec", "partd", "toolz", "tornado", "zict", "pandas"}


def _names(requirements: list[str]) -> set[str]:
    return {
        re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line).group(1).lower()  # type: ignore[union-attr]
        for line in requirements
        if re.match(r"\s*[A-Za-z0-9]", line.split("#")[0])
    }


def test_the_dask_extra_is_declared_and_dev_installs_it():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert {"dask", "distributed", "onnxruntime", "pandas", "pyarrow"} <= _names(extras["dask"])
    assert "pipeport[dask]" in extras["dev"]
    assert not _names(extras["serve"]) & DASK_ONLY
    locked = _names((REPO / "requirements" / "dev.lock").read_text().splitlines())
    assert {"dask", "distributed"} <= locked


def test_the_serve_lock_has_no_dask():
    locked = _names((REPO / "requirements" / "serve.lock").read_text().splitlines())
    assert "onnxruntime" in locked
    assert not locked & DASK_ONLY, locked & DASK_ONLY


def _modules_after(code: str) -> set[str]:
    script = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env(),
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_import_pipeport_and_the_server_never_import_dask(models):
    modules = _modules_after(
        "import pipeport\n"
        "from pipeport.serving.app import create_app\n"
        f"create_app({str(models['classifier'])!r})\n"
    )
    assert not {m for m in modules if m.split(".")[0] in {"dask", "distributed"}}
    assert not {"pipeport.dask", "pipeport.dask_batch", "pipeport.dask_inputs"} & modules


def test_the_local_engine_imports_neither_dask_nor_pandas(models, tmp_path):
    (tmp_path / "rows.csv").write_text("bill length (mm),island\n40,Dream\n")
    modules = _modules_after(
        "from pipeport.cli import main\n"
        f"assert main(['predict', {str(models['classifier'])!r}, '--input', "
        f"{str(tmp_path / 'rows.csv')!r}, '--output', {str(tmp_path / 'p.csv')!r}]) == 0\n"
    )
    assert not {m for m in modules if m.split(".")[0] in {"dask", "distributed", "pandas"}}


def test_engine_dask_without_dask_says_which_extra_to_install(models, tmp_path):
    (tmp_path / "rows.csv").write_text("bill length (mm),island\n40,Dream\n")
    code = (
        "import sys\n"
        "sys.modules['dask'] = None  # as if not installed\n"
        "from pipeport.cli import main\n"
        f"sys.exit(main(['predict', {str(models['classifier'])!r}, '--input', "
        f"{str(tmp_path / 'rows.csv')!r}, '--output', {str(tmp_path / 'out')!r}, "
        "'--engine', 'dask']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env(),
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "pipeport predict: error: --engine dask needs dask, which is not installed; install the "
        "dask extra: pip install 'pipeport[dask]'"
    )


def test_pipeport_dask_without_dask_says_which_extra_to_install():
    code = "import sys\nsys.modules['dask'] = None\nimport pipeport.dask\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env(),
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 1
    assert "pipeport.dask needs dask, which is not installed: pip install 'pipeport[dask]'" in (
        result.stderr
    )
