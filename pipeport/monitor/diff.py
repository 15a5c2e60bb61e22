"""`pipeport diff`: a differential test between two model versions on real rows.

Both ONNX files score the same raw rows (a CSV/Parquet file, or the raw rows of prediction
logs), each by its own contract; or, with a shadow log (`pipeport serve NEW --shadow OLD`), the
two predictions logged for each request are compared as they were answered. Reported: label
agreement, a confusion table old vs new (the flips, per class), the distribution of probability
or prediction shifts, and the rows that moved most. An anomaly model (IsolationForest) is
compared as a classifier whose classes are -1 (outlier) and 1 (inlier), and its shift is
|Δ score| (score_samples, in [-1, 0]). Thresholds (`max_label_changes`,
`max_abs_shift`) turn it into a gate for CI.

Versions whose inputs differ are compared on what both accept: each model takes the columns it
knows from each row, and a row either refuses (a column it needs that the row lacks, a value its
contract refuses) is left out and counted, with the columns that differ named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeport.contract import is_missing
from pipeport.monitor.logs import LogError, PredictionLogs, read_logs
from pipeport.monitor.scoring import TASK_WORDS, logged_arrays, score_with_onnx, take
from pipeport.schema import ModelSchema

MOVED_ROWS = 20
#: Bins of |Δ probability| (upper bounds); a probability moves by at most 1, and so does an
#: anomaly score (in [-1, 0]).
PROBABILITY_BINS = (0.0, 1e-6, 1e-3, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0)
#: Tasks whose versions answer labels: label changes, a confusion table, per-class flips.
LABEL_TASKS = ("classification", "anomaly")
#: What an anomaly model's labels mean, for people reading a report.
ANOMALY_LABELS = {"-1": "outlier", "1": "inlier"}


@dataclass(frozen=True)
class Thresholds:
    """CI limits: None means not checked. `max_label_changes` is a fraction (from "1%") or a
    number of rows (from "5"), as `max_label_changes_is_fraction` says."""

    max_label_changes: float | None = None
    max_label_changes_is_fraction: bool = True
    max_abs_shift: float | None = None


def parse_label_changes(text: str) -> tuple[float, bool]:
    """ "1%" → (0.01, fraction); "5" → (5, rows)."""
    text = text.strip()
    try:
        if text.endswith("%"):
            value = float(text[:-1]) / 100
            if not 0 <= value <= 1:
                raise ValueError
            return value, True
        count = int(text)
        if count < 0:
            raise ValueError
        return float(count), False
    except ValueError:
        raise ValueError(
            f"expected a percentage (1%, 0.5%) or a number of rows (5), got {text!r}"
        ) from None


@dataclass
class Version:
    label: str
    name: str
    version: str
    sha256: str
    schema: ModelSchema


class TaskMismatchError(LogError):
    """The two versions answer different tasks (an anomaly model and a classifier, say): their
    outputs cannot be compared."""


def check_tasks(old: Version, new: Version) -> None:
    """Refuse versions of different tasks, before anything is scored."""
    if old.schema.task != new.schema.task:
        raise TaskMismatchError(
            f"cannot compare models of different tasks: {old.label} is "
            f"{_task_words(old.schema.task)}, {new.label} is {_task_words(new.schema.task)}; "
            "pipeport diff compares two versions of one model"
        )


def _task_words(task: str) -> str:
    return TASK_WORDS.get(task, f"a {task} model")


@dataclass
class DiffRun:
    old: Version
    new: Version
    task: str
    source: str
    rows: int
    compared: int
    schema_changes: dict[str, list[str]]
    refused: dict[str, list[dict[str, Any]]]
    thresholds: Thresholds
    label_changes: int = 0
    confusion_labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    per_class: list[dict[str, Any]] = field(default_factory=list)
    shift_name: str = ""
    shifts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    moved: list[dict[str, Any]] = field(default_factory=list)
    #: (old, new) values for the scatter plot: probabilities of common classes, predictions or
    #: anomaly scores.
    values: tuple[np.ndarray, np.ndarray] | None = None
    #: Log lines that could not be read (a line cut short by a killed worker): (where, why).
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        return 1.0 - self.label_changes / self.compared if self.compared else 1.0

    @property
    def max_shift(self) -> float:
        return float(np.nanmax(self.shifts)) if self.shifts.size else 0.0

    def violations(self) -> list[str]:
        """Thresholds exceeded, in words; empty when the new version passes."""
        out = []
        t = self.thresholds
        if self.compared == 0:
            out.append("no row was accepted by both versions: nothing was compared")
        if t.max_label_changes is not None and self.task in LABEL_TASKS:
            allowed = (
                t.max_label_changes * self.compared
                if t.max_label_changes_is_fraction
                else t.max_label_changes
            )
            if self.label_changes > allowed + 1e-9:
                limit = (
                    f"{t.max_label_changes * 100:g}% of {self.compared} rows ({allowed:.2f})"
                    if t.max_label_changes_is_fraction
                    else f"{t.max_label_changes:.0f} rows"
                )
                noun = "label" if self.label_changes == 1 else "labels"
                out.append(
                    f"{self.label_changes} {noun} changed "
                    f"({self.label_changes / max(self.compared, 1):.2%}); the limit is {limit}"
                )
        if t.max_abs_shift is not None and self.max_shift > t.max_abs_shift:
            over = int((self.shifts > t.max_abs_shift).sum())
            out.append(
                f"{self.shift_name} reached {self.max_shift:.4g} ({over} rows above the limit "
                f"{t.max_abs_shift:g})"
            )
        return out

    @property
    def passed(self) -> bool:
        return not self.violations()


def schema_changes(old: ModelSchema, new: ModelSchema) -> dict[str, list[str]]:
    """Which raw columns differ between the versions' inputs, and how."""
    old_specs = {s.name: s for s in old.inputs}
    new_specs = {s.name: s for s in new.inputs}
    changed = []
    for name in old_specs.keys() & new_specs.keys():
        a, b = old_specs[name], new_specs[name]
        what = []
        if a.kind != b.kind:
            what.append(f"kind {a.kind} → {b.kind}")
        if a.missing_allowed != b.missing_allowed:
            what.append(f"missing allowed {a.missing_allowed} → {b.missing_allowed}")
        if a.unknown_categories != b.unknown_categories:
            what.append(f"unseen values {a.unknown_categories} → {b.unknown_categories}")
        if set(a.categories) != set(b.categories):
            what.append("categories differ")
        if what:
            changed.append(f"{name} ({', '.join(what)})")
    return {
        "only_old": sorted(old_specs.keys() - new_specs.keys()),
        "only_new": sorted(new_specs.keys() - old_specs.keys()),
        "changed": sorted(changed),
    }


def _version(model: Any, label: str) -> Version:
    schema = model.schema
    return Version(label, schema.name, schema.version, model.sha256, schema)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Raw rows of a CSV or Parquet file, read with pandas as training read its data."""
    import pandas as pd

    frame = pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)
    columns = [str(c) for c in frame.columns]
    return [
        {
            c: None if is_missing(v) else (v.item() if hasattr(v, "item") else v)
            for c, v in zip(columns, values, strict=True)
        }
        for values in frame.itertuples(index=False, name=None)
    ]


def run_diff(old_path: Path, new_path: Path, data: list[Path], thresholds: Thresholds) -> DiffRun:
    """Both ONNX files on the rows of `data` (one CSV/Parquet file, or prediction logs)."""
    from pipeport.serving.model import load_model

    old_model, new_model = load_model(old_path), load_model(new_path)
    old, new = _version(old_model, str(old_path)), _version(new_model, str(new_path))
    check_tasks(old, new)
    skipped: list[tuple[str, str]] = []
    if len(data) == 1 and data[0].is_file() and data[0].suffix in (".csv", ".parquet", ".pq"):
        rows = read_rows(data[0])
        where = [f"{data[0].name} row {i}" for i in range(len(rows))]
        source = str(data[0])
    else:
        logs = read_logs(data)
        skipped = logs.skipped
        rows = [r.raw for r in logs.rows]
        where = [f"{r.request_id} row {r.row_in_request} ({r.where})" for r in logs.rows]
        source = f"{len(rows)} logged rows of {logs.requests} requests in " + ", ".join(
            str(p) for p in data
        )
    scored_old, scored_new = score_with_onnx(old_model, rows), score_with_onnx(new_model, rows)
    refused = {
        "old": [{"where": where[i], "why": why} for i, why in scored_old.refused],
        "new": [{"where": where[i], "why": why} for i, why in scored_new.refused],
    }
    both = sorted(set(scored_old.kept) & set(scored_new.kept))
    position_old = {row: k for k, row in enumerate(scored_old.kept)}
    position_new = {row: k for k, row in enumerate(scored_new.kept)}
    out_old = take(scored_old.outputs, [position_old[i] for i in both]) if both else {}
    out_new = take(scored_new.outputs, [position_new[i] for i in both]) if both else {}
    run = _compare(old, new, source, rows, where, both, out_old, out_new, refused, thresholds)
    run.skipped = skipped
    return run


def run_shadow_diff(paths: list[Path], thresholds: Thresholds) -> DiffRun:
    """The served model (new) against its shadow (old), as both were logged."""
    logs = read_logs(paths)
    shadowed = [r for r in logs.rows if r.shadow_sha256]
    if not shadowed:
        raise LogError(
            "no shadow predictions in these logs; serve with --shadow OLD.onnx (and "
            "--log-predictions) first, or pass OLD.onnx NEW.onnx --data LOGS"
        )
    shas = {(r.shadow_sha256, r.model_sha256) for r in shadowed}
    if len(shas) > 1:
        raise LogError(
            "the logs hold several served/shadow pairs of models; pass the files of one pair"
        )
    shadow_sha, served_sha = shas.pop()
    old = _logged_version(logs, shadow_sha, "shadow (logged)")
    new = _logged_version(logs, served_sha, "served (logged)")
    check_tasks(old, new)
    where = [f"{r.request_id} row {r.row_in_request} ({r.where})" for r in shadowed]
    refused = {
        "old": [
            {"where": where[i], "why": r.shadow_error}
            for i, r in enumerate(shadowed)
            if r.shadow is None
        ],
        "new": [],
    }
    both = [i for i, r in enumerate(shadowed) if r.shadow is not None]
    shadow_predictions = [p for p in (shadowed[i].shadow for i in both) if p is not None]
    out_old = logged_arrays(shadow_predictions, old.schema)
    out_new = logged_arrays([shadowed[i].prediction for i in both], new.schema)
    source = f"{len(shadowed)} logged rows with a shadow prediction, in " + ", ".join(
        str(p) for p in paths
    )
    rows = [r.raw for r in shadowed]
    run = _compare(old, new, source, rows, where, both, out_old, out_new, refused, thresholds)
    run.skipped = logs.skipped
    return run


def _logged_version(logs: PredictionLogs, sha: str, label: str) -> Version:
    schema = logs.schema(sha)
    if schema is None:
        raise LogError(f"no models/{sha}.json beside the logs: copy the log folder whole")
    document = logs.models[sha]
    return Version(label, str(document["name"]), str(document["version"]), sha, schema)


def _compare(
    old: Version,
    new: Version,
    source: str,
    rows: list[dict[str, Any]],
    where: list[str],
    both: list[int],
    out_old: dict[str, np.ndarray],
    out_new: dict[str, np.ndarray],
    refused: dict[str, list[dict[str, Any]]],
    thresholds: Thresholds,
) -> DiffRun:
    check_tasks(old, new)
    run = DiffRun(
        old=old,
        new=new,
        task=old.schema.task,
        source=source,
        rows=len(rows),
        compared=len(both),
        schema_changes=schema_changes(old.schema, new.schema),
        refused=refused,
        thresholds=thresholds,
    )
    if not both:
        return run
    if run.task in LABEL_TASKS:
        _labels(run, out_old, out_new)
    value = {"anomaly": "score", "regression": "prediction"}.get(run.task)
    if value is not None:  # the shift is the change of the one value per row
        a = np.asarray(out_old[value], np.float64).ravel()
        b = np.asarray(out_new[value], np.float64).ravel()
        run.shifts = _shifts(a, b)
        run.shift_name = f"|Δ {value}|"
        run.values = (a, b)
    # flipped labels first, then by how far the row moved
    flipped = np.array([_flipped(run, out_old, out_new, k) for k in range(len(both))])
    order = np.lexsort((-run.shifts, ~flipped))[:MOVED_ROWS]
    for k in order:
        if run.shifts[k] <= 0 and not flipped[k]:
            continue
        i = both[int(k)]
        entry: dict[str, Any] = {"where": where[i], "shift": float(run.shifts[k])}
        if run.task in LABEL_TASKS:
            entry["old_label"] = str(out_old["label"][k])
            entry["new_label"] = str(out_new["label"][k])
        if run.task == "anomaly":
            entry["old_score"] = _number(out_old["score"][k])
            entry["new_score"] = _number(out_new["score"][k])
        elif run.task == "regression":
            entry["old"] = float(out_old["prediction"][k])
            entry["new"] = float(out_new["prediction"][k])
        entry["raw"] = rows[i]
        run.moved.append(entry)
    return run


def _flipped(run: DiffRun, old: dict[str, np.ndarray], new: dict[str, np.ndarray], k: int) -> bool:
    return run.task in LABEL_TASKS and str(old["label"][k]) != str(new["label"][k])


def _shifts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|b - a| per row: 0 where both are missing (NaN), infinite where one is."""
    with np.errstate(invalid="ignore"):
        shifts = np.where(np.isnan(a) & np.isnan(b), 0.0, np.abs(b - a))
    return np.nan_to_num(shifts, nan=math.inf)


def _number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def class_words(task: str, label: str) -> str:
    """A class as a person reads it: an anomaly model's "-1" is "-1 (outlier)"."""
    if task == "anomaly" and label in ANOMALY_LABELS:
        return f"{label} ({ANOMALY_LABELS[label]})"
    return label


def _labels(run: DiffRun, out_old: dict[str, np.ndarray], new_out: dict[str, np.ndarray]) -> None:
    labels_old = np.asarray(out_old["label"]).astype(str).ravel()
    labels_new = np.asarray(new_out["label"]).astype(str).ravel()
    run.label_changes = int((labels_old != labels_new).sum())
    classes = [str(c) for c in run.old.schema.classes]
    classes += [str(c) for c in run.new.schema.classes if str(c) not in classes]
    classes += sorted(set(labels_old.tolist() + labels_new.tolist()) - set(classes))
    index = {c: i for i, c in enumerate(classes)}
    table = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for a, b in zip(labels_old, labels_new, strict=True):
        table[index[a], index[b]] += 1
    run.confusion_labels = classes
    run.confusion = table.tolist()
    run.per_class = [
        {
            "class": c,
            "old_rows": int(table[i].sum()),
            "new_rows": int(table[:, i].sum()),
            "kept": int(table[i, i]),
            "lost": int(table[i].sum() - table[i, i]),
            "gained": int(table[:, i].sum() - table[i, i]),
        }
        for i, c in enumerate(classes)
    ]
    common = [
        c
        for c in (str(x) for x in run.old.schema.classes)
        if c in set(map(str, run.new.schema.classes))
    ]
    if "probabilities" in out_old and "probabilities" in new_out and common:
        cols_old = [list(map(str, run.old.schema.classes)).index(c) for c in common]
        cols_new = [list(map(str, run.new.schema.classes)).index(c) for c in common]
        p_old = np.asarray(out_old["probabilities"], np.float64)[:, cols_old]
        p_new = np.asarray(new_out["probabilities"], np.float64)[:, cols_new]
        diff = np.nan_to_num(np.abs(p_new - p_old), nan=math.inf)
        run.shifts = diff.max(axis=1)
        run.shift_name = "max |Δ probability| over the classes both have"
        run.values = (p_old.ravel(), p_new.ravel())
    else:  # labels only: a flip is a shift of 1
        run.shifts = (labels_old != labels_new).astype(np.float64)
        run.shift_name = "label changed (1) or not (0)"
