"""Fixtures: bundled configs trained and exported once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parity_testkit import BUNDLED, train_and_export  # noqa: E402


@pytest.fixture(scope="session")
def bundled_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bundled")
    return {c.stem: train_and_export(c, root / c.stem) for c in BUNDLED}
