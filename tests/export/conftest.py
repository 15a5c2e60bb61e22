"""Fixtures of the export/ tests: models trained once per session, and their exports.

Training and exporting dominate the run time, so every (data set, estimator, task) is trained
once and exported once (with 2,000 generated rows) and shared by the test modules that need it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import export_testkit as kit  # noqa: E402

GATE_ROWS = kit.GATE_ROWS


@pytest.fixture(scope="session", autouse=True)
def _one_openmp_thread():
    """HistGradientBoosting predicts with OpenMP; on 2 cores, next to onnxruntime's threads, its
    spinning workers make each small predict 5-10x slower. Results do not depend on it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


class Trained:
    """A fitted pipeline, its held-out raw rows and (once asked for) its export."""

    def __init__(self, pipeline: Any, holdout: Any, task: str, features: list[str]) -> None:
        self.pipeline = pipeline
        self.holdout = holdout
        self.task = task
        self.features = features
        self._model: Any = None

    @property
    def sample(self) -> Any:
        return self.holdout[self.features]

    def exported(self) -> Any:
        if self._model is None:
            from pipeport.export.onnx_export import to_onnx

            self._model = to_onnx(
                self.pipeline, self.holdout, "model", generated_rows=GATE_ROWS, seed=0
            )
        return self._model


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synthetic") / "synthetic data.csv"
    kit.synthetic_frame().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def penguins(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Trained]:
    """penguins(estimator, task) -> Trained, with the small parameters of kit.SMALL_PARAMS."""
    cache: dict[tuple[str, str], Trained] = {}

    def get(estimator: str, task: str) -> Trained:
        if (estimator, task) not in cache:
            raw = kit.penguin_config(task, estimator, kit.SMALL_PARAMS.get(estimator))
            out = tmp_path_factory.mktemp(f"penguins-{estimator}-{task}")
            pipeline, holdout = kit.train_raw(raw, out)
            features = raw["features"]["numeric"] + raw["features"]["categorical"]
            cache[estimator, task] = Trained(pipeline, holdout, task, features)
        return cache[estimator, task]

    return get


@pytest.fixture(scope="session")
def synthetic(
    tmp_path_factory: pytest.TempPathFactory, synthetic_csv: Path
) -> Callable[..., Trained]:
    """synthetic(estimator, task) -> Trained on the generated data set (10 integer classes)."""
    cache: dict[tuple[str, str], Trained] = {}

    def get(estimator: str, task: str) -> Trained:
        if (estimator, task) not in cache:
            target = kit.SYN_CLASS_TARGET if task == "classification" else kit.SYN_REG_TARGET
            raw = kit.train_config(
                synthetic_csv,
                target,
                kit.SYN_NUMERIC,
                kit.SYN_CATEGORICAL,
                task,
                estimator,
                kit.SMALL_PARAMS.get(estimator),
            )
            out = tmp_path_factory.mktemp(f"synthetic-{estimator}-{task}")
            pipeline, holdout = kit.train_raw(raw, out)
            cache[estimator, task] = Trained(
                pipeline, holdout, task, kit.SYN_NUMERIC + kit.SYN_CATEGORICAL
            )
        return cache[estimator, task]

    return get
