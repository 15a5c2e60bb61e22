"""`pipeport export`: argument parsing only; the work is in export.onnx_export (imported lazily)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ONNX_FILE = "pipeline.onnx"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="export a trained pipeline as one ONNX graph, gated on parity with scikit-learn",
        description=(
            "Read DIR/sklearn_pipeline.joblib (written by `pipeport train`) and write "
            "DIR/pipeline.onnx: the whole pipeline, preprocessing included, as one graph that "
            "takes the raw columns (numeric: float64 [N,1], categorical: string [N,1]). Before "
            "writing, the graph is run on the held-out rows and on generated raw rows (missing "
            "values, unseen categories, far-out values) and compared with scikit-learn: labels "
            "must be equal, probabilities within 1e-6, regression within 1e-6 relative. If they "
            "are not, nothing is written and the worst rows are printed (exit status 1)."
        ),
    )
    parser.add_argument(
        "dir", type=Path, metavar="DIR", help="artifacts folder of `pipeport train`"
    )
    parser.add_argument("--out", type=Path, help=f"output file (default: DIR/{ONNX_FILE})")
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


def run_export(args: argparse.Namespace) -> int:
    from pipeport.cli import CLIError

    started = time.perf_counter()
    directory: Path = args.dir
    pipeline_path = directory / "sklearn_pipeline.joblib"
    if not pipeline_path.exists():
        raise CLIError(
            f"{pipeline_path} not found; run `pipeport train CONFIG --out {directory}` first"
        )
    if args.rows < 0:
        raise CLIError("--rows must be 0 or more")

    import json

    import joblib
    import pandas as pd

    from pipeport.export.errors import ParityError, UnsupportedStepError
    from pipeport.export.onnx_export import read_metadata, to_onnx

    manifest_path = directory / "train_manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    holdout_path = directory / "holdout.csv"
    if not holdout_path.exists():
        raise CLIError(f"{holdout_path} not found; the parity gate needs the held-out raw rows")
    pipeline = joblib.load(pipeline_path)
    sample = pd.read_csv(holdout_path)
    name = manifest.get("name") or directory.resolve().name
    version = str(manifest.get("version", "1"))
    training = {
        "data_sha256": manifest.get("data", {}).get("sha256"),
        "config_sha256": manifest.get("config", {}).get("sha256"),
        "target": manifest.get("target"),
        "rows_train": manifest.get("data", {}).get("rows_train"),
        "metrics": manifest.get("metrics"),
        "packages": manifest.get("packages"),
    }
    out: Path = args.out or directory / ONNX_FILE
    print(
        f"[export] converting {name} ({type(pipeline[-1]).__name__}); checking parity on "
        f"{len(sample)} held-out + {args.rows} generated rows…",
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
        )
    except UnsupportedStepError as exc:
        raise CLIError(str(exc)) from None
    except ParityError as exc:
        print(str(exc), file=sys.stderr)
        print(
            f"pipeport export: refused to write {out}: the ONNX graph disagrees with scikit-learn "
            "(see the rows above). Use --force to write it anyway (recorded in its metadata).",
            file=sys.stderr,
        )
        return 1
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

    print(
        f"parity {'PASSED' if parity['passed'] else 'FAILED'}: {parity['rows']} rows, label "
        f"mismatches {parity['label_mismatches']}, near-ties {parity['near_ties']}, max abs error "
        f"{error(parity['max_abs_error'])}, max rel error {error(parity['max_rel_error'])}"
    )
    return 0
