"""Rows scikit-learn itself raises on (beyond what the contract refuses) are found, left out of the
comparison and reported, exactly as by checking them one by one; by the value behind them when
many rows share it (a division by a column that is often zero), with far fewer calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_engine.creation import RelativeFeatures
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import pipeport.export.parity as parity_module
from pipeport.export.probe import refused_by_sklearn


def _frame(n: int = 2_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(10, 3, n),
            "b": rng.choice(
                [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], n, p=[0.05, 0.19, 0.19, 0.19, 0.19, 0.19]
            ),
            "c": rng.normal(0, 1, n),
        }
    )
    return frame, rng.normal(size=n)


def _one_by_one(pipeline, frame: pd.DataFrame) -> set[int]:
    refused = set()
    for i in range(len(frame)):
        try:
            pipeline.predict(frame.iloc[[i]])
        except Exception:  # any refusal counts, as in the exporter
            refused.add(i)
    return refused


@pytest.fixture
def calls(monkeypatch):
    count = {"n": 0}
    original = parity_module.sklearn_outputs

    def counting(*args, **kwargs):
        count["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(parity_module, "sklearn_outputs", counting)
    return count


def test_a_zero_divisor_is_found_by_its_value_with_few_calls(calls):
    frame, y = _frame()
    safe = frame.replace({"b": {0.0: 1.0}})
    pipeline = make_pipeline(
        RelativeFeatures(variables=["a"], reference=["b"], func=["div"]), LinearRegression()
    ).fit(safe, y)
    truth = _one_by_one(pipeline, frame)
    assert len(truth) > 50

    found = refused_by_sklearn(pipeline, frame, "regression", True)
    by_value_calls = calls["n"]
    calls["n"] = 0
    halved = refused_by_sklearn(pipeline, frame, "regression", True, by_value=False)

    assert {i for i, _ in found} == truth == {i for i, _ in halved}
    assert all("every row with b = 0.0" in reason for _, reason in found)
    assert by_value_calls * 10 < calls["n"], (by_value_calls, calls["n"])


def test_refusals_without_a_shared_value_fall_back_to_halving():
    frame, y = _frame(600, seed=1)

    def check(x):
        x = np.asarray(x)
        if np.any(x[:, 0] > 14.5):  # refuses a range, not a value: every such row is unique
            raise ValueError("a is too large")
        return x

    pipeline = make_pipeline(FunctionTransformer(check), LinearRegression()).fit(
        frame[frame.a <= 14.5], y[frame.a.to_numpy() <= 14.5]
    )
    found = refused_by_sklearn(pipeline, frame, "regression", True)
    assert {i for i, _ in found} == _one_by_one(pipeline, frame)
    assert all("every row with" not in reason for _, reason in found)


def test_a_value_refused_only_with_another_is_not_taken_for_the_culprit():
    frame, y = _frame(600, seed=2)
    frame["c"] = np.where(np.arange(600) % 3 == 0, 0.0, frame["c"])

    def check(x):
        x = np.asarray(x)
        if np.any((x[:, 1] == 0.0) & (x[:, 2] == 0.0)):  # b and c zero together
            raise ValueError("b and c are both zero")
        return x

    pipeline = make_pipeline(FunctionTransformer(check), LinearRegression()).fit(
        frame.head(2), y[:2]
    )
    truth = _one_by_one(pipeline, frame)
    assert truth
    found = refused_by_sklearn(pipeline, frame, "regression", True)
    assert {i for i, _ in found} == truth
