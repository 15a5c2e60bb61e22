"""Fixtures of the Dask tests: the serving tests' small models, the bundled penguins model, and a
LocalCluster of worker processes on loopback (started once, for the Python API tests)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "serving"))

import model_builders  # noqa: E402


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dask-models")
    return {
        "classifier": model_builders.build_classifier(folder / "classifier.onnx"),
        "int_classifier": model_builders.build_classifier(
            folder / "int_classifier.onnx", int_labels=True
        ),
        "regressor": model_builders.build_regressor(folder / "regressor.onnx"),
    }


@pytest.fixture(scope="session")
def penguins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled penguins-species config, trained and exported by the real CLI, once."""
    from pipeport.cli import main as pipeport

    directory = tmp_path_factory.mktemp("dask-penguins")
    config = str(Path(__file__).resolve().parents[2] / "configs" / "penguins-species.toml")
    assert pipeport(["train", config, "--out", str(directory), "--quiet"]) == 0
    assert pipeport(["export", str(directory), "--rows", "500"]) == 0
    return directory / "pipeline.onnx"


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A LocalCluster of 2 worker processes (1 thread each) on 127.0.0.1, and its client."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


@pytest.fixture(scope="session")
def anomaly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """An anomaly model: amount (missing values), hour and channel through an IsolationForest,
    fitted by scikit-learn and exported by pipeport.to_onnx; (model path, fitted pipeline)."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import IsolationForest
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from pipeport import to_onnx

    rng = np.random.default_rng(0)
    amount = rng.lognormal(3.0, 1.0, 400)
    amount[rng.random(400) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "amount": amount,
            "hour": rng.integers(0, 24, 400),
            "channel": rng.choice(["web", "shop", "phone"], 400),
        }
    )
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", SimpleImputer(), ["amount", "hour"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
            ]
        ),
        IsolationForest(n_estimators=60, contamination=0.05, random_state=0),
    ).fit(frame)
    path = tmp_path_factory.mktemp("dask-anomaly") / "fraud.onnx"
    path.write_bytes(to_onnx(pipeline, frame, "fraud", generated_rows=200).SerializeToString())
    return path, pipeline
