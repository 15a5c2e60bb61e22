"""`pipeport replay`: equivalence monitoring. The raw rows production logged go to the research
pipeline (scikit-learn) and/or another ONNX model, and what each returns is compared, row by
row, with what production answered, with the export gate's tolerances (export.parity.compare:
labels equal, probabilities within 1e-6, regression within 1e-6 relative, an anomaly model's
labels (-1, 1) equal and scores within 1e-6 absolute).

Production's answers travelled as JSON, where a non-finite number is null; the target's are
compared as JSON would carry them, as the parity harness does for its HTTP runtime. Rows a target
refuses (scikit-learn raising on a value, another model's contract refusing it) are set aside and
listed, never compared. The drift summary counts, per raw column, what the server's /metrics
counts (serving.drift, the same rules) over the logged rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeport.contract import raw_rows_to_feeds
from pipeport.errors import RawInputError
from pipeport.export.parity import ParityReport, compare
from pipeport.monitor.logs import LogError, LoggedRow, PredictionLogs, read_logs
from pipeport.monitor.scoring import (
    TASK_WORDS,
    Scored,
    logged_arrays,
    rows_to_frame,
    score_with_onnx,
    score_with_sklearn,
)
from pipeport.monitor.scoring import take as take_rows
from pipeport.schema import ModelSchema
from pipeport.serving.drift import column_rules, count_drift

#: Rows outside tolerance listed one by one in report.json (all are counted).
MAX_LISTED = 1000
PIPELINE_FILE = "sklearn_pipeline.joblib"
MODEL_FILE = "pipeline.onnx"


@dataclass(frozen=True)
class Target:
    """What the logged rows are replayed against."""

    kind: str  # "scikit-learn" or "onnx"
    path: Path

    @property
    def label(self) -> str:
        return f"{self.kind}: {self.path}"


def resolve_target(text: str | Path) -> Target:
    """ARTIFACT_DIR (its scikit-learn pipeline), PIPELINE.joblib or OTHER.onnx."""
    path = Path(text)
    if path.is_dir():
        pipeline = path / PIPELINE_FILE
        if not pipeline.is_file():
            raise LogError(
                f"{path} has no {PIPELINE_FILE}: pass the artifacts folder of `pipeport train`, "
                "a .joblib pipeline or an .onnx file"
            )
        return Target("scikit-learn", pipeline)
    if not path.is_file():
        raise LogError(f"{path} does not exist")
    if path.suffix == ".onnx":
        return Target("onnx", path)
    if path.suffix in (".joblib", ".pkl", ".pickle"):
        return Target("scikit-learn", path)
    raise LogError(f"{path}: expected an artifacts folder, a .joblib pipeline or an .onnx file")


@dataclass
class TargetResult:
    target: Target
    status: str  # "passed", "failed" or "error"
    reason: str = ""
    report: ParityReport | None = None
    compared: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    #: (production, target) values plotted: probabilities, predictions or anomaly scores of the
    #: compared rows.
    values: tuple[np.ndarray, np.ndarray] | None = None


@dataclass
class ReplayRun:
    logs: PredictionLogs
    model: dict[str, Any]
    schema: ModelSchema
    results: list[TargetResult]
    drift: dict[str, dict[str, int]]
    schema_source: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.status == "passed" for r in self.results)


def choose_model(logs: PredictionLogs, sha256_prefix: str | None) -> PredictionLogs:
    """The log's rows of one model: the only one there is, or the one `sha256_prefix` picks."""
    if sha256_prefix:
        logs = logs.only(sha256_prefix)
        if not logs.rows:
            raise LogError(f"no logged request of a model whose sha256 starts with {sha256_prefix}")
    counts = logs.model_counts()
    if len(counts) > 1:
        listed = "; ".join(
            f"{sha[:12]} ({_name(logs, sha)}): {n} rows" for sha, n in sorted(counts.items())
        )
        raise LogError(
            f"the logs hold requests of {len(counts)} models ({listed}); pick one with "
            "--model-sha256 PREFIX"
        )
    if not logs.rows:
        raise LogError("the logs hold no request to replay")
    return logs


def _name(logs: PredictionLogs, sha: str) -> str:
    document = logs.models.get(sha) or {}
    return f"{document.get('name', '?')} v{document.get('version', '?')}"


def production_schema(logs: PredictionLogs, targets: list[Target]) -> tuple[ModelSchema, str]:
    """The served model's schema: from models/<sha256>.json beside the logs, else from a target
    that has one (an ONNX file, or the artifacts folder's pipeline.onnx)."""
    sha = logs.rows[0].model_sha256
    schema = logs.schema(sha)
    if schema is not None:
        return schema, f"models/{sha}.json"
    from pipeport.serving.model import load_model

    for target in targets:
        candidate = target.path if target.kind == "onnx" else target.path.parent / MODEL_FILE
        if candidate.is_file():
            return load_model(candidate).schema, str(candidate)
    raise LogError(
        f"no models/{sha}.json beside the logs, and no ONNX file among the targets to read the "
        "served model's columns from; copy the log folder whole (models/ included)"
    )


def run_replay(
    paths: list[Path], targets: list[Target], sha256_prefix: str | None = None
) -> ReplayRun:
    logs = choose_model(read_logs(paths), sha256_prefix)
    schema, source = production_schema(logs, targets)
    rows = [r.raw for r in logs.rows]
    production = logged_arrays([r.prediction for r in logs.rows], schema)
    results = [_replay_one(t, logs.rows, rows, production, schema) for t in targets]
    first = logs.rows[0]
    model = {"sha256": first.model_sha256, **_identity(logs, first.model_sha256, schema)}
    return ReplayRun(logs, model, schema, results, drift_summary(rows, schema), source)


def _identity(logs: PredictionLogs, sha: str, schema: ModelSchema) -> dict[str, Any]:
    document = logs.models.get(sha) or {}
    return {
        "name": document.get("name", schema.name),
        "version": document.get("version", schema.version),
    }


def drift_summary(rows: list[dict[str, Any]], schema: ModelSchema) -> dict[str, dict[str, int]]:
    """Per raw column, what /metrics counts (serving.drift) over these rows."""
    known = set(schema.input_names) | set(schema.unused_columns)
    projected = [{k: v for k, v in row.items() if k in known} for row in rows]
    try:
        feeds = raw_rows_to_feeds(projected, schema)
    except RawInputError as exc:  # rows this schema refuses (a fallback schema): left out
        bad = {e.row for e in exc.errors}
        feeds = raw_rows_to_feeds([r for i, r in enumerate(projected) if i not in bad], schema)
    return count_drift(feeds, column_rules(schema))


def _load(target: Target) -> Any:
    if target.kind == "onnx":
        from pipeport.serving.model import load_model

        return load_model(target.path)
    import joblib

    return joblib.load(target.path)


def _replay_one(
    target: Target,
    logged: list[LoggedRow],
    rows: list[dict[str, Any]],
    production: dict[str, np.ndarray],
    schema: ModelSchema,
) -> TargetResult:
    try:
        model = _load(target)
        if target.kind == "onnx" and model.schema.task != schema.task:
            return TargetResult(
                target,
                "error",
                f"it is {TASK_WORDS.get(model.schema.task, model.schema.task)} and the served "
                f"model {TASK_WORDS.get(schema.task, schema.task)}: their outputs cannot be "
                "compared",
            )
        scored: Scored = (
            score_with_onnx(model, rows)
            if target.kind == "onnx"
            else score_with_sklearn(model, rows, schema)
        )
    except Exception as exc:  # a target that cannot run is a result, not a crash
        return TargetResult(target, "error", f"{type(exc).__name__}: {exc}"[:2000])
    refused = [{**_where(logged[i]), "why": why} for i, why in scored.refused[:MAX_LISTED]]
    if not scored.kept:
        return TargetResult(target, "error", "it refused every logged row", refused=refused)
    actual = take_rows(production, scored.kept)
    reference = {  # as JSON carried production's answer: a non-finite number is null
        k: np.where(np.isfinite(v), v, np.nan) if v.dtype.kind == "f" else v
        for k, v in scored.outputs.items()
    }
    frame = rows_to_frame([rows[i] for i in scored.kept], schema)
    report = compare(schema.task, reference, actual, frame)
    mismatches = [
        _mismatch(logged[scored.kept[r]], r, schema, reference, actual)
        for r in report.outside[:MAX_LISTED]
    ]
    key = plotted(schema.task, actual)
    values = None
    if key in actual and key in reference and actual[key].shape == reference[key].shape:
        values = (np.asarray(actual[key], np.float64), np.asarray(reference[key], np.float64))
    reason = f"{len(scored.refused)} rows refused by it (not compared)" if scored.refused else ""
    return TargetResult(
        target,
        "passed" if report.passed else "failed",
        reason,
        report,
        len(scored.kept),
        refused,
        mismatches,
        values,
    )


def plotted(task: str, outputs: dict[str, np.ndarray]) -> str:
    """The output compared as numbers: an anomaly model's score, a classifier's probabilities
    (when it has them), a regressor's prediction."""
    if task == "anomaly":
        return "score"
    return "probabilities" if "probabilities" in outputs else "prediction"


def _where(row: LoggedRow) -> dict[str, Any]:
    return {"request_id": row.request_id, "row_in_request": row.row_in_request, "log": row.where}


def _mismatch(
    row: LoggedRow,
    r: int,
    schema: ModelSchema,
    reference: dict[str, np.ndarray],
    actual: dict[str, np.ndarray],
) -> dict[str, Any]:
    entry = {**_where(row), "raw": row.raw}
    if schema.task == "anomaly":  # labels -1 (outlier) / 1 (inlier), and score_samples
        entry["production_label"] = _plain(actual["label"][r])
        entry["target_label"] = _plain(reference["label"][r])
        entry["production_score"] = _number(actual["score"][r])
        entry["target_score"] = _number(reference["score"][r])
        error = abs(float(actual["score"][r]) - float(reference["score"][r]))
        entry["abs_score_error"] = math.inf if math.isnan(error) else error
    elif schema.task == "classification":
        entry["production_label"] = _plain(actual["label"][r])
        entry["target_label"] = _plain(reference["label"][r])
        if "probabilities" in actual and "probabilities" in reference:
            diff = np.abs(actual["probabilities"][r] - reference["probabilities"][r])
            entry["max_abs_probability_error"] = float(np.nan_to_num(diff, nan=np.inf).max())
    else:
        entry["production"] = float(actual["prediction"][r])
        entry["target"] = float(reference["prediction"][r])
    return entry


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _number(value: Any) -> float | None:
    """A score as JSON carried it: None for NaN (production's null)."""
    number = float(value)
    return None if math.isnan(number) else number
