"""The parity gate: scikit-learn and the ONNX graph, compared output by output, row by row.

Tolerances (docs/support.md): labels equal on every row; probabilities within 1e-6 absolute;
regression within 1e-6 relative (relative to max(|value|, 1e-6 x the largest |value| compared),
so a prediction near zero is not judged against its own rounding noise). A near-tie
(scikit-learn's two largest probabilities within NEAR_TIE of each other) is counted separately:
a label that flips there is still a failure, but the report says it was a tie-break, not a wrong
graph.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeport.export.schema import CATEGORICAL, PipelineSchema, RawInput
from pipeport.research.steps import normalise_category

PROBA_ATOL = 1e-6
REGRESSION_RTOL = 1e-6
NEAR_TIE = 1e-9
WORST_ROWS = 10


@dataclass
class ParityReport:
    passed: bool
    task: str
    rows: int
    rows_outside_tolerance: int = 0
    label_mismatches: int = 0
    near_ties: int = 0
    near_tie_mismatches: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    tolerances: dict[str, float] = field(default_factory=dict)
    worst: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The part recorded in the ONNX metadata (no raw rows)."""
        data = asdict(self)
        data.pop("worst")
        return data

    def table(self) -> str:
        """The worst rows, for a person reading a terminal."""
        lines = [
            f"parity {'PASSED' if self.passed else 'FAILED'} on {self.rows} rows: "
            f"{self.rows_outside_tolerance} outside tolerance; label mismatches "
            f"{self.label_mismatches} (near-ties {self.near_ties}, of which "
            f"mismatched {self.near_tie_mismatches}), max abs error {self.max_abs_error:.3g}, "
            f"max rel error {self.max_rel_error:.3g} "
            f"(tolerances: {', '.join(f'{k} {v:g}' for k, v in self.tolerances.items())})"
        ]
        if self.worst and not self.passed:
            lines.append(f"worst rows (of {self.rows}):")
            for w in self.worst:
                lines.append(
                    f"  row {w['row']:>6}  {w['output']:<13} sklearn={w['expected']!s:<24} "
                    f"onnx={w['actual']!s:<24} err={w['error']:.3g}  raw={w['raw']}"
                )
        return "\n".join(lines)


def _raw_of(frame: pd.DataFrame, row: int) -> dict[str, Any]:
    record = frame.iloc[row].to_dict()
    return {
        k: (
            None
            if isinstance(v, float) and math.isnan(v)
            else (v.item() if hasattr(v, "item") else v)
        )
        for k, v in record.items()
    }


def _row(
    frame: pd.DataFrame | None, r: int, output: str, expected: Any, actual: Any, error: float
) -> dict[str, Any]:
    """One entry of the worst-rows table (row -1: the outputs as a whole)."""
    raw = _raw_of(frame, r) if frame is not None else {}
    return {
        "row": r,
        "output": output,
        "expected": expected,
        "actual": actual,
        "error": error,
        "raw": raw,
    }


def _shape_mismatch(task: str, n: int, expected: Any, actual: Any) -> ParityReport:
    return ParityReport(False, task, n, worst=[_row(None, -1, "shape", expected, actual, math.inf)])


def compare(
    task: str,
    expected: dict[str, np.ndarray],
    actual: dict[str, np.ndarray],
    frame: pd.DataFrame,
) -> ParityReport:
    """Compare {label, probabilities} or {prediction} arrays from two runtimes."""
    n = len(frame)
    if task == "classification":
        p_exp = np.asarray(expected["probabilities"], np.float64)
        p_act = np.asarray(actual["probabilities"], np.float64)
        l_exp = np.asarray(expected["label"]).astype(str)
        l_act = np.asarray(actual["label"]).astype(str)
        if p_exp.shape != p_act.shape or len(l_act) != n:
            return _shape_mismatch(task, n, p_exp.shape, p_act.shape)
        err = np.abs(p_exp - p_act)
        err = np.where(np.isnan(err), np.inf, err)
        row_err = err.max(axis=1) if err.size else np.zeros(n)
        top2 = np.sort(p_exp, axis=1)[:, -2:] if p_exp.shape[1] >= 2 else np.zeros((n, 2))
        near = (top2[:, 1] - top2[:, 0]) <= NEAR_TIE
        mismatch = l_exp != l_act
        report = ParityReport(
            passed=bool(not mismatch.any() and row_err.max(initial=0.0) <= PROBA_ATOL),
            task=task,
            rows=n,
            rows_outside_tolerance=int(((row_err > PROBA_ATOL) | mismatch).sum()),
            label_mismatches=int(mismatch.sum()),
            near_ties=int(near.sum()),
            near_tie_mismatches=int((near & mismatch).sum()),
            max_abs_error=float(row_err.max(initial=0.0)),
            tolerances={"probabilities_abs": PROBA_ATOL, "labels": 0},
        )
        order = np.lexsort((-row_err, ~mismatch))  # mismatches first, then largest error
        for r in order[:WORST_ROWS]:
            k = int(np.argmax(err[r])) if err.shape[1] else 0
            if mismatch[r]:
                report.worst.append(
                    _row(frame, int(r), "label", l_exp[r], l_act[r], float(row_err[r]))
                )
            elif row_err[r] > 0:
                report.worst.append(
                    _row(
                        frame,
                        int(r),
                        f"proba[{k}]",
                        float(p_exp[r, k]),
                        float(p_act[r, k]),
                        float(row_err[r]),
                    )
                )
        return report
    y_exp = np.asarray(expected["prediction"], np.float64).ravel()
    y_act = np.asarray(actual["prediction"], np.float64).ravel()
    if y_exp.shape != y_act.shape:
        return _shape_mismatch(task, n, y_exp.shape, y_act.shape)
    abs_err = np.abs(y_exp - y_act)
    abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
    # Relative to the value, with a floor at 1e-6 of the largest |value|: a prediction that is
    # ~0 on a target of scale 4000 is judged against 4e-3, not against its own rounding noise.
    finite = np.abs(y_exp[np.isfinite(y_exp)])
    floor = max(1e-6 * float(finite.max()) if finite.size else 0.0, np.finfo(np.float64).tiny)
    rel_err = abs_err / np.maximum(np.abs(y_exp), floor)
    rel_err = np.where(abs_err == 0, 0.0, rel_err)
    report = ParityReport(
        passed=bool(rel_err.max(initial=0.0) <= REGRESSION_RTOL),
        task=task,
        rows=n,
        rows_outside_tolerance=int((rel_err > REGRESSION_RTOL).sum()),
        max_abs_error=float(abs_err.max(initial=0.0)),
        max_rel_error=float(rel_err.max(initial=0.0)),
        tolerances={"prediction_rel": REGRESSION_RTOL},
    )
    for r in np.argsort(-rel_err, kind="stable")[:WORST_ROWS]:
        if rel_err[r] > 0:
            report.worst.append(
                _row(
                    frame, int(r), "prediction", float(y_exp[r]), float(y_act[r]), float(rel_err[r])
                )
            )
    return report


def sklearn_outputs(pipeline: Any, frame: pd.DataFrame, task: str) -> dict[str, np.ndarray]:
    if task == "classification":
        return {"label": pipeline.predict(frame), "probabilities": pipeline.predict_proba(frame)}
    return {"prediction": pipeline.predict(frame)}


def frame_to_feeds(
    frame: pd.DataFrame, inputs: list[tuple[RawInput, str]]
) -> dict[str, np.ndarray]:
    """Raw DataFrame columns -> ONNX feeds, as the contract says (NaN / "" for missing)."""
    feeds: dict[str, np.ndarray] = {}
    for raw, onnx_name in inputs:
        series = frame[raw.name]
        if raw.kind == CATEGORICAL:
            values = np.array([normalise_category(v) for v in series.tolist()], dtype=object)
        else:
            values = pd.to_numeric(series.astype(object).where(series.notna(), np.nan)).to_numpy(
                np.float64
            )
        feeds[onnx_name] = values.reshape(-1, 1)
    return feeds


def onnx_outputs(session: Any, feeds: dict[str, np.ndarray], task: str) -> dict[str, np.ndarray]:
    names = ["label", "probabilities"] if task == "classification" else ["prediction"]
    values = session.run(names, feeds)
    return dict(zip(names, values, strict=True))


def generate_raw_rows(
    schema: PipelineSchema, sample: pd.DataFrame, n: int, seed: int
) -> pd.DataFrame:
    """n raw rows that stress the graph: values drawn from the sample, missing values in every
    column, categories never seen in training, and numbers far outside the training range."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for raw in schema.inputs:
        base = sample[raw.name] if raw.name in sample else pd.Series(dtype=object)
        observed = base.dropna().tolist()
        draw = rng.random(n)
        if raw.kind == CATEGORICAL:
            seen = list(raw.categories) or ["a"]
            values: list[Any] = []
            for i in range(n):
                if draw[i] < 0.10:
                    values.append(np.nan)
                elif draw[i] < 0.18:
                    values.append(f"unseen-{raw.name}-{rng.integers(0, 5)}")
                elif draw[i] < 0.55 and observed:
                    values.append(observed[rng.integers(0, len(observed))])  # raw form: 3, True
                else:
                    values.append(seen[rng.integers(0, len(seen))])
            columns[raw.name] = pd.Series(values, dtype=object)
        else:
            numbers = pd.to_numeric(pd.Series(observed, dtype=object), errors="coerce").dropna()
            numbers = numbers.to_numpy(np.float64) if len(numbers) else np.array([0.0])
            lo = raw.min if raw.min is not None else float(numbers.min())
            hi = raw.max if raw.max is not None else float(numbers.max())
            span = max(hi - lo, 1.0)
            out = numbers[rng.integers(0, len(numbers), n)].copy()
            jitter = draw < 0.45
            out[jitter] = rng.uniform(lo - 0.1 * span, hi + 0.1 * span, int(jitter.sum()))
            far = (draw >= 0.45) & (draw < 0.53)
            out[far] = (
                rng.choice([-1, 1], int(far.sum())) * rng.uniform(10, 1000, int(far.sum())) * span
            )
            out[(draw >= 0.53) & (draw < 0.56)] = 0.0
            out[draw >= 0.90] = np.nan
            columns[raw.name] = out
    return pd.DataFrame(columns)
