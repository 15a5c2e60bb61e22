"""Fixtures for the Node.js and browser client tests: contract models built once per session."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from clients_contract import BUILDERS


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("contract_models")
    for name, build in BUILDERS.items():
        onnx.save(build(), directory / f"{name}.onnx")
    return directory
