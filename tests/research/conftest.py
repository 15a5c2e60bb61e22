"""Shared helpers for the research/ tests: small generated CSVs and TOML configs on disk.

The helpers are handed out as fixtures (a conftest module is not importable by name: other test
folders have their own conftest.py). `make_frame` and `make_project` are session-scoped so that
module-scoped fixtures (a trained pipeline reused by many tests) can use them too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
# pipeport is not installed in the venv (and pytest's rootdir is not on sys.path): make
# `import research` / `import pipeport` work however pytest is started.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: The raw feature columns of the generated data set, by kind. The names have spaces, dots and
#: non-ASCII letters on purpose; the dtypes pandas.read_csv gives them are in FRAME_KINDS.
NUMERIC = ["bill length (mm)", "body.mass", "größe", "flag"]
CATEGORICAL = ["island name", "année", "is.adult", "zone"]
FEATURES = NUMERIC + CATEGORICAL
TARGET = "target"

#: What pandas.read_csv reads each generated feature column as (the tests check this, so the
#: "integer and boolean columns" cases really are integer and boolean columns).
FRAME_KINDS = {
    "bill length (mm)": "float",  # float with missing values
    "body.mass": "int",  # unique per row: a row key for the tests, never missing
    "größe": "int",
    "flag": "bool",  # boolean, used as numeric
    "island name": "text",  # text with missing values
    "année": "int",  # integers, used as categorical, never missing
    "is.adult": "bool",  # boolean, used as categorical
    "zone": "float",  # integers widened to float by missing values, used as categorical
}


def column_kind(series: pd.Series) -> str:
    """float/int/bool/text: how pandas typed a column (for checking FRAME_KINDS)."""
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    if pd.api.types.is_string_dtype(series):
        return "text"
    return str(series.dtype)


TARGET_KINDS = ("many_classes", "int_labels", "bool", "regression")
#: The exact class labels each classification target kind must produce.
EXPECTED_CLASSES: dict[str, list[Any]] = {
    "many_classes": sorted(f"class {i:02d}" for i in range(12)),
    "int_labels": [3, 7, 11],
    "bool": ["False", "True"],
}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def toml_dumps(doc: dict[str, Any]) -> str:
    """A small TOML writer for configs: scalars and lists, tables nested to any depth."""
    lines: list[str] = []

    def emit(table: dict[str, Any], prefix: str) -> None:
        for key, value in table.items():
            if not isinstance(value, dict):
                lines.append(f"{json.dumps(key)} = {toml_value(value)}")
        for key, value in table.items():
            if isinstance(value, dict):
                name = f"{prefix}.{key}" if prefix else key
                lines.append(f"\n[{name}]")
                emit(value, name)

    emit(doc, "")
    return "\n".join(lines) + "\n"


def base_config(
    *,
    data_path: str = "data.csv",
    target: str = TARGET,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    task: str = "classification",
    estimator: str = "decision_tree",
    params: dict[str, Any] | None = None,
    seed: int = 0,
    test_fraction: float = 0.25,
    name: str = "test-model",
) -> dict[str, Any]:
    """A valid config document (as a dict) for the generated data set."""
    model: dict[str, Any] = {"task": task, "estimator": estimator}
    if params:
        model["params"] = dict(params)
    return {
        "name": name,
        "version": "1",
        "data": {"path": data_path, "target": target},
        "features": {
            "numeric": list(NUMERIC if numeric is None else numeric),
            "categorical": list(CATEGORICAL if categorical is None else categorical),
        },
        "model": model,
        "split": {"test_fraction": test_fraction, "seed": seed},
    }


def generate_frame(n: int = 120, seed: int = 0, target_kind: str = "many_classes") -> pd.DataFrame:
    """A raw data set with every awkward column kind (as CSV it reads back as FRAME_KINDS)."""
    rng = np.random.default_rng(seed)
    bill = np.round(rng.normal(42.0, 5.0, n), 2)
    bill[rng.random(n) < 0.1] = np.nan
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], n).astype(object)
    island[rng.random(n) < 0.1] = None
    zone = rng.integers(1, 4, n).astype(float)
    zone[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame(
        {
            "bill length (mm)": bill,
            "body.mass": 3000 + rng.permutation(n),
            "größe": rng.integers(0, 5, n),
            "flag": rng.random(n) < 0.5,
            "island name": island,
            "année": rng.choice([2007, 2008, 2009], n),
            "is.adult": rng.random(n) < 0.5,
            "zone": zone,
        }
    )
    if target_kind == "many_classes":
        # the 12 classes equally often (10 times each in 120 rows): a stratified split is possible
        labels = np.arange(n) % 12
        frame[TARGET] = [f"class {i:02d}" for i in rng.permutation(labels)]
    elif target_kind == "int_labels":
        frame[TARGET] = rng.choice([3, 7, 11], n)
    elif target_kind == "bool":
        frame[TARGET] = rng.random(n) < 0.5
    elif target_kind == "regression":
        frame[TARGET] = np.round(
            3 * np.nan_to_num(bill, nan=42.0) + 0.01 * frame["body.mass"] + rng.normal(0, 1, n), 3
        )
    else:
        raise ValueError(target_kind)
    return frame


@pytest.fixture(scope="session")
def make_frame() -> Callable[..., pd.DataFrame]:
    """make_frame(n=120, seed=0, target_kind="many_classes") -> the raw generated DataFrame."""
    return generate_frame


@pytest.fixture(scope="session")
def make_project(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """make_project(frame, config=None, directory=None, config_text=None) -> config path.

    Writes `frame` as data.csv (no index) and the config (a dict, default `base_config()`, or
    raw `config_text`) as config.toml into `directory` (default: a fresh temporary folder).
    """

    def _make(
        frame: pd.DataFrame | None = None,
        config: dict[str, Any] | None = None,
        directory: Path | None = None,
        config_text: str | None = None,
    ) -> Path:
        folder = directory if directory is not None else tmp_path_factory.mktemp("project")
        folder.mkdir(parents=True, exist_ok=True)
        if frame is not None:
            frame.to_csv(folder / "data.csv", index=False)
        text = config_text if config_text is not None else toml_dumps(config or base_config())
        path = folder / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return _make


@pytest.fixture
def write_project(
    tmp_path: Path, make_project: Callable[..., Path], make_frame: Callable[..., pd.DataFrame]
) -> Callable[..., Path]:
    """write_project(config=None, frame=<generated>, config_text=None) -> config.toml path."""

    def _write(
        config: dict[str, Any] | None = None,
        frame: pd.DataFrame | None = None,
        config_text: str | None = None,
    ) -> Path:
        data = frame if frame is not None else make_frame()
        return make_project(data, config=config, directory=tmp_path, config_text=config_text)

    return _write


@pytest.fixture(scope="session")
def config_helpers() -> Any:
    """base_config, toml_dumps and the column lists, for tests that build configs."""

    return SimpleNamespace(
        base_config=base_config,
        toml_dumps=toml_dumps,
        NUMERIC=NUMERIC,
        CATEGORICAL=CATEGORICAL,
        FEATURES=FEATURES,
        TARGET=TARGET,
        FRAME_KINDS=FRAME_KINDS,
        column_kind=column_kind,
        EXPECTED_CLASSES=EXPECTED_CLASSES,
        REPO=REPO,
    )
