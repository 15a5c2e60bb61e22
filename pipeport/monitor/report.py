"""report.json and report.html of `pipeport replay` and `pipeport diff`, in the parity report's
look (parity_tests.look): the same page, tables and plots with axes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pipeport.export.parity import PROBA_ATOL, REGRESSION_RTOL, SCORE_ATOL
from pipeport.monitor.diff import LABEL_TASKS, PROBABILITY_BINS, DiffRun, class_words
from pipeport.monitor.replay import ReplayRun
from pipeport.parity_tests import look
from pipeport.parity_tests.look import esc
from pipeport.parity_tests.report import clean_json, error_histogram
from pipeport.serving.drift import KINDS

SHOWN_ROWS = 50


def _write(out_dir: Path, document: dict[str, Any], page: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(clean_json(document), indent=2, default=str) + "\n")
    html_path.write_text(page)
    return json_path, html_path


def _raw(value: Any) -> str:
    return f"<code>{esc(json.dumps(value, default=str, ensure_ascii=False))}</code>"


# -- replay -------------------------------------------------------------------------------------


def replay_json(run: ReplayRun) -> dict[str, Any]:
    logs = run.logs
    times = sorted(r.time for r in logs.rows if r.time)
    targets = []
    for result in run.results:
        entry: dict[str, Any] = {
            "target": result.target.label,
            "kind": result.target.kind,
            "path": str(result.target.path),
            "status": result.status,
        }
        if result.reason:
            entry["reason"] = result.reason
        if result.report is not None:
            entry.update(result.report.summary())
            entry["rows_compared"] = result.compared
        entry["mismatches"] = result.mismatches
        entry["refused"] = result.refused
        targets.append(entry)
    return {
        "kind": "replay",
        "passed": run.passed,
        "model": run.model,
        "task": run.schema.task,
        "schema_from": run.schema_source,
        "logs": {
            "files": [str(f) for f in logs.files],
            "requests": logs.requests,
            "rows": len(logs.rows),
            "first_time": times[0] if times else None,
            "last_time": times[-1] if times else None,
            "skipped_lines": [{"where": w, "why": why} for w, why in logs.skipped],
        },
        "tolerances": replay_tolerances(run.schema.task),
        "targets": targets,
        "drift": {"rows": len(logs.rows), "columns": run.drift},
    }


def replay_tolerances(task: str) -> dict[str, Any]:
    """The export gate's tolerances the replay judged by (export.parity.compare)."""
    if task == "anomaly":
        return {"labels": "equal", "score_abs": SCORE_ATOL}
    return {"labels": "equal", "probabilities_abs": PROBA_ATOL, "prediction_rel": REGRESSION_RTOL}


def _tolerance_words(task: str) -> str:
    if task == "anomaly":
        return f"labels (-1 outlier, 1 inlier) equal, scores ≤ {SCORE_ATOL:g} absolute"
    return (
        f"labels equal, probabilities ≤ {PROBA_ATOL:g} absolute, regression ≤ "
        f"{REGRESSION_RTOL:g} relative"
    )


def _quantity(task: str) -> str:
    """What a replay or diff plots, in words."""
    return {"classification": "probability", "anomaly": "score"}.get(task, "prediction")


def drift_lines(drift: dict[str, dict[str, int]], rows: int) -> list[str]:
    """One line per column with any drift, for a terminal."""
    lines = []
    for column, counts in drift.items():
        parts = [f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items() if n]
        if parts:
            lines.append(f"  {column}: {', '.join(parts)} (of {rows} rows)")
    return lines or [f"  no missing, out-of-range or unseen values in {rows} rows"]


def replay_html(run: ReplayRun) -> str:
    name = f"{run.model['name']} v{run.model['version']}"
    rows, colours, figures = [], [], []
    quantity = _quantity(run.schema.task)
    anomaly = run.schema.task == "anomaly"
    for result in run.results:
        r = result.report
        cells = [esc(result.target.label), esc(result.status.upper())]
        if r is not None:
            cells += [
                str(result.compared),
                str(r.rows_outside_tolerance),
                str(r.label_mismatches),
                f"{r.max_abs_error:.3g}",
                "—" if anomaly else f"{r.max_rel_error:.3g}",  # the score is judged absolute
            ]
        else:
            cells += [""] * 5
        rows.append([*cells, esc(result.reason)])
        colours.append(look.status_colour(result.status))
        if result.values is not None:
            production, target = result.values
            figures.append(
                f"<figure><figcaption>{esc(result.target.label)}</figcaption>"
                + look.scatter(
                    target.ravel(),
                    production.ravel(),
                    x_label=f"{result.target.kind} {quantity}",
                    y_label=f"production {quantity}",
                    title=f"{result.target.kind} vs production",
                )
                + error_histogram(
                    np.abs(production - target).ravel(), "|production − target| per value"
                )
                + "</figure>"
            )
    body = (
        f"<p>{len(run.logs.rows)} logged rows of {run.logs.requests} requests to "
        f"<strong>{esc(name)}</strong> (sha256 {esc(run.model['sha256'][:16])}…), replayed and "
        "compared row by row with what production answered; tolerances: "
        f"{esc(_tolerance_words(run.schema.task))}. "
        f"Columns read from {esc(run.schema_source)}.</p>"
        + look.table(
            [
                "replayed against",
                "status",
                "rows compared",
                "rows outside tolerance",
                "label mismatches",
                f"max abs error ({quantity})",
                "max rel error",
                "note",
            ],
            rows,
            colours,
        )
        + "<h2>Production vs each target</h2>"
        + ("".join(figures) or "<p>no target produced outputs</p>")
    )
    for result in run.results:
        if result.mismatches:
            body += (
                f"<h2>Rows outside tolerance: {esc(result.target.label)}</h2>"
                f"<p>{len(result.mismatches)} listed (report.json lists up to 1000).</p>"
                + _mismatch_table(result.mismatches[:SHOWN_ROWS], run.schema.task)
            )
        if result.refused:
            body += f"<h2>Rows {esc(result.target.label)} refused (not compared)</h2>" + look.table(
                ["request id", "row", "log", "why"],
                [
                    [esc(x["request_id"]), str(x["row_in_request"]), esc(x["log"]), esc(x["why"])]
                    for x in result.refused[:SHOWN_ROWS]
                ],
            )
    body += "<h2>Drift over the logged rows</h2>" + _drift_table(run.drift, len(run.logs.rows))
    if run.logs.skipped:
        body += "<h2>Lines skipped</h2>" + look.table(
            ["where", "why"], [[esc(w), esc(why)] for w, why in run.logs.skipped[:SHOWN_ROWS]]
        )
    verdict = "PASSED" if run.passed else "FAILED"
    return look.page(f"pipeport replay: {name}", f"Replay: {name}", verdict, body)


def _mismatch_table(mismatches: list[dict[str, Any]], task: str) -> str:
    if task == "anomaly":
        header = [
            "request id",
            "row",
            "log",
            "production label",
            "target label",
            "production score",
            "target score",
            "|Δ score|",
            "raw row",
        ]
        rows = [
            [
                esc(m["request_id"]),
                str(m["row_in_request"]),
                esc(m["log"]),
                esc(class_words(task, str(m["production_label"]))),
                esc(class_words(task, str(m["target_label"]))),
                f"{m['production_score']!r}",
                f"{m['target_score']!r}",
                f"{m['abs_score_error']:.3g}",
                _raw(m["raw"]),
            ]
            for m in mismatches
        ]
    elif task == "classification":
        header = ["request id", "row", "log", "production", "target", "max |Δp|", "raw row"]
        rows = [
            [
                esc(m["request_id"]),
                str(m["row_in_request"]),
                esc(m["log"]),
                esc(m["production_label"]),
                esc(m["target_label"]),
                f"{m.get('max_abs_probability_error', float('nan')):.3g}",
                _raw(m["raw"]),
            ]
            for m in mismatches
        ]
    else:
        header = ["request id", "row", "log", "production", "target", "raw row"]
        rows = [
            [
                esc(m["request_id"]),
                str(m["row_in_request"]),
                esc(m["log"]),
                f"{m['production']!r}",
                f"{m['target']!r}",
                _raw(m["raw"]),
            ]
            for m in mismatches
        ]
    return look.table(header, rows)


def _drift_table(drift: dict[str, dict[str, int]], total: int) -> str:
    def cell(n: int) -> str:
        return f"{n} ({n / total:.1%})" if total and n else "0"

    return (
        "<p>Counted as the server's /metrics counts them (missing values, numbers outside the "
        "training rows' min/max, categories the pipeline never learned).</p>"
        + look.table(
            ["column", *(k.replace("_", " ") for k in KINDS)],
            [[esc(column), *(cell(counts[k]) for k in KINDS)] for column, counts in drift.items()],
        )
    )


def write_replay_reports(run: ReplayRun, out_dir: Path) -> tuple[Path, Path]:
    return _write(out_dir, replay_json(run), replay_html(run))


# -- diff ---------------------------------------------------------------------------------------


def _version(v: Any) -> dict[str, Any]:
    return {"file": v.label, "name": v.name, "version": v.version, "sha256": v.sha256}


def shift_bins(run: DiffRun) -> tuple[list[str], list[int]]:
    if run.task == "anomaly" or (
        run.task == "classification" and run.shift_name.startswith("max")
    ):  # probabilities and scores (in [-1, 0]) move by at most 1
        labels, counts = ["0"], [int((run.shifts == 0).sum())]
        for lo, hi in zip(PROBABILITY_BINS, PROBABILITY_BINS[1:], strict=False):
            labels.append(f"≤{hi:g}")
            counts.append(int(((run.shifts > lo) & (run.shifts <= hi)).sum()))
        return labels, counts
    return look.decade_bins(run.shifts, lowest=-12, highest=6)


def diff_json(run: DiffRun) -> dict[str, Any]:
    t = run.thresholds
    shifts = run.shifts
    quantiles = (
        {f"p{q}": float(np.quantile(shifts, q / 100)) for q in (50, 90, 99)} if shifts.size else {}
    )
    labels, counts = shift_bins(run)
    return {
        "kind": "diff",
        "passed": run.passed,
        "violations": run.violations(),
        "old": _version(run.old),
        "new": _version(run.new),
        "task": run.task,
        "source": run.source,
        "rows": run.rows,
        "rows_compared": run.compared,
        "skipped_lines": [{"where": w, "why": why} for w, why in run.skipped],
        "schema_changes": run.schema_changes,
        "refused": {side: {"rows": len(v), "examples": v[:20]} for side, v in run.refused.items()},
        "label_changes": run.label_changes,
        "label_agreement": run.agreement,
        "confusion": {"old (rows) × new (columns)": run.confusion_labels, "counts": run.confusion},
        "per_class": run.per_class,
        "shift": {
            "measure": run.shift_name,
            "max": run.max_shift,
            **quantiles,
            "histogram": dict(zip(labels, counts, strict=True)),
        },
        "moved_most": run.moved,
        "thresholds": {
            "max_label_changes": None
            if t.max_label_changes is None
            else (
                f"{t.max_label_changes * 100:g}%"
                if t.max_label_changes_is_fraction
                else f"{t.max_label_changes:.0f} rows"
            ),
            "max_abs_shift": t.max_abs_shift,
        },
    }


def diff_html(run: DiffRun) -> str:
    old, new = run.old, run.new
    title = f"{old.name} v{old.version} → {new.name} v{new.version}"
    verdict = "PASSED" if run.passed else "FAILED"
    t = run.thresholds
    limits = []
    if t.max_label_changes is not None:
        limits.append(
            f"label changes ≤ {t.max_label_changes * 100:g}% of the rows"
            if t.max_label_changes_is_fraction
            else f"label changes ≤ {t.max_label_changes:.0f} rows"
        )
    if t.max_abs_shift is not None:
        limits.append(f"{run.shift_name} ≤ {t.max_abs_shift:g}")
    body = (
        f"<p>Old: <code>{esc(old.label)}</code> ({esc(old.name)} v{esc(old.version)}, sha256 "
        f"{esc(old.sha256[:16])}…). New: <code>{esc(new.label)}</code> ({esc(new.name)} "
        f"v{esc(new.version)}, sha256 {esc(new.sha256[:16])}…). Rows: {esc(run.source)}; "
        f"{run.compared} of {run.rows} accepted by both and compared.</p>"
        + (
            f"<p>Limits: {esc('; '.join(limits))}.</p>"
            if limits
            else "<p>No limits set (--max-label-changes, --max-abs-shift): informational.</p>"
        )
    )
    violations = run.violations()
    if violations:
        body += "<ul>" + "".join(f"<li>{esc(v)}</li>" for v in violations) + "</ul>"
    changes = run.schema_changes
    if any(changes.values()):
        body += "<h2>Inputs that differ</h2>" + look.table(
            ["only the old version takes", "only the new version takes", "changed"],
            [
                [
                    esc(", ".join(changes["only_old"]) or "—"),
                    esc(", ".join(changes["only_new"]) or "—"),
                    esc("; ".join(changes["changed"]) or "—"),
                ]
            ],
        )
    refused_rows = [
        [esc(side), str(len(items)), esc(items[0]["where"]), esc(items[0]["why"])]
        for side, items in run.refused.items()
        if items
    ]
    if refused_rows:
        body += "<h2>Rows left out</h2>" + look.table(
            ["refused by", "rows", "first", "why"], refused_rows
        )
    if run.skipped:
        body += "<h2>Log lines skipped</h2>" + look.table(
            ["where", "why"], [[esc(w), esc(why)] for w, why in run.skipped[:SHOWN_ROWS]]
        )
    if run.task in LABEL_TASKS:
        words = [class_words(run.task, label) for label in run.confusion_labels]
        body += (
            f"<h2>Labels: {run.compared - run.label_changes} of {run.compared} the same "
            f"({run.agreement:.2%}), {run.label_changes} changed</h2>"
            + look.table(
                ["old ↓ / new →", *map(esc, words)],
                [
                    [f"<strong>{esc(label)}</strong>", *map(str, counts)]
                    for label, counts in zip(words, run.confusion, strict=True)
                ],
            )
            + look.table(
                ["class", "old rows", "new rows", "kept", "lost (flipped away)", "gained"],
                [
                    [
                        esc(class_words(run.task, c["class"])),
                        *(str(c[k]) for k in ("old_rows", "new_rows", "kept", "lost", "gained")),
                    ]
                    for c in run.per_class
                ],
            )
        )
    labels, counts = shift_bins(run)
    body += "<h2>Shifts</h2>"
    if run.values is not None:
        quantity = _quantity(run.task)
        body += (
            "<figure>"
            + look.scatter(
                run.values[0],
                run.values[1],
                x_label=f"old {quantity}",
                y_label=f"new {quantity}",
                title="old vs new",
            )
            + "</figure>"
        )
    body += (
        "<figure>"
        + look.histogram(labels, counts, x_label=run.shift_name, title="shift per row")
        + "</figure>"
    )
    if run.moved:

        def value_cells(m: dict[str, Any]) -> list[str]:
            if run.task == "anomaly":
                return [
                    esc(f"{class_words(run.task, m['old_label'])}, score {m['old_score']!r}"),
                    esc(f"{class_words(run.task, m['new_label'])}, score {m['new_score']!r}"),
                ]
            if run.task == "classification":
                return [esc(m["old_label"]), esc(m["new_label"])]
            return [f"{m['old']!r}", f"{m['new']!r}"]

        body += "<h2>Rows that moved most</h2>" + look.table(
            ["row", "old", "new", "shift", "raw row"],
            [
                [esc(m["where"]), *value_cells(m), f"{m['shift']:.4g}", _raw(m["raw"])]
                for m in run.moved
            ],
        )
    return look.page(f"pipeport diff: {title}", f"Diff: {title}", verdict, body)


def write_diff_reports(run: DiffRun, out_dir: Path) -> tuple[Path, Path]:
    return _write(out_dir, diff_json(run), diff_html(run))
