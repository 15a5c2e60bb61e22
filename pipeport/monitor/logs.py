"""Prediction logs as written by `pipeport serve --log-predictions DIR` (docs/operations.md):
JSON Lines files, one object per answered request, and `models/<sha256>.json` beside them.

Reading is forgiving where a crash leaves its mark: a line that is not complete JSON (the last
line of a worker killed mid-write) is skipped and counted, never fatal. Each logged request
becomes one `LoggedRow` per row it held, which names where it came from (request id, row in the
request, file and line), so a report can point at the request a client sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeport.schema import MetadataError, ModelSchema

MODELS_FOLDER = "models"


class LogError(ValueError):
    """The logs cannot be read as asked; the message says which file and what to do."""


@dataclass(frozen=True)
class LoggedRow:
    request_id: str
    row_in_request: int
    file: str
    line: int
    time: str
    model_sha256: str
    raw: dict[str, Any]
    prediction: dict[str, Any]
    #: The shadow model's prediction for this row, its error, or None (no shadow logged).
    shadow: dict[str, Any] | None = None
    shadow_sha256: str = ""
    shadow_error: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class PredictionLogs:
    rows: list[LoggedRow]
    files: list[Path]
    requests: int
    #: Lines that are not a complete log entry: (file:line, why).
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: models/<sha256>.json documents found beside the logs, by sha256.
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    def model_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.model_sha256] = counts.get(row.model_sha256, 0) + 1
        return counts

    def schema(self, sha256: str) -> ModelSchema | None:
        document = self.models.get(sha256)
        if document is None:
            return None
        try:
            return ModelSchema.from_metadata(document["metadata"], f"models/{sha256}.json")
        except (KeyError, MetadataError) as exc:
            raise LogError(f"models/{sha256}.json is not a model document: {exc}") from None

    def only(self, sha256_prefix: str) -> PredictionLogs:
        """The rows of the model(s) whose sha256 starts with `sha256_prefix`."""
        rows = [r for r in self.rows if r.model_sha256.startswith(sha256_prefix)]
        requests = len({(r.file, r.line) for r in rows})
        return PredictionLogs(rows, self.files, requests, self.skipped, self.models)


def log_files(paths: Sequence[Path]) -> list[Path]:
    """The .jsonl files of `paths` (folders are searched, not recursively), in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.jsonl"))
        elif path.is_file():
            files.append(path)
        else:
            raise LogError(f"{path} does not exist")
    if not files:
        shown = ", ".join(str(p) for p in paths)
        raise LogError(
            f"no prediction logs (*.jsonl) in {shown}; start the server with "
            "--log-predictions DIR and pass DIR"
        )
    return files


def read_logs(paths: Sequence[Path]) -> PredictionLogs:
    """Every logged row of the files in `paths` (files or folders), with the model documents
    found in the `models/` folder beside them."""
    files = log_files(paths)
    rows: list[LoggedRow] = []
    skipped: list[tuple[str, str]] = []
    requests = 0
    for path in files:
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not text.strip():
                continue
            try:
                entry = json.loads(text)
                new = list(_rows_of(entry, path.name, number))
            except (ValueError, KeyError, TypeError) as exc:
                skipped.append((f"{path.name}:{number}", _why(exc)))
                continue
            rows += new
            requests += 1
    models: dict[str, dict[str, Any]] = {}
    for folder in {f.parent / MODELS_FOLDER for f in files}:
        for document in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            try:
                models[document.stem] = json.loads(document.read_text(encoding="utf-8"))
            except ValueError:
                continue
    return PredictionLogs(rows, files, requests, skipped, models)


def _why(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not complete JSON ({exc.msg}): a line cut short when a worker died?"
    return f"not a log entry ({type(exc).__name__}: {exc})"


def _rows_of(entry: Any, file: str, line: int) -> Iterable[LoggedRow]:
    if not isinstance(entry, dict):
        raise TypeError("a log line must be a JSON object")
    raw_rows, predictions = entry["rows"], entry["predictions"]
    if not isinstance(raw_rows, list) or not isinstance(predictions, list):
        raise TypeError('"rows" and "predictions" must be arrays')
    if len(raw_rows) != len(predictions):
        raise ValueError(f"{len(raw_rows)} rows but {len(predictions)} predictions")
    shadow = entry.get("shadow")
    shadow_predictions: list[Any] | None = None
    shadow_sha, shadow_error = "", ""
    if isinstance(shadow, dict):
        shadow_sha = str((shadow.get("model") or {}).get("sha256", ""))
        if isinstance(shadow.get("predictions"), list):
            shadow_predictions = shadow["predictions"]
        else:
            shadow_error = str(shadow.get("error", "no predictions"))
    for i, (raw, prediction) in enumerate(zip(raw_rows, predictions, strict=True)):
        yield LoggedRow(
            request_id=str(entry["id"]),
            row_in_request=i,
            file=file,
            line=line,
            time=str(entry.get("time", "")),
            model_sha256=str(entry["model"]["sha256"]),
            raw=raw,
            prediction=prediction,
            shadow=shadow_predictions[i] if shadow_predictions is not None else None,
            shadow_sha256=shadow_sha,
            shadow_error=shadow_error,
        )
