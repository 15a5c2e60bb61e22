"""`pipeport export`: argument parsing only; the work is in export.onnx_export (imported lazily)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ONNX_FILE = "pipeline.onnx"
PICKLE_WARNING = (
    "Loading a .joblib file runs the Python code pickled inside it: only load pipelines you "
    "trust (your own, or your team's)."
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="export a fitted pipeline as one ONNX graph, gated on parity with scikit-learn",
        description=(
            "Write the whole fitted pipeline, preprocessing included, as one ONNX graph that takes "
            "the raw columns (numbers: float64 [N,1], text: string [N,1]) and carries its "
            "contract in its metadata. Two forms: `pipeport export DIR` for the artifacts of "
            "`pipeport train` (DIR/sklearn_pipeline.joblib, held-out rows DIR/holdout.csv), and "
            "`pipeport export --pipeline FILE.joblib --sample RAW.csv --name NAME` for a "
            "pipeline trained anywhere. Before writing, the graph is run on the sample rows and "
            "on generated raw rows (missing values, unseen categories, far-out numbers) and "
            "compared with scikit-learn: labels must be equal, probabilities within 1e-6, "
            "regression within 1e-6 relative, anomaly scores (IsolationForest) within 1e-6. "
            "If they are not, nothing is written and the worst "
            "rows are printed (exit status 1); a step pipeport cannot export is named, with what "
            "to do (exit status 2). " + PICKLE_WARNING
        ),
        epilog="Examples: pipeport export artifacts/penguins-species | pipeport export "
        "--pipeline model.joblib --sample raw.csv --name churn --out churn.onnx",
    )
    parser.add_argument(
        "dir", type=Path, metavar="DIR", nargs="?", help="artifacts folder of `pipeport train`"
    )
    parser.add_argument(
        "--pipeline",
        type=Path,
        metavar="FILE.joblib",
        help="a fitted scikit-learn Pipeline (or model) saved with joblib.dump, trained anywhere",
    )
    parser.add_argument(
        "--sample",
        type=Path,
        metavar="RAW.csv",
        help="with --pipeline: raw rows as the pipeline takes them (CSV or Parquet, read with "
        "pandas as training read its data), e.g. held-out rows; they are compared too",
    )
    parser.add_argument(
        "--name", help="with --pipeline: the model's name (default: the file's name)"
    )
    parser.add_argument(
        "--model-version", default=None, help="the model's version label (default: 1)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"output file (default: DIR/{ONNX_FILE}, or NAME.onnx beside FILE.joblib)",
    )
    add_import_option(parser)
    parser.add_argument(
        "--rows",
        type=int,
        default=10_000,
        help="generated raw rows for the parity gate (default 10000)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the generated rows (default 0)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write the file even if the parity gate fails; the failure is recorded in the "
        "metadata (parity.forced = true)",
    )
    parser.set_defaults(run=run_export)


def add_import_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (repeatable): where your own transformer classes and their "
        "pipeport.register_converter calls live (docs/converters.md); the current folder is "
        "searched too",
    )


def import_modules(names: list[str]) -> None:
    """Import the user's modules (their classes, their converters), or CLIError."""
    from pipeport.cli import CLIError

    if not names:
        return
    import importlib
    import os

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise CLIError(f"--import {name}: {exc}") from None


def load_pipeline(path: Path) -> Any:
    """A fitted estimator from a joblib file, or CLIError saying what is wrong, in one line."""
    from pipeport.cli import CLIError

    if not path.is_file():
        raise CLIError(f"{path} not found")
    import joblib

    try:
        pipeline = joblib.load(path)
    except ModuleNotFoundError as exc:
        raise CLIError(
            f"{path} needs the Python module {exc.name!r} to load (a class of your own?): run "
            "from the folder that has it, or install it"
        ) from None
    except Exception as exc:  # joblib/pickle raise many types for a file that is not theirs
        raise CLIError(f"{path} is not a joblib file pipeport can load ({exc})") from None
    if not hasattr(pipeline, "predict"):
        raise CLIError(
            f"{path} holds a {type(pipeline).__name__}, not a fitted scikit-learn pipeline or model"
        )
    return pipeline


def read_raw(path: Path) -> Any:
    """Raw rows as pandas reads them (CSV or Parquet), or CLIError."""
    from pipeport.cli import CLIError

    if not path.is_file():
        raise CLIError(f"{path} not found")
    import pandas as pd

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # pandas raises many types for an unreadable file
        raise CLIError(f"cannot read {path}: {exc}") from None


def _artifacts(
    args: argparse.Namespace,
) -> tuple[Any, Any, str, str, dict[str, Any], Path, dict[str, Any] | None]:
    """(pipeline, sample, name, version, training record, output path, numeric ranges) of either
    form; the ranges are the training rows' (DIR/train_manifest.json), None for --pipeline."""
    from pipeport.cli import CLIError

    if args.pipeline is not None:
        if args.dir is not None:
            raise CLIError("give either DIR or --pipeline, not both")
        if args.sample is None:
            raise CLIError(
                "--pipeline needs --sample RAW.csv: raw rows the pipeline takes (the gate "
                "compares them, and learns each column's type from them)"
            )
        name = args.name or args.pipeline.stem
        out = args.out or args.pipeline.with_name(f"{name}.onnx")
        pipeline = load_pipeline(args.pipeline)
        return pipeline, read_raw(args.sample), name, args.model_version or "1", {}, out, None
    if args.dir is None:
        raise CLIError("give DIR (artifacts of `pipeport train`) or --pipeline FILE.joblib")
    if args.sample is not None or args.name is not None:
        raise CLIError("--sample and --name go with --pipeline; DIR has its own")
    import json

    directory: Path = args.dir
    pipeline_path = directory / "sklearn_pipeline.joblib"
    if not pipeline_path.exists():
        raise CLIError(
            f"{pipeline_path} not found; run `pipeport train CONFIG --out {directory}` first"
        )
    holdout_path = directory / "holdout.csv"
    if not holdout_path.exists():
        raise CLIError(f"{holdout_path} not found; the parity gate needs the held-out raw rows")
    manifest_path = directory / "train_manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    training = {
        "data_sha256": manifest.get("data", {}).get("sha256"),
        "config_sha256": manifest.get("config", {}).get("sha256"),
        "target": manifest.get("target"),
        "rows_train": manifest.get("data", {}).get("rows_train"),
        "metrics": manifest.get("metrics"),
        "packages": manifest.get("packages"),
    }
    name = manifest.get("name") or directory.resolve().name
    version = args.model_version or str(manifest.get("version", "1"))
    out = args.out or directory / ONNX_FILE
    pipeline, sample = load_pipeline(pipeline_path), read_raw(holdout_path)
    return pipeline, sample, name, version, training, out, training_ranges(manifest)


def training_ranges(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """`{column: (min, max)}` of the training rows, from train_manifest.json's "features": the
    inputs' min/max in the file are the training data's, not the held-out sample's."""
    features = manifest.get("features")
    if not isinstance(features, list):
        return None
    return {
        str(f["name"]): (f.get("min"), f.get("max"))
        for f in features
        if isinstance(f, dict) and "name" in f and ("min" in f or "max" in f)
    }


def run_export(args: argparse.Namespace) -> int:
    from pipeport.cli import CLIError

    started = time.perf_counter()
    if args.rows < 0:
        raise CLIError("--rows must be 0 or more")
    import_modules(args.imports)
    pipeline, sample, name, version, training, out, ranges = _artifacts(args)

    from pipeport.errors import ParityError, UnsupportedStepError
    from pipeport.export.onnx_export import read_metadata, to_onnx

    final = pipeline[-1] if hasattr(pipeline, "steps") else pipeline
    print(
        f"[export] converting {name} ({type(final).__name__}); checking parity on "
        f"{len(sample)} sample + {args.rows} generated rows…",
        file=sys.stderr,
        flush=True,
    )
    try:
        model = to_onnx(
            pipeline,
            sample,
            name,
            version,
            generated_rows=args.rows,
            seed=args.seed,
            force=args.force,
            training=training,
            ranges=ranges,
        )
    except ParityError as exc:
        print(str(exc), file=sys.stderr)
        print(
            f"pipeport export: refused to write {out}: the ONNX graph disagrees with scikit-learn "
            "(see the rows above). Use --force to write it anyway (recorded in its metadata).",
            file=sys.stderr,
        )
        return 1
    except (UnsupportedStepError, ValueError) as exc:  # a step, or the sample rows
        raise CLIError(str(exc)) from None
    parity = read_metadata(model)["parity"]
    blob = model.SerializeToString()
    tmp = out.with_suffix(out.suffix + ".tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(blob)
    tmp.replace(out)
    if parity["forced"]:
        print(
            f"WARNING: parity FAILED and --force was given: wrote {out} anyway; its metadata says "
            "parity.forced = true. Do not deploy it without reading the report above.",
            file=sys.stderr,
        )
    import hashlib

    print(
        f"wrote {out} ({len(blob) / 1024:.0f} KiB, "
        f"sha256 {hashlib.sha256(blob).hexdigest()[:16]}…) "
        f"in {time.perf_counter() - started:.1f} s"
    )

    def error(value: float | None) -> str:  # None: not finite (the graph gave NaN/inf)
        return "inf" if value is None else f"{value:.2g}"

    if parity["task"] == "classification":
        detail = (
            f"label mismatches {parity['label_mismatches']}, near-ties {parity['near_ties']}, "
            f"max probability error {error(parity['max_abs_error'])}"
        )
    elif parity["task"] == "anomaly":
        detail = (
            f"label mismatches {parity['label_mismatches']}, "
            f"max score error {error(parity['max_abs_error'])}"
        )
    else:  # relative error is what the gate judges (absolute errors scale with the prediction)
        detail = f"max relative error {error(parity['max_rel_error'])}"
    left_out = parity.get("refused_by_sklearn") or 0
    print(
        f"parity {'PASSED' if parity['passed'] else 'FAILED'}: {parity['rows']} rows, {detail}"
        + (f"; {left_out} rows left out (scikit-learn raises on them)" if left_out else "")
    )
    return 0
