"""`pipeport replay` and `pipeport diff`: argument parsing only; the work is in monitor.replay and
monitor.diff (imported when a command runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    replay = sub.add_parser(
        "replay",
        help="replay logged requests against scikit-learn or another model, row by row",
        description=(
            "Equivalence monitoring. Read the prediction logs of `pipeport serve --log-predictions "
            "DIR` (JSON Lines files, or folders of them), feed the raw rows production received to "
            "the research pipeline (an artifacts folder of `pipeport train`, or a .joblib "
            "pipeline: scikit-learn) and/or another ONNX file, and compare what each returns with "
            "what production answered, row by row, with the parity tolerances (labels equal, "
            "probabilities within 1e-6, regression within 1e-6 relative; an anomaly model's labels "
            "-1/1 equal and scores within 1e-6). Writes report.json and report.html: every row "
            "outside tolerance named by its X-Request-ID, row and log line, the rows a target "
            "refused, and a drift summary (missing values, numbers outside the training range, "
            "unseen categories per column). Exit status 1 on any row outside tolerance or a target "
            "that cannot run, 2 on a usage error. Loading a .joblib file runs the Python code "
            "pickled inside it: only load pipelines you trust."
        ),
        epilog="Example: pipeport replay logs/ --against artifacts/penguins-species",
    )
    replay.add_argument(
        "logs", type=Path, nargs="+", metavar="LOGS", help="log files or folders of them"
    )
    replay.add_argument(
        "--against",
        action="append",
        required=True,
        metavar="ARTIFACT_DIR|PIPELINE.joblib|OTHER.onnx",
        help="what to replay against (repeatable): an artifacts folder (its "
        "sklearn_pipeline.joblib), a .joblib pipeline, or an .onnx file",
    )
    replay.add_argument(
        "--report-dir",
        type=Path,
        default=Path("pipeport-replay"),
        metavar="OUT",
        help="where to write report.json and report.html (default: %(default)s)",
    )
    replay.add_argument(
        "--model-sha256",
        metavar="PREFIX",
        help="replay only the requests of the served model whose sha256 starts with PREFIX "
        "(needed when the logs hold several models)",
    )
    from pipeport.export.cli import add_import_option

    add_import_option(replay)
    replay.set_defaults(run=run_replay_cli)

    diff = sub.add_parser(
        "diff",
        help="compare two model versions on the same raw rows (a CI gate before a release)",
        description=(
            "A differential test between two versions of a model. Both ONNX files score the same "
            "raw rows (a CSV or Parquet file, or the raw rows of prediction logs), each by its own "
            "contract; or, with --shadow-log, the served and the shadow model's predictions logged "
            "by `pipeport serve NEW.onnx --shadow OLD.onnx` are compared. Reports label agreement, "
            "a confusion table old vs new (the flips, per class; an anomaly model's classes are "
            "-1, outlier, and 1, inlier), the distribution of probability, prediction or anomaly "
            "score shifts and the rows that moved most, in report.json and report.html. Versions "
            "of different tasks are refused. Inputs that differ between the versions are named, "
            "and the rows compared are those both accept. Exit status 1 when a limit you set "
            "(--max-label-changes, --max-abs-shift) is exceeded or no row could be compared, 0 "
            "otherwise, 2 on a usage error."
        ),
        epilog="Examples: pipeport diff old.onnx new.onnx --data holdout.csv "
        "--max-label-changes 1%% --max-abs-shift 0.05 | pipeport diff --shadow-log logs/",
    )
    diff.add_argument("old", type=Path, nargs="?", metavar="OLD.onnx", help="the version now")
    diff.add_argument("new", type=Path, nargs="?", metavar="NEW.onnx", help="the candidate")
    diff.add_argument(
        "--data",
        type=Path,
        nargs="+",
        metavar="ROWS",
        help="raw rows: a .csv or .parquet file, or prediction logs (files or folders)",
    )
    diff.add_argument(
        "--shadow-log",
        type=Path,
        nargs="+",
        metavar="LOGS",
        help="instead of OLD NEW --data: compare the shadow (old) and served (new) predictions "
        "of logs written with `pipeport serve NEW --shadow OLD`",
    )
    diff.add_argument(
        "--max-label-changes",
        metavar="LIMIT",
        help="fail when more labels change (a classifier's, or an anomaly model's -1/1): a share "
        "of the rows compared (1%%) or a number of rows (5)",
    )
    diff.add_argument(
        "--max-abs-shift",
        type=float,
        metavar="X",
        help="fail when a row's probability (the largest change over the classes both "
        "versions have), prediction or anomaly score moves by more than X",
    )
    diff.add_argument(
        "--report-dir",
        type=Path,
        default=Path("pipeport-diff"),
        metavar="OUT",
        help="where to write report.json and report.html (default: %(default)s)",
    )
    diff.set_defaults(run=run_diff_cli)


def run_replay_cli(args: argparse.Namespace) -> int:
    from pipeport.cli import CLIError
    from pipeport.export.cli import import_modules
    from pipeport.monitor.logs import LogError
    from pipeport.monitor.replay import resolve_target, run_replay
    from pipeport.monitor.report import drift_lines, write_replay_reports

    import_modules(args.imports)
    try:
        targets = [resolve_target(text) for text in args.against]
        run = run_replay(list(args.logs), targets, args.model_sha256)
    except LogError as exc:
        raise CLIError(str(exc)) from None
    json_path, html_path = write_replay_reports(run, args.report_dir)
    logs = run.logs
    print(
        f"replayed {len(logs.rows)} rows of {logs.requests} logged requests to "
        f"{run.model['name']} v{run.model['version']} ({run.model['sha256'][:12]})"
        + (f"; {len(logs.skipped)} unreadable lines skipped" if logs.skipped else "")
    )
    anomaly = run.schema.task == "anomaly"
    for result in run.results:
        r = result.report
        detail = (
            f"{result.compared} rows, {r.rows_outside_tolerance} outside tolerance (label "
            f"mismatches {r.label_mismatches}), "
            + (
                f"max score error {r.max_abs_error:.2g}"
                if anomaly
                else f"max abs {r.max_abs_error:.2g}, max rel {r.max_rel_error:.2g}"
            )
            if r is not None
            else result.reason
        )
        if r is not None and result.reason:
            detail += f"; {result.reason}"
        print(f"{result.target.label}: {result.status.upper()} ({detail})")
        for m in result.mismatches[:10]:
            print(
                f"  request {m['request_id']} row {m['row_in_request']} ({m['log']}): "
                + _mismatch_words(m)
            )
    print(f"drift over {len(logs.rows)} rows:")
    for line in drift_lines(run.drift, len(logs.rows)):
        print(line)
    print(f"replay {'PASSED' if run.passed else 'FAILED'}; reports: {json_path}, {html_path}")
    return 0 if run.passed else 1


def run_diff_cli(args: argparse.Namespace) -> int:
    from pipeport.cli import CLIError
    from pipeport.monitor.diff import (
        LABEL_TASKS,
        Thresholds,
        class_words,
        parse_label_changes,
        run_diff,
        run_shadow_diff,
    )
    from pipeport.monitor.logs import LogError
    from pipeport.monitor.report import write_diff_reports
    from pipeport.serving.model import ModelLoadError

    limit, is_fraction = None, True
    if args.max_label_changes is not None:
        try:
            limit, is_fraction = parse_label_changes(args.max_label_changes)
        except ValueError as exc:
            raise CLIError(f"--max-label-changes: {exc}") from None
    if args.max_abs_shift is not None and not args.max_abs_shift >= 0:
        raise CLIError("--max-abs-shift must be 0 or more")
    thresholds = Thresholds(limit, is_fraction, args.max_abs_shift)
    try:
        if args.shadow_log:
            if args.old or args.new or args.data:
                raise CLIError("give either --shadow-log LOGS or OLD.onnx NEW.onnx --data ROWS")
            run = run_shadow_diff(list(args.shadow_log), thresholds)
        else:
            if args.old is None or args.new is None or not args.data:
                raise CLIError("give OLD.onnx NEW.onnx --data ROWS (or --shadow-log LOGS)")
            run = run_diff(args.old, args.new, list(args.data), thresholds)
    except (LogError, ModelLoadError, FileNotFoundError) as exc:
        raise CLIError(str(exc)) from None
    json_path, html_path = write_diff_reports(run, args.report_dir)
    print(
        f"{run.old.name} v{run.old.version} → {run.new.name} v{run.new.version}: "
        f"{run.compared} of {run.rows} rows compared"
        + (f"; {len(run.skipped)} unreadable log lines skipped" if run.skipped else "")
    )
    changes = run.schema_changes
    if changes["only_old"] or changes["only_new"] or changes["changed"]:
        print(
            "inputs differ: only old "
            f"{changes['only_old'] or '-'}, only new {changes['only_new'] or '-'}, changed "
            f"{changes['changed'] or '-'}"
        )
    for side, items in run.refused.items():
        if items:
            print(f"{len(items)} rows refused by the {side} version (e.g. {items[0]['why']})")
    if run.task in LABEL_TASKS:
        print(
            f"labels: {run.label_changes} changed ({1 - run.agreement:.2%}), "
            f"agreement {run.agreement:.2%}"
        )
        for c in run.per_class:
            if c["lost"] or c["gained"]:
                print(
                    f"  {class_words(run.task, c['class'])}: {c['lost']} flipped away, "
                    f"{c['gained']} flipped to it"
                )
    if run.shifts.size:
        print(f"{run.shift_name}: max {run.max_shift:.4g}")
    for violation in run.violations():
        print(f"LIMIT EXCEEDED: {violation}", file=sys.stderr)
    print(f"diff {'PASSED' if run.passed else 'FAILED'}; reports: {json_path}, {html_path}")
    return 0 if run.passed else 1


def _mismatch_words(m: dict[str, Any]) -> str:
    """A row outside tolerance, for a terminal: both labels (and an anomaly model's scores), or
    both predictions."""
    if "production_score" in m:
        return (
            f"production {m['production_label']} (score {m['production_score']!r}), "
            f"target {m['target_label']} (score {m['target_score']!r})"
        )
    if "production_label" in m:
        return f"production {m['production_label']}, target {m['target_label']}"
    return f"production {m['production']!r}, target {m['target']!r}"
