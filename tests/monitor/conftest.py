"""Fixtures of the production-loop tests: two model versions, trained once per session, and
serving_testkit's real-server launcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from monitor_testkit import train_version
from serving_testkit import start_server  # noqa: F401  (a fixture)


@pytest.fixture(scope="session")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """penguins-species v1 (100 trees, as bundled) and v2 (3 trees: some labels flip)."""
    root = tmp_path_factory.mktemp("versions")
    return {"v1": train_version(root, "1", 100), "v2": train_version(root, "2", 3)}


@pytest.fixture(scope="session")
def anomaly_versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """fraud v1 (IsolationForest, 60 trees, seed 0) and v2 (25 trees, seed 1): artifacts
    folders with sklearn_pipeline.joblib and pipeline.onnx."""
    from monitor_testkit import train_anomaly

    root = tmp_path_factory.mktemp("anomaly")
    return {"v1": train_anomaly(root, "1", 60, 0), "v2": train_anomaly(root, "2", 25, 1)}
