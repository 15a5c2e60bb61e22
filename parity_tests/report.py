"""report.json for machines and report.html for people (inline SVG: no plotting library)."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from pipeport.parity_tests.harness import ParityRun, RuntimeOutcome


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
        entry["max_ulps"] = o.max_ulps
        entry["worst"] = o.report.worst
    return entry


def to_json(run: ParityRun) -> dict[str, Any]:
    return {
        "model": run.model,
        "task": run.task,
        "rows": run.rows,
        "sources": run.sources,
        "passed": run.passed,
        "runtimes": [outcome_summary(o) for o in run.outcomes],
    }


def _values(o: RuntimeOutcome) -> np.ndarray:
    """The numbers a runtime returned (none for a classifier that returns labels only)."""
    assert o.outputs is not None
    for key in ("probabilities", "prediction"):
        if key in o.outputs:
            return np.asarray(o.outputs[key], np.float64).ravel()
    return np.zeros(0)


def _scatter(x: np.ndarray, y: np.ndarray, title: str, size: int = 260) -> str:
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if not len(x):
        return "<p>no finite values</p>"
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    span = hi - lo or 1.0
    idx = np.linspace(0, len(x) - 1, min(len(x), 3000)).astype(int)

    def px(v: float) -> float:
        return 20 + (v - lo) / span * (size - 30)

    dots = "".join(
        f'<circle cx="{px(float(x[i])):.1f}" cy="{size - px(float(y[i])) + 10:.1f}" r="1.5"/>'
        for i in idx
    )
    return (
        f'<svg width="{size}" height="{size}" role="img" aria-label="{html.escape(title)}">'
        f'<line x1="20" y1="{size - 10}" x2="{size - 10}" y2="20" stroke="#bbb"/>'
        f'<g fill="#1f77b4" fill-opacity="0.5">{dots}</g>'
        f'<text x="20" y="14" font-size="11">{html.escape(title)}</text></svg>'
    )


def _histogram(errors: np.ndarray, size: int = 300) -> str:
    """Counts of |error| by decade, 0 in its own bin."""
    errors = errors[np.isfinite(errors)]
    bins = ["0"] + [f"1e{k}" for k in range(-17, 1)]
    counts = [int((errors == 0).sum())]
    for k in range(-17, 1):
        lo, hi = (0.0 if k == -17 else 10.0 ** (k - 1)), 10.0**k
        counts.append(int(((errors > lo) & (errors <= hi)).sum()))
    top = max(counts) or 1
    width = size / len(bins)
    bars = "".join(
        f'<rect x="{i * width:.1f}" y="{120 - 100 * c / top:.1f}" width="{width - 2:.1f}" '
        f'height="{100 * c / top:.1f}"><title>≤{b}: {c}</title></rect>'
        for i, (b, c) in enumerate(zip(bins, counts, strict=True))
    )
    return (
        f'<svg width="{size}" height="135"><g fill="#ff7f0e">{bars}</g>'
        f'<text x="0" y="133" font-size="10">0</text><text x="{size - 30}" y="133" font-size="10">≤1</text></svg>'
    )


def to_html(run: ParityRun) -> str:
    reference = next(o for o in run.outcomes if o.runtime == "sklearn")
    base = _values(reference)
    rows = []
    figures = []
    for o in run.outcomes:
        r = o.report
        cells = [o.runtime, o.status.upper(), f"{o.seconds:.2f}"]
        if r is not None:
            cells += [
                str(r.rows),
                str(r.label_mismatches),
                str(r.near_ties),
                f"{r.max_abs_error:.3g}",
                f"{r.max_rel_error:.3g}",
                "" if o.max_ulps is None else f"{o.max_ulps:.0f}",
            ]
        else:
            cells += ["", "", "", "", "", "", ""][:6]
        note = html.escape(o.reason)
        colour = {"passed": "#e6f4ea", "failed": "#fce8e6", "error": "#fce8e6"}.get(
            o.status, "#fff4e5"
        )
        rows.append(
            f'<tr style="background:{colour}">'
            + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            + f"<td>{note}</td></tr>"
        )
        if o.outputs is not None and o.runtime != "sklearn":
            values = _values(o)
            if values.size and values.shape == base.shape:
                errors = np.abs(values - base)
                figures.append(
                    f"<figure><figcaption>{html.escape(o.runtime)}</figcaption>"
                    f"{_scatter(base, values, f'sklearn (x) vs {o.runtime} (y)')}"
                    f"{_histogram(errors)}<br><small>|error| by decade</small></figure>"
                )
    worst = []
    for o in run.outcomes:
        if o.report is not None and o.report.worst and o.status != "passed":
            for w in o.report.worst:
                worst.append(
                    f"<tr><td>{html.escape(o.runtime)}</td><td>{w['row']}</td><td>{html.escape(str(w['output']))}</td>"
                    f"<td>{html.escape(str(w['expected']))}</td><td>{html.escape(str(w['actual']))}</td>"
                    f"<td>{w['error']:.3g}</td><td><code>{html.escape(json.dumps(w['raw'], default=str))}</code></td></tr>"
                )
    verdict = "PASSED" if run.passed else "FAILED"
    sources = ", ".join(f"{k}: {v}" for k, v in run.sources.items())
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>pipeport parity: {html.escape(run.model)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}}figure{{display:inline-block;margin:1em}}</style>
</head><body>
<h1>Parity: {html.escape(run.model)} — {verdict}</h1>
<p>{run.rows} raw rows ({html.escape(sources)}), task {html.escape(run.task)}. scikit-learn is the reference;
tolerances: labels equal, probabilities ≤ 1e-6 absolute, regression ≤ 1e-6 relative.</p>
<table><tr><th>runtime</th><th>status</th><th>seconds</th><th>rows</th><th>label mismatches</th><th>near-ties</th>
<th>max abs error</th><th>max rel error</th><th>max ULPs</th><th>note</th></tr>{"".join(rows)}</table>
<h2>scikit-learn vs each runtime</h2>{"".join(figures) or "<p>no runtime produced outputs</p>"}
{("<h2>Worst rows</h2><table><tr><th>runtime</th><th>row</th><th>output</th><th>sklearn</th><th>runtime</th><th>error</th><th>raw row</th></tr>" + "".join(worst) + "</table>") if worst else ""}
</body></html>
"""


def write_reports(run: ParityRun, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    json_path.write_text(json.dumps(clean(to_json(run)), indent=2, default=str) + "\n")
    html_path.write_text(to_html(run))
    return json_path, html_path
