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
    assert {"onnxruntime", "flask", "gunicorn", "granian", "uvloop", "numpy"} <= locked
    assert not locked & RESEARCH_ONLY, locked & RESEARCH_ONLY


def test_serve_extra_declares_no_research_package() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    serve = _names(project["optional-dependencies"]["serve"])
    assert serve == {"onnxruntime", "numpy", "flask", "gunicorn", "granian", "uvloop"}


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
    import pipeport.research.config
    from pipeport import cli

    def needs_sklearn(_path: object) -> None:
        raise ModuleNotFoundError("No module named 'sklearn'", name="sklearn")

    monkeypatch.setattr(pipeport.research.config, "load_config", needs_sklearn)
    assert cli.main(["train", "x.toml"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'pipeport[research]'" in err
    assert "Traceback" not in err


def test_the_wheel_installs_the_pipeport_package_only(tmp_path: Path) -> None:
    """No top-level `export`, `serving`, `research` or `parity_tests` in a user's site-packages:
    the stage folders are linked into the pipeport package and ship under it."""
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("pipeport-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "pipeport",
        wheel.name.split("-py")[0] + ".dist-info",
    }
    for stage in ("research", "export", "export/converters", "serving", "parity_tests", "monitor"):
        assert f"pipeport/{stage}/__init__.py" in names, stage


def test_no_module_imports_a_stage_by_its_bare_folder_name() -> None:
    """`import export` would load a second copy of a stage beside `pipeport.export` (two
    converter registries, two schema types): every import goes through the pipeport package."""
    bare = re.compile(r"^\s*(from|import)\s+(research|export|serving|parity_tests)\b", re.M)
    offenders = [
        str(path.relative_to(REPO))
        for folder in (
            "pipeport",
            "research",
            "export",
            "serving",
            "parity_tests",
            "tests",
            "bench",
        )
        for path in (REPO / folder).rglob("*.py")
        if bare.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
