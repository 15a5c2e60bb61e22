"""`pipeport parity`: argument parsing only; the work is in parity_tests.harness."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

RUNTIMES = ("sklearn", "onnxruntime", "reference", "http", "node", "browser")


def _runtimes(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in RUNTIMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown runtime(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {','.join(RUNTIMES)}"
        )
    return names


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "parity",
        help="run the same raw rows through every runtime and compare with scikit-learn",
        description=(
            "Feed the same raw rows to scikit-learn (DIR/sklearn_pipeline.joblib on the raw "
            "DataFrame) and to DIR/pipeline.onnx in onnxruntime, the ONNX reference evaluator, "
            "the HTTP server (/v1/predict and V2 infer), Node.js (clients/node) and a headless "
            "browser (clients/web), and compare output by output, row by row. Rows: the held-out "
            "rows (or --data) plus edge cases built from the schema. Exit status 1 when any "
            "runtime is outside tolerance, fails, or cannot run."
        ),
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="artifacts folder (train + export)")
    parser.add_argument(
        "--data", type=Path, metavar="RAW.csv", help="raw rows to use instead of DIR/holdout.csv"
    )
    parser.add_argument(
        "--runtimes",
        type=_runtimes,
        default=RUNTIMES,
        help=f"comma-separated subset of {','.join(RUNTIMES)} (default: all)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        metavar="OUT",
        help="where to write report.json and report.html (default: DIR/parity)",
    )
    parser.add_argument("--no-edge-cases", action="store_true", help="compare only the given rows")
    parser.set_defaults(run=run_parity_cli)


def run_parity_cli(args: argparse.Namespace) -> int:
    from pipeport.cli import CLIError

    directory: Path = args.dir
    for needed in ("sklearn_pipeline.joblib", "pipeline.onnx"):
        if not (directory / needed).exists():
            raise CLIError(
                f"{directory / needed} not found; run `pipeport train` and `pipeport export` first"
            )
    from parity_tests.harness import run_parity
    from parity_tests.report import write_reports

    def log(message: str) -> None:
        print(f"[parity] {message}", file=sys.stderr, flush=True)

    try:
        run = run_parity(directory, args.runtimes, args.data, not args.no_edge_cases, log)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    json_path, html_path = write_reports(run, args.report_dir or directory / "parity")
    width = max(len(o.runtime) for o in run.outcomes)
    for o in run.outcomes:
        r = o.report
        detail = (
            f"{r.rows} rows, label mismatches {r.label_mismatches} (near-ties {r.near_ties}), "
            f"max abs {r.max_abs_error:.2g}, max rel {r.max_rel_error:.2g}, "
            f"max ULPs {o.max_ulps:.0f}"
            if r is not None
            else o.reason
        )
        print(f"{o.runtime:<{width}}  {o.status.upper():<7}  {detail}")
    print(f"parity {'PASSED' if run.passed else 'FAILED'}; reports: {json_path}, {html_path}")
    return 0 if run.passed else 1
