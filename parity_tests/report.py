"""report.json for machines and report.html for people (the look shared by every pipeport
report: parity_tests.look). Every runtime appears: those that ran, those that could not
("not run", with why) and those the caller left out (`--runtimes`: "not run", not judged)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from pipeport.export.parity import PROBA_ATOL, REGRESSION_RTOL, SCORE_ATOL
from pipeport.parity_tests import look
from pipeport.parity_tests.harness import LEFT_OUT, ParityRun, RuntimeOutcome
from pipeport.parity_tests.look import esc

#: Fields of a ParityReport that say nothing about an anomaly model (no probabilities, so no
#: near-ties; its scores are judged absolute, so no relative error): left out of its report.json.
NOT_ANOMALY_FIELDS = ("near_ties", "near_tie_mismatches", "max_rel_error")


def outcome_summary(o: RuntimeOutcome) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "runtime": o.runtime,
        "status": o.status,
        "seconds": round(o.seconds, 3),
    }
    if o.reason:
        entry["reason"] = o.reason
    if o.report is not None:
        entry.update(o.report.summary())
        if o.report.task == "anomaly":
            for name in NOT_ANOMALY_FIELDS:
                entry.pop(name, None)
        entry["max_ulps"] = o.max_ulps
        entry["worst"] = o.report.worst
    return entry


def to_json(run: ParityRun) -> dict[str, Any]:
    left_out = [
        {"runtime": name, "status": "not run", "reason": LEFT_OUT, "asked_for": False}
        for name in run.left_out
    ]
    return {
        "model": run.model,
        "task": run.task,
        "rows": run.rows,
        "sources": run.sources,
        "passed": run.passed,
        "runtimes": [outcome_summary(o) for o in run.outcomes] + left_out,
    }


def _values(o: RuntimeOutcome) -> np.ndarray:
    """The numbers a runtime returned: probabilities, predictions or an anomaly model's scores
    (none for a classifier that returns labels only)."""
    assert o.outputs is not None
    for key in ("probabilities", "prediction", "score"):
        if key in o.outputs:
            return np.asarray(o.outputs[key], np.float64).ravel()
    return np.zeros(0)


def _errors(values: np.ndarray, base: np.ndarray) -> np.ndarray:
    """|values - base|, NaN where either is not a number or both are the same infinity (the
    histogram leaves those out; the comparison itself judges them)."""
    with np.errstate(invalid="ignore"):
        return np.abs(values - base)


def error_histogram(errors: np.ndarray, title: str) -> str:
    """|error| by decade, with a count axis."""
    labels, counts = look.decade_bins(errors)
    return look.histogram(
        labels, counts, x_label="|error|, by decade", title=title, y_label="values"
    )


def quantity(task: str) -> str:
    """What the plots compare, in words."""
    return {"classification": "probability", "anomaly": "score"}.get(task, "prediction")


def tolerance_words(task: str) -> str:
    if task == "anomaly":
        return (
            f"labels (-1 outlier, 1 inlier: scikit-learn's predict) equal, scores "
            f"(score_samples) ≤ {SCORE_ATOL:g} absolute"
        )
    return (
        f"labels equal, probabilities ≤ {PROBA_ATOL:g} absolute, regression ≤ "
        f"{REGRESSION_RTOL:g} relative"
    )


def _value_words(task: str, output: str, value: Any) -> str:
    """An anomaly model's label with its meaning ("-1 (outlier)"); any other value as it is."""
    if task == "anomaly" and output == "label" and value in (-1, 1):
        return f"{value} ({'outlier' if value == -1 else 'inlier'})"
    return str(value)


def to_html(run: ParityRun) -> str:
    reference = next(o for o in run.outcomes if o.runtime == "sklearn")
    base = _values(reference)
    what = quantity(run.task)
    anomaly = run.task == "anomaly"
    rows, colours, figures = [], [], []
    for o in run.outcomes:
        r = o.report
        cells = [esc(o.runtime), esc(o.status.upper()), f"{o.seconds:.2f}"]
        if r is not None:
            cells += [
                str(r.rows),
                str(r.label_mismatches),
                "—" if anomaly else str(r.near_ties),  # no probabilities, no ties
                f"{r.max_abs_error:.3g}",
                "—" if anomaly else f"{r.max_rel_error:.3g}",  # the score is judged absolute
                "" if o.max_ulps is None else f"{o.max_ulps:.0f}",
            ]
        else:
            cells += [""] * 6
        rows.append([*cells, esc(o.reason)])
        colours.append(look.status_colour(o.status))
        if o.outputs is not None and o.runtime != "sklearn":
            values = _values(o)
            if values.size and values.shape == base.shape:
                figures.append(
                    f"<figure><figcaption>{esc(o.runtime)}</figcaption>"
                    + look.scatter(
                        base,
                        values,
                        x_label=f"scikit-learn {what}",
                        y_label=f"{o.runtime} {what}",
                        title=f"scikit-learn vs {o.runtime}",
                    )
                    + error_histogram(_errors(values, base), f"{o.runtime}: |error| per value")
                    + "</figure>"
                )
    for name in run.left_out:
        rows.append([esc(name), "NOT RUN", "", *[""] * 6, esc(LEFT_OUT)])
        colours.append(look.NOT_RUN_COLOUR)
    worst = []
    for o in run.outcomes:
        if o.report is not None and o.report.worst and o.status != "passed":
            for w in o.report.worst:
                worst.append(
                    [
                        esc(o.runtime),
                        str(w["row"]),
                        esc(w["output"]),
                        esc(_value_words(run.task, w["output"], w["expected"])),
                        esc(_value_words(run.task, w["output"], w["actual"])),
                        "" if anomaly and w["output"] == "label" else f"{w['error']:.3g}",
                        f"<code>{esc(json.dumps(w['raw'], default=str))}</code>",
                    ]
                )
    sources = ", ".join(f"{k}: {v}" for k, v in run.sources.items())
    header = [
        "runtime",
        "status",
        "seconds",
        "rows",
        "label mismatches",
        "near-ties",
        f"max abs error ({what})",
        "max rel error",
        "max ULPs",
        "note",
    ]
    body = (
        f"<p>{run.rows} raw rows ({esc(sources)}), task {esc(run.task)}. scikit-learn is the "
        f"reference; tolerances: {esc(tolerance_words(run.task))}. A runtime that did not run "
        "is listed as NOT RUN, with why.</p>"
        + look.table(header, rows, colours)
        + "<h2>scikit-learn vs each runtime</h2>"
        + ("".join(figures) or "<p>no runtime produced outputs</p>")
    )
    if worst:
        body += "<h2>Worst rows</h2>" + look.table(
            ["runtime", "row", "output", "sklearn", "runtime", "error", "raw row"], worst
        )
    verdict = "PASSED" if run.passed else "FAILED"
    return look.page(f"pipeport parity: {run.model}", f"Parity: {run.model}", verdict, body)


def clean_json(value: Any) -> Any:
    """Non-finite floats as strings ("inf"): JSON has no infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value


def write_reports(run: ParityRun, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(clean_json(to_json(run)), indent=2, default=str) + "\n")
    html_path.write_text(to_html(run))
    return json_path, html_path
