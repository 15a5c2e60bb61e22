"""`pipeport train`: argument parsing only; the work is in research.train (imported lazily)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "train",
        help="train a pipeline from raw data and a TOML config",
        description=(
            "Read the raw CSV/Parquet file named in CONFIG, validate it (columns, numeric types, "
            "optional sha256 pin), split it deterministically, fit the preprocessing + model "
            "pipeline, evaluate it on the held-out rows and write the artifacts: "
            "sklearn_pipeline.joblib, holdout.csv, train_manifest.json, metrics.json."
        ),
        epilog=config_reference(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", type=Path, metavar="CONFIG.toml", help="training config")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write the artifacts (default: artifacts/<name> under the current folder)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the final summary")
    parser.set_defaults(run=run_train)


def config_reference() -> str:
    """The config's vocabulary for --help: estimators, target transforms and [[steps]]."""
    import textwrap

    from pipeport.research.estimators import ESTIMATORS
    from pipeport.research.feature_steps import FAMILIES, STEPS, TARGET_TRANSFORMS

    def wrap(label: str, text: str) -> list[str]:
        return textwrap.wrap(
            text, 96, initial_indent=f"  {label:<27} ", subsequent_indent=" " * 30
        ) or [f"  {label}"]

    lines = ["config format: docs/configs.md; examples: configs/*.toml", "", "[model] estimator:"]
    for name, spec in ESTIMATORS.items():
        tasks = [t for t in ("classification", "regression") if spec.has_task(t)]
        extra = f" (pip install 'pipeport[{spec.extra}]')" if spec.extra else ""
        lines += wrap(name, " and ".join(tasks) + extra)
    lines += [
        "",
        "[model] target_transform (regression: fit on f(y), predict its inverse): "
        + ", ".join(f"{k} ({a}/{b})" for k, (a, b) in TARGET_TRANSFORMS.items()),
        "",
        "[[steps]] transformer (name, transformer, columns, params), by family:",
    ]
    for family in FAMILIES:
        lines.append(f" {family}:")
        for step in (s for s in STEPS.values() if s.family == family):
            module, cls = step.target.split(":")
            origin = "feature-engine" if module.startswith("feature_engine") else "scikit-learn"
            lines += wrap(step.name, f"{cls} ({origin})" + (f": {step.help}" if step.help else ""))
    return "\n".join(lines)


def run_train(args: argparse.Namespace) -> int:
    from pipeport.cli import CLIError
    from pipeport.research.config import load_config
    from pipeport.research.errors import ConfigError, DataError
    from pipeport.research.train import train

    started = time.perf_counter()

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[train] {message}", file=sys.stderr, flush=True)

    try:
        config = load_config(args.config)
        out_dir = args.out if args.out is not None else Path("artifacts") / config.name
        result = train(config, out_dir, log=log)
    except (ConfigError, DataError) as exc:
        raise CLIError(str(exc)) from None
    m = result.manifest
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
    n_features = len(m["features"])
    print(
        f"trained {m['name']}: {m['estimator']['class']} ({m['task']}) on "
        f"{m['data']['rows_train']} rows, {n_features} raw features; held out "
        f"{m['data']['rows_test']} rows ({m['data']['rows_missing_target']} dropped: no target)"
    )
    print(f"metrics on held-out rows: {metrics}")
    print(f"artifacts in {result.out_dir} ({time.perf_counter() - started:.1f} s)")
    return 0
