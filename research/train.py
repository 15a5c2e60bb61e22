"""`pipeport train`: config + raw data -> fitted pipeline and its artifacts.

Reproducible by construction: the split and every estimator are seeded from the config, n_jobs
is fixed, and the data file's sha256 is recorded (and checked when the config pins it).
"""

from __future__ import annotations

import json
import platform
import warnings
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from pipeport.research.config import TrainConfig
from pipeport.research.data import (
    RawData,
    classification_target,
    is_numeric_like,
    load_training_data,
    write_source_rows,
)
from pipeport.research.errors import DataError
from pipeport.research.pipeline import build_pipeline, build_preprocessor
from pipeport.research.steps import MISSING_CATEGORY, normalise_category

PIPELINE_FILE = "sklearn_pipeline.joblib"
HOLDOUT_FILE = "holdout.csv"
MANIFEST_FILE = "train_manifest.json"
METRICS_FILE = "metrics.json"

_PACKAGES = (
    "scikit-learn",
    "numpy",
    "pandas",
    "scipy",
    "joblib",
    "skl2onnx",
    "onnx",
    "onnxruntime",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    pipeline: Pipeline
    metrics: dict[str, float]
    manifest: dict[str, Any]


def split_rows(
    frame: pd.DataFrame, y: np.ndarray, config: TrainConfig
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Train and test row positions; stratified for classification when every class allows it."""
    positions = np.arange(len(frame))
    stratify = None
    note = None
    if config.model.task == "classification" and config.split.stratify is not False:
        _, counts = np.unique(y.astype(str), return_counts=True)
        n_test = int(np.ceil(config.split.test_fraction * len(frame)))
        if counts.min() >= 2 and n_test >= len(counts) and len(frame) - n_test >= len(counts):
            stratify = y.astype(str)
        elif config.split.stratify:
            raise DataError(
                "[split] stratify = true, but some class has fewer than 2 rows or the test split "
                "is smaller than the number of classes"
            )
        else:
            note = "split not stratified: some class has fewer than 2 rows"
    train_pos, test_pos = train_test_split(
        positions,
        test_size=config.split.test_fraction,
        random_state=config.split.seed,
        stratify=stratify,
    )
    return np.sort(train_pos), np.sort(test_pos), note


def evaluate(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, task: str) -> dict[str, float]:
    if task == "classification":
        predicted = pipeline.predict(X)
        proba = pipeline.predict_proba(X)
        return {
            "accuracy": float(skm.accuracy_score(y, predicted)),
            "f1_macro": float(skm.f1_score(y, predicted, average="macro", zero_division=0)),
            "log_loss": float(skm.log_loss(y, proba, labels=pipeline.classes_)),
        }
    predicted = pipeline.predict(X)
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))),
        "mae": float(skm.mean_absolute_error(y, predicted)),
        "r2": float(skm.r2_score(y, predicted)) if len(y) > 1 else float("nan"),
    }


def _diagnose(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, error: Exception) -> str:
    """Which [[steps]] step failed and why, in the config's terms (the step's name)."""
    data: Any = X
    for name, step in pipeline.steps[:-1]:
        try:
            data = step.fit_transform(data, y)
        except (ValueError, TypeError, KeyError) as exc:
            return f"step {name!r} ({type(step).__name__}) failed: {str(exc).splitlines()[0]}"
    if isinstance(data, pd.DataFrame):
        text = [c for c in data.columns if not is_numeric_like(data[c])]
        if text:
            return (
                f"column(s) {', '.join(map(repr, text))} still hold text when they reach the "
                "model: add an encoding step for them (one_hot_encoder, ordinal_encoder, "
                "rare_label_encoder, count_frequency_encoder, mean_encoder, value_mapping) or "
                "drop them (drop_features)"
            )
    return f"the model failed to fit: {str(error).splitlines()[0]}"


def feature_schema(frame: pd.DataFrame, config: TrainConfig) -> list[dict[str, Any]]:
    """What each raw feature column looked like in the training rows."""
    if config.steps:
        return [_column_schema(frame[c]) for c in frame.columns if c != config.data.target]
    schema: list[dict[str, Any]] = []
    for column in config.features.numeric:
        series = frame[column]
        values = pd.to_numeric(series.astype("float64") if is_numeric_like(series) else series)
        finite = values.dropna()
        schema.append(
            {
                "name": column,
                "kind": "numeric",
                "dtype": str(series.dtype),
                "missing": int(series.isna().sum()),
                "min": float(finite.min()) if len(finite) else None,
                "max": float(finite.max()) if len(finite) else None,
            }
        )
    for column in config.features.categorical:
        series = frame[column]
        seen = sorted({normalise_category(v) for v in series.tolist()} - {MISSING_CATEGORY})
        schema.append(
            {
                "name": column,
                "kind": "categorical",
                "dtype": str(series.dtype),
                "missing": int(series.isna().sum()),
                "categories": seen,
            }
        )
    return schema


def _column_schema(series: pd.Series) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": str(series.name),
        "dtype": str(series.dtype),
        "missing": int(series.isna().sum()),
    }
    if is_numeric_like(series):
        finite = pd.to_numeric(series.astype("float64")).dropna()
        entry["min"] = float(finite.min()) if len(finite) else None
        entry["max"] = float(finite.max()) if len(finite) else None
    else:
        entry["categories"] = sorted(
            {normalise_category(v) for v in series.tolist()} - {MISSING_CATEGORY}
        )
    return entry


def train(config: TrainConfig, out_dir: Path, log: Any = print) -> TrainResult:
    """Fit the pipeline for `config` and write its artifacts to `out_dir`."""
    raw: RawData = load_training_data(config)
    frame = raw.frame
    features = [c for c in frame.columns if c != config.data.target]
    target_col = config.data.target
    task = config.model.task
    log(
        f"read {raw.rows_read} rows from {config.data.path.name} (sha256 {raw.sha256[:12]}…); "
        f"dropped {raw.rows_missing_target} with a missing target"
    )
    target = frame[target_col]
    y = classification_target(target) if task == "classification" else target.to_numpy(np.float64)
    train_pos, test_pos, note = split_rows(frame, y, config)
    if note:
        log(note)
    X_train, X_test = frame.iloc[train_pos][features], frame.iloc[test_pos][features]
    y_train, y_test = y[train_pos], y[test_pos]

    width = None
    if config.features.select_k_best is not None:
        width = (
            build_preprocessor(list(config.features.numeric), list(config.features.categorical))
            .fit_transform(X_train)
            .shape[1]
        )
    pipeline = build_pipeline(config, n_features_out=width)
    log(
        f"fitting {config.model.estimator} ({type(pipeline[-1]).__name__}) on {len(train_pos)} "
        f"rows, {len(features)} raw features"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            pipeline.fit(X_train, y_train)
        except (ValueError, TypeError, KeyError) as exc:
            if not config.steps:
                raise
            raise DataError(_diagnose(pipeline, X_train, y_train, exc)) from None
    fit_warnings = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    for message in fit_warnings:
        log(f"warning during fit: {message}")
    metrics = evaluate(pipeline, X_test, y_test, task)

    out_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out_dir / PIPELINE_FILE)
    # The held-out rows exactly as in the source: same columns and values, original row order.
    write_source_rows(
        config.data.path, raw.source_rows[test_pos], [*features, target_col], out_dir / HOLDOUT_FILE
    )
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    manifest: dict[str, Any] = {
        "name": config.name,
        "version": config.version,
        "config": {"path": str(config.source), "sha256": config.sha256, "content": config.raw},
        "data": {
            "path": str(config.data.path),
            "sha256": raw.sha256,
            "rows_read": raw.rows_read,
            "rows_missing_target": raw.rows_missing_target,
            "rows_used": len(frame),
            "rows_train": len(train_pos),
            "rows_test": len(test_pos),
        },
        "task": task,
        "target": target_col,
        "estimator": {"name": config.model.estimator, "class": type(pipeline[-1]).__name__},
        "steps": [
            {"name": name, "class": type(step).__name__} for name, step in pipeline.steps[:-1]
        ],
        "features": feature_schema(frame.iloc[train_pos], config),
        "classes": [c.item() if hasattr(c, "item") else c for c in pipeline.classes_]
        if task == "classification"
        else None,
        # the random_state the estimator was built with: [model.params] may override the seed
        "seeds": {
            "split": config.split.seed,
            "estimator_random_state": pipeline[-1].get_params().get("random_state"),
        },
        "split_note": note,
        "fit_warnings": fit_warnings,
        "packages": package_versions(),
        "metrics": metrics,
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return TrainResult(out_dir, pipeline, metrics, manifest)
