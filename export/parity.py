"""The parity gate: scikit-learn and the ONNX graph, compared output by output, row by row.

Tolerances (docs/support.md): labels equal on every row; probabilities within 1e-6 absolute;
regression within 1e-6 relative (relative to max(|value|, 1e-6 x the 90th percentile of the
|values| compared), so a prediction near zero is not judged against its own rounding noise, and a
few exploding predictions do not blunt the test for all the others); an anomaly model's scores
(score_samples, in [-1, 0]) within 1e-6 absolute. A near-tie (scikit-learn's two largest
probabilities within NEAR_TIE of each other) is counted separately: a label that flips there is
still a failure, but the report says it was a tie-break, not a wrong graph.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeport.contract import is_missing
from pipeport.export.raw_inputs import like
from pipeport.schema import CATEGORICAL, NUMERIC, InputSpec, ModelSchema

PROBA_ATOL = 1e-6
REGRESSION_RTOL = 1e-6
NEAR_TIE = 1e-9
SCORE_ATOL = 1e-6
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
    #: Rows left out because scikit-learn itself raises on them (beyond what the contract
    #: refuses: a value outside a function's domain, say), and the first one's reason.
    refused_by_sklearn: int = 0
    refused_example: str = ""
    #: Every row outside tolerance (positions in the compared rows), for callers that name them
    #: all (`pipeport replay`); not part of the summary.
    outside: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The part recorded in the ONNX metadata (no raw rows)."""
        data = asdict(self)
        data.pop("worst")
        data.pop("outside")
        return data

    def table(self) -> str:
        """The worst rows, for a person reading a terminal."""
        tolerances = ", ".join(f"{k} {v:g}" for k, v in self.tolerances.items())
        head = (
            f"parity {'PASSED' if self.passed else 'FAILED'} on {self.rows} rows: "
            f"{self.rows_outside_tolerance} outside tolerance; label mismatches "
        )
        if self.task == "anomaly":
            head += (
                f"{self.label_mismatches} (-1 outlier, 1 inlier), max abs score error "
                f"{self.max_abs_error:.3g} (tolerances: {tolerances})"
            )
        else:
            head += (
                f"{self.label_mismatches} (near-ties {self.near_ties}, of which "
                f"mismatched {self.near_tie_mismatches}), max abs error "
                f"{self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g} "
                f"(tolerances: {tolerances})"
            )
        lines = [head]
        if self.refused_by_sklearn:
            lines.append(
                f"{self.refused_by_sklearn} rows left out: scikit-learn raises on them (e.g. "
                f"{self.refused_example}); the graph would answer them"
            )
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
    return ParityReport(
        False,
        task,
        n,
        worst=[_row(None, -1, "shape", expected, actual, math.inf)],
        outside=list(range(n)),
    )


def compare(
    task: str,
    expected: dict[str, np.ndarray],
    actual: dict[str, np.ndarray],
    frame: pd.DataFrame,
) -> ParityReport:
    """Compare {label, probabilities} (or {label} alone, for a classifier without
    predict_proba), {prediction} or {label, score} (an anomaly model) arrays from two
    runtimes."""
    n = len(frame)
    if task == "anomaly":
        return _compare_anomaly(expected, actual, frame)
    if task == "classification":
        with_probabilities = "probabilities" in expected and "probabilities" in actual
        empty = np.zeros((n, 0))
        p_exp = np.asarray(expected["probabilities"] if with_probabilities else empty, np.float64)
        p_act = np.asarray(actual["probabilities"] if with_probabilities else empty, np.float64)
        l_exp = np.asarray(expected["label"]).astype(str)
        l_act = np.asarray(actual["label"]).astype(str)
        if p_exp.shape != p_act.shape or len(l_act) != n:
            return _shape_mismatch(task, n, p_exp.shape, p_act.shape)
        err = np.abs(p_exp - p_act)
        err = np.where(np.isnan(err), np.inf, err)
        row_err = err.max(axis=1) if err.size else np.zeros(n)
        top2 = np.sort(p_exp, axis=1)[:, -2:] if p_exp.shape[1] >= 2 else np.zeros((n, 2))
        near = (top2[:, 1] - top2[:, 0]) <= NEAR_TIE
        if not with_probabilities:
            near = np.zeros(n, dtype=bool)
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
            outside=np.flatnonzero((row_err > PROBA_ATOL) | mismatch).tolist(),
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
    with np.errstate(invalid="ignore"):
        abs_err = np.abs(y_exp - y_act)
    # the same infinity on both sides (an exp that overflows), or NaN on both, is agreement;
    # any other non-finite difference is the largest error there is
    same = (y_exp == y_act) | (np.isnan(y_exp) & np.isnan(y_act))
    abs_err = np.where(same, 0.0, np.where(np.isnan(abs_err), np.inf, abs_err))
    # Relative to the value, with a floor at 1e-6 of the 90th percentile of |value|: a prediction
    # that is ~0 on a target of scale 4000 is judged against 4e-3, not against its own rounding
    # noise; a percentile, not the maximum, so that rows whose prediction explodes (an exp of a
    # far-out value) do not raise the floor for every other row.
    finite = np.abs(y_exp[np.isfinite(y_exp)])
    scale = float(np.percentile(finite, 90)) if finite.size else 0.0
    floor = max(1e-6 * scale, np.finfo(np.float64).tiny)
    with np.errstate(invalid="ignore"):
        rel_err = abs_err / np.maximum(np.abs(y_exp), floor)
    rel_err = np.where(abs_err == 0, 0.0, rel_err)
    # scikit-learn's NaN against a number (inf / NaN): as far apart as it gets, and named
    rel_err = np.where(np.isnan(rel_err), np.inf, rel_err)
    report = ParityReport(
        passed=bool(rel_err.max(initial=0.0) <= REGRESSION_RTOL),
        task=task,
        rows=n,
        rows_outside_tolerance=int((rel_err > REGRESSION_RTOL).sum()),
        max_abs_error=float(abs_err.max(initial=0.0)),
        max_rel_error=float(rel_err.max(initial=0.0)),
        tolerances={"prediction_rel": REGRESSION_RTOL},
        outside=np.flatnonzero(rel_err > REGRESSION_RTOL).tolist(),
    )
    for r in np.argsort(-rel_err, kind="stable")[:WORST_ROWS]:
        if rel_err[r] > 0:
            report.worst.append(
                _row(
                    frame, int(r), "prediction", float(y_exp[r]), float(y_act[r]), float(rel_err[r])
                )
            )
    return report


def _compare_anomaly(
    expected: dict[str, np.ndarray], actual: dict[str, np.ndarray], frame: pd.DataFrame
) -> ParityReport:
    """Labels (-1, 1) equal on every row, scores (score_samples, in [-1, 0]) within
    SCORE_ATOL."""
    n = len(frame)
    s_exp = np.asarray(expected["score"], np.float64).reshape(-1)
    s_act = np.asarray(actual["score"], np.float64).reshape(-1)
    l_exp = np.asarray(expected["label"]).reshape(-1).astype(np.int64)
    l_act = np.asarray(actual["label"]).reshape(-1)
    if s_exp.shape != s_act.shape or len(l_act) != n:
        return _shape_mismatch("anomaly", n, s_exp.shape, s_act.shape)
    l_act = l_act.astype(np.int64)
    with np.errstate(invalid="ignore"):
        err = np.abs(s_exp - s_act)
    # NaN on both sides (a JSON runtime's null where scikit-learn's score is not finite) agrees;
    # NaN against a number is the largest error there is
    same = (s_exp == s_act) | (np.isnan(s_exp) & np.isnan(s_act))
    err = np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))
    mismatch = l_exp != l_act
    bad = (err > SCORE_ATOL) | mismatch
    report = ParityReport(
        passed=bool(not bad.any()),
        task="anomaly",
        rows=n,
        rows_outside_tolerance=int(bad.sum()),
        label_mismatches=int(mismatch.sum()),
        max_abs_error=float(err.max(initial=0.0)),
        tolerances={"score_abs": SCORE_ATOL, "labels": 0},
        outside=np.flatnonzero(bad).tolist(),
    )
    for r in np.lexsort((-err, ~mismatch))[:WORST_ROWS]:  # mismatches first, then largest error
        if mismatch[r]:
            report.worst.append(
                _row(frame, int(r), "label", int(l_exp[r]), int(l_act[r]), float(err[r]))
            )
        elif err[r] > 0:
            report.worst.append(
                _row(frame, int(r), "score", float(s_exp[r]), float(s_act[r]), float(err[r]))
            )
    return report


def sklearn_outputs(
    pipeline: Any,
    frame: pd.DataFrame,
    task: str,
    by_name: bool = True,
    keys: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """scikit-learn's outputs on raw rows (a DataFrame, or its array for a pipeline fitted on
    one): `keys` of label, probabilities, prediction (default: what the task and the pipeline
    offer)."""
    X = frame if by_name else frame.to_numpy()
    if task == "classification":
        if keys is None:
            keys = ("label", "probabilities") if hasattr(pipeline, "predict_proba") else ("label",)
        out = {"label": pipeline.predict(X)}
        if "probabilities" in keys:
            out["probabilities"] = pipeline.predict_proba(X)
        return out
    if task == "anomaly":
        return {
            "label": np.asarray(pipeline.predict(X)).reshape(-1),
            "score": np.asarray(pipeline.score_samples(X), np.float64).reshape(-1),
        }
    return {"prediction": np.asarray(pipeline.predict(X)).reshape(-1)}


def raw_value_of(key: Any, spec: InputSpec) -> Any:
    """A raw value (as a DataFrame holds it) whose contract encoding is `key`."""
    if spec.kind == CATEGORICAL:
        if spec.values == "numbers":
            number = float(key)
            return int(number) if number.is_integer() else number
        if spec.values == "booleans":
            return key == "True"
        return key
    if spec.values == "booleans":
        return bool(key)
    number = float(key)
    return int(number) if number.is_integer() and "int" in spec.dtype else number


def generate_raw_rows(sample: pd.DataFrame, schema: ModelSchema, n: int, seed: int) -> pd.DataFrame:
    """n raw rows that stress the graph, within what the contract accepts: values drawn from the
    sample and from the learned categories, missing values, categories never seen in training
    and numbers far outside the training range, each only where the pipeline accepts it. Every
    raw column of the sample gets values (columns the pipeline does not read are resampled)."""
    rng = np.random.default_rng(seed)
    specs = {spec.name: spec for spec in schema.inputs}
    columns: dict[str, Any] = {}
    for name in sample.columns:
        observed = [v for v in sample[name].tolist() if not is_missing(v)]
        spec = specs.get(name)
        if spec is None:
            picks = rng.integers(0, len(observed), n) if observed else None
            values: list[Any] = [observed[i] for i in picks] if picks is not None else [np.nan] * n
        elif spec.kind == CATEGORICAL or spec.categories or spec.values == "booleans":
            values = _categories(spec, observed, rng, n)
        else:
            values = _numbers(spec, observed, rng, n)
        columns[name] = like(values, sample[name])
    return pd.DataFrame(columns)


def _categories(
    spec: InputSpec, observed: list[Any], rng: np.random.Generator, n: int
) -> list[Any]:
    """Learned categories, raw sample values, unseen values and missing values (where accepted);
    a numeric column that is also read as a number gets numbers around its range too."""
    known = [raw_value_of(k, spec) for k in spec.categories]
    if spec.values == "booleans":
        known = known or [False, True]
    refuses = spec.unknown_categories == "error"
    pool = known if refuses else (known + observed if observed else known)
    pool = pool or observed or ["a"]
    unseen = _unseen_values(spec, known, rng)
    draw = rng.random(n)
    out: list[Any] = []
    numbers = _numbers(spec, observed, rng, n) if spec.kind == NUMERIC and not refuses else None
    for i in range(n):
        if draw[i] < 0.10 and spec.missing_allowed:
            out.append(np.nan)
        elif draw[i] < 0.18 and not refuses and unseen:
            out.append(unseen[int(rng.integers(0, len(unseen)))])
        elif draw[i] < 0.30 and numbers is not None and spec.values == "numbers":
            value = numbers[i]
            out.append(value if not (isinstance(value, float) and math.isnan(value)) else pool[0])
        else:
            out.append(pool[int(rng.integers(0, len(pool)))])
    return out


def _unseen_values(spec: InputSpec, known: list[Any], rng: np.random.Generator) -> list[Any]:
    if spec.values == "text":
        return [f"unseen-{spec.name}-{k}" for k in range(5)]
    if spec.values == "booleans":
        return [b for b in (False, True) if b not in known]
    numbers = [float(v) for v in known] or [0.0]
    top = max(numbers)
    return [top + 1.0, top + 2.5, min(numbers) - 1.0, top + 1000.0]


def _numbers(spec: InputSpec, observed: list[Any], rng: np.random.Generator, n: int) -> list[Any]:
    numbers = pd.to_numeric(pd.Series(observed, dtype=object), errors="coerce").dropna()
    pool = numbers.to_numpy(np.float64) if len(numbers) else np.array([0.0])
    lo = spec.min if spec.min is not None else float(pool.min())
    hi = spec.max if spec.max is not None else float(pool.max())
    span = max(hi - lo, 1.0)
    draw = rng.random(n)
    out = pool[rng.integers(0, len(pool), n)].copy()
    jitter = draw < 0.45
    out[jitter] = rng.uniform(lo - 0.1 * span, hi + 0.1 * span, int(jitter.sum()))
    far = (draw >= 0.45) & (draw < 0.53)
    out[far] = rng.choice([-1, 1], int(far.sum())) * rng.uniform(10, 1000, int(far.sum())) * span
    out[(draw >= 0.53) & (draw < 0.56)] = 0.0
    if spec.valid_range:  # outside the valid range the contract refuses the row: reflect inside
        out = _inside(out, spec, pool)
    if spec.missing_allowed:
        out[draw >= 0.90] = np.nan
    return out.tolist()


def _inside(values: np.ndarray, spec: InputSpec, pool: np.ndarray) -> np.ndarray:
    from pipeport.contract import in_range

    ok = in_range(values, spec)
    inside = pool[in_range(pool, spec)]
    if not len(inside):
        inside = np.array([_a_valid_number(spec)])
    out = values.copy()
    out[~ok] = inside[np.arange(int((~ok).sum())) % len(inside)]
    return out


def _a_valid_number(spec: InputSpec) -> float:
    low = spec.valid_range.get("greater_than", spec.valid_range.get("greater_or_equal"))
    high = spec.valid_range.get("less_than", spec.valid_range.get("less_or_equal"))
    if low is not None and high is not None:
        return (low + high) / 2
    if low is not None:
        return low + max(1.0, abs(low))
    return (high if high is not None else 0.0) - max(1.0, abs(high or 0.0))
