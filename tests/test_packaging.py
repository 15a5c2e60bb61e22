"""A server image installs `pipeport[serve]`: it must not pull the research stack."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESEARCH_ONLY = {"scikit-learn", "pandas", "scipy", "skl2onnx", "onnx", "joblib", "pyarrow"}


def _names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#")[0])
        if match:
            names.add(match.group(1).lower().replace("_", "-"))
    return names


def test_serve_lock_has_no_research_package() -> None:
    locked = _names((REPO / "requirements" / "serve.lock").read_text().splitlines())
    assert {"onnxruntime", "flask", "gunicorn", "numpy"} <= locked
    assert not locked & RESEARCH_ONLY, locked & RESEARCH_ONLY


def test_serve_extra_declares_no_research_package() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    serve = _names(project["optional-dependencies"]["serve"])
    assert serve == {"onnxruntime", "numpy", "flask", "gunicorn"}


def test_every_dev_lock_pin_is_exact() -> None:
    lines = [
        line
        for line in (REPO / "requirements" / "dev.lock").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    ]
    assert lines and all("==" in line.split("#")[0] for line in lines)


def test_research_command_on_a_serve_only_install_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import research.config
    from pipeport import cli

    def needs_sklearn(_path: object) -> None:
        raise ModuleNotFoundError("No module named 'sklearn'", name="sklearn")

    monkeypatch.setattr(research.config, "load_config", needs_sklearn)
    assert cli.main(["train", "x.toml"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'pipeport[research]'" in err
    assert "Traceback" not in err
