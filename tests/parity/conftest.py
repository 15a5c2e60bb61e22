"""Fixtures: bundled configs trained and exported once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parity_testkit import BUNDLED, train_and_export  # noqa: E402


@pytest.fixture(scope="session")
def bundled_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from pipeport.research.datasets import fetch_ames

    # configs/house-prices.toml reads the Ames data, fetched rather than bundled (`make test`
    # fetches it first; this covers a bare `pytest`): a no-op when it is there and intact
    fetch_ames(Path(__file__).resolve().parents[2] / "data" / "ames.csv")
    root = tmp_path_factory.mktemp("bundled")
    return {c.stem: train_and_export(c, root / c.stem) for c in BUNDLED}
