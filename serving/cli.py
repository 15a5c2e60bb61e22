"""`pipeport serve` and `pipeport predict`.

Only argparse at module level: `pipeport --help` builds every stage's parser, and must stay fast
and work on any image. Flask, gunicorn and onnxruntime are imported when a command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ROWS = 10_000


def register(subparsers: Any) -> None:
    """Add the `serve` and `predict` subcommands (called by pipeport.cli)."""
    serve = subparsers.add_parser(
        "serve",
        help="serve a pipeport ONNX file over HTTP",
        description=(
            "Serve MODEL.onnx over HTTP (granian by default, or gunicorn), one worker process "
            "per core by default. "
            "Everything is read from the ONNX file: schema, classes, name and version. "
            "Endpoints: POST /v1/predict, POST /invocations (MLflow), /v2/... (Open Inference "
            "Protocol / Triton), GET /metadata, /openapi.json, /healthz, /readyz, /metrics."
        ),
    )
    serve.add_argument("model", metavar="MODEL.onnx", help="file written by `pipeport export`")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s; 0.0.0.0 for all)",
    )
    serve.add_argument("--port", type=int, default=8000, help="default: %(default)s")
    serve.add_argument(
        "--workers", type=_positive, default=0, help="worker processes (default: one per core)"
    )
    serve.add_argument(
        "--max-body-bytes",
        type=_positive,
        default=DEFAULT_MAX_BODY_BYTES,
        help="larger request bodies get 413 (default: %(default)s)",
    )
    serve.add_argument(
        "--max-rows",
        type=_positive,
        default=DEFAULT_MAX_ROWS,
        help="more rows in one request get 413 (default: %(default)s)",
    )
    serve.add_argument(
        "--auth-token-file",
        metavar="PATH",
        help="require `Authorization: Bearer <token>` (the file's content) on "
        "every route but /healthz, /readyz, /metrics and /v2/health/*",
    )
    serve.add_argument(
        "--server",
        choices=("granian", "gunicorn"),
        default="granian",
        help="HTTP server (default: %(default)s; see docs/serving.md for why)",
    )
    serve.add_argument(
        "--header-timeout",
        type=_positive_float,
        default=10.0,
        help="seconds a client has to send the request line and headers (granian; default: "
        "%(default)s)",
    )
    serve.add_argument(
        "--body-timeout",
        type=_positive_float,
        default=30.0,
        help="seconds a client then has to send the body; 408 after (granian; default: "
        "%(default)s)",
    )
    serve.add_argument(
        "--max-header-bytes",
        type=_positive,
        default=64 * 1024,
        help="largest request line + headers (granian; default: %(default)s)",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=_positive,
        default=10,
        help="seconds in-flight requests get to finish on shutdown (default: %(default)s)",
    )
    gunicorn = serve.add_argument_group("gunicorn only (--server gunicorn)")
    gunicorn.add_argument(
        "--worker-class",
        choices=("gthread", "sync"),
        default=None,
        help="gunicorn worker type (default: sync with --threads 1, gthread with more)",
    )
    gunicorn.add_argument(
        "--threads",
        type=_positive,
        default=1,
        help="threads per gthread worker (default: %(default)s)",
    )
    gunicorn.add_argument(
        "--keep-alive",
        type=_positive,
        default=5,
        help="seconds an idle connection is kept open (default: %(default)s)",
    )
    gunicorn.add_argument(
        "--timeout",
        type=_positive,
        default=30,
        help="seconds before a stuck worker is restarted (default: %(default)s)",
    )
    gunicorn.add_argument(
        "--control-socket",
        metavar="PATH",
        help="open gunicorn's control socket at PATH (default: none)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request to stderr")
    monitoring = serve.add_argument_group(
        "prediction log and shadow model (docs/operations.md)",
        "Every answered prediction request (or a sample) is appended, off the request path, "
        "to JSON Lines files in DIR, one per worker: its X-Request-ID, time, model name, "
        "version and sha256, the raw rows as received and the predictions returned. Read "
        "them with any JSON tool, replay them against scikit-learn with `pipeport replay`, "
        "compare two versions with `pipeport diff`.",
    )
    monitoring.add_argument(
        "--log-predictions",
        metavar="DIR",
        help="log answered prediction requests to DIR (created if missing)",
    )
    monitoring.add_argument(
        "--log-sample",
        type=_fraction,
        default=1.0,
        metavar="RATE",
        help="fraction of requests logged, drawn at random (0 < RATE <= 1; default: %(default)s)",
    )
    monitoring.add_argument(
        "--log-max-bytes",
        type=_positive,
        default=64 * 1024 * 1024,
        metavar="N",
        help="start a new file when a worker's file would pass N bytes (default: %(default)s)",
    )
    monitoring.add_argument(
        "--log-queue",
        type=_positive,
        default=10_000,
        metavar="N",
        help="requests a worker holds for its log writer; when full, requests are not logged "
        "(counted in /metrics as pipeport_prediction_log_dropped_total; default: %(default)s)",
    )
    monitoring.add_argument(
        "--shadow",
        metavar="OLD.onnx",
        help="also run this model on the rows of every logged request and log its predictions "
        "beside the served model's (for `pipeport diff --shadow-log`); the answer is always "
        "MODEL's, and nothing the shadow does affects it (needs --log-predictions)",
    )
    serve.set_defaults(run=run_serve)

    predict = subparsers.add_parser(
        "predict",
        help="score a CSV, JSONL or Parquet file offline (or many, on a Dask cluster)",
        description=(
            "Score every row of an input file with MODEL.onnx, using the same validation as "
            "the server. CSV: a header of raw column names, an empty field is missing. JSONL: "
            "one raw row (JSON object) per line. Parquet needs pyarrow. Output: a CSV with the "
            "input row number (from 0), the label and one probability column per class, the "
            "prediction, or an anomaly model's label (-1/1) and score. With --engine dask, "
            "CSV or Parquet files too big for one machine "
            "are scored on a Dask cluster by the same rules, into a directory of part files "
            "(docs/batch.md)."
        ),
    )
    predict.add_argument("model", metavar="MODEL.onnx", help="file written by `pipeport export`")
    predict.add_argument(
        "--input",
        required=True,
        metavar="ROWS",
        help="rows.csv, rows.jsonl or rows.parquet; with --engine dask also a directory or a "
        "quoted glob of .csv or .parquet files ('data/*.parquet'), rows numbered through the "
        "files in path order",
    )
    predict.add_argument(
        "--output",
        required=True,
        metavar="PREDS.csv",
        help="the output CSV; with --engine dask a new (or empty) directory for part files",
    )
    predict.add_argument(
        "--chunk-size",
        type=_positive,
        default=10_000,
        help="rows scored per session.run (default: %(default)s)",
    )
    predict.add_argument(
        "--ignore-unknown-columns",
        action="store_true",
        help="drop input columns the model does not use (e.g. the target)",
    )
    predict.add_argument(
        "--threads",
        type=_positive,
        default=None,
        help="onnxruntime threads for scoring (default: one per core; with --engine dask one "
        "per worker; results do not depend on it beyond float rounding of sums)",
    )
    predict.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on stderr (auto: when stderr is a terminal)",
    )
    predict.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: this process (default); dask: a Dask cluster, started here (LocalCluster) "
        "or reached with --scheduler; needs the dask extra: pip install 'pipeport[dask]'",
    )
    dask = predict.add_argument_group(
        "--engine dask",
        "One onnxruntime session per worker process, built from the model's bytes sent once. "
        "Each partition is written as DIR/part-NNNNN.parquet (or .csv) with the input row "
        "number in `row`; DIR/_pipeport.json is written last. Bad rows are reported as the "
        "local engine reports them, and then nothing is left in DIR.",
    )
    dask.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler (tcp://host:8786) whose workers have pipeport[dask] and "
        "see the input and output paths (shared storage); default: a LocalCluster here",
    )
    dask.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help="LocalCluster worker processes (default: one per core)",
    )
    dask.add_argument(
        "--memory-limit",
        metavar="SIZE",
        default=None,
        help="LocalCluster memory per worker, e.g. 2GiB (default: the machine's memory "
        "divided among the workers)",
    )
    dask.add_argument(
        "--keep-columns",
        metavar="COL,...",
        default=None,
        help="input columns copied to the output beside `row` (ids, keys)",
    )
    dask.add_argument(
        "--output-format",
        choices=("parquet", "csv"),
        default=None,
        help="part file format (default: parquet; csv is the local engine's format)",
    )
    dask.add_argument(
        "--partition-rows",
        type=_positive,
        default=None,
        help="rows per partition (default: 100000; Parquet: whole row groups, CSV: the byte "
        "size of that many rows); a worker holds about one partition's chunk at a time",
    )
    predict.set_defaults(run=run_predict)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def read_token(path: str) -> str:
    """The bearer token in `path`, stripped of surrounding whitespace."""
    from pipeport.cli import CLIError

    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
    except OSError as exc:
        raise CLIError(f"cannot read --auth-token-file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CLIError(f"--auth-token-file {path} is not UTF-8 text") from None
    if not token:
        raise CLIError(f"--auth-token-file {path} is empty")
    if any(c.isspace() for c in token):
        raise CLIError(f"--auth-token-file {path}: the token must not contain whitespace")
    return token


def run_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipeport.cli import CLIError
    from pipeport.serving.app import ServingSettings, create_app_for_model
    from pipeport.serving.granian_app import PortInUse, check_port_free
    from pipeport.serving.model import ModelLoadError, load_model
    from pipeport.serving.predlog import LogSettings, PredictionLogError

    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be between 0 and 65535, got {args.port}")
    if args.shadow and not args.log_predictions:
        raise CLIError("--shadow needs --log-predictions DIR: the shadow's predictions are logged")
    token = read_token(args.auth_token_file) if args.auth_token_file else None
    log = None
    if args.log_predictions:
        log = LogSettings(
            directory=Path(args.log_predictions),
            sample=args.log_sample,
            max_bytes=args.log_max_bytes,
            queue_size=args.log_queue,
        )
    settings = ServingSettings(
        max_body_bytes=args.max_body_bytes,
        max_rows=args.max_rows,
        auth_token=token,
        log=log,
        shadow_model=args.shadow,
    )
    try:
        check_port_free(args.host, args.port)  # before the model loads: say it at once
        model = load_model(args.model)
        app = create_app_for_model(model, settings)
    except (ModelLoadError, PortInUse, PredictionLogError) as exc:
        raise CLIError(str(exc)) from None
    try:
        if args.server == "gunicorn":
            return _run_gunicorn(app, args)
        return _run_granian(app, args)
    except PortInUse as exc:
        raise CLIError(str(exc)) from None


def _run_granian(app: Any, args: argparse.Namespace) -> int:
    from pipeport.serving.granian_app import GranianSettings, run_granian

    return run_granian(
        app,
        GranianSettings(
            host=args.host,
            port=args.port,
            workers=args.workers,
            header_timeout_s=args.header_timeout,
            body_timeout_s=args.body_timeout,
            max_header_bytes=args.max_header_bytes,
            graceful_timeout_s=args.graceful_timeout,
            access_log=args.access_log,
        ),
    )


def _run_gunicorn(app: Any, args: argparse.Namespace) -> int:
    from pipeport.serving.gunicorn_app import GunicornSettings, run_gunicorn

    run_gunicorn(
        app,
        GunicornSettings(
            host=args.host,
            port=args.port,
            workers=args.workers,
            worker_class=args.worker_class,
            threads=args.threads,
            keepalive=args.keep_alive,
            timeout=args.timeout,
            graceful_timeout=args.graceful_timeout,
            access_log=args.access_log,
            control_socket=args.control_socket,
        ),
    )
    return 0


#: Options of --engine dask (None unless given).
_DASK_ONLY = (
    "scheduler",
    "workers",
    "memory_limit",
    "keep_columns",
    "output_format",
    "partition_rows",
)


def run_predict(args: argparse.Namespace) -> int:
    import sys

    from pipeport.cli import CLIError

    if args.engine == "dask":
        # Only this engine imports dask and pandas (pipeport/dask_batch.py), never the server.
        from pipeport import dask_batch

        return dask_batch.run(args)
    given = [name for name in _DASK_ONLY if getattr(args, name) is not None]
    if given:
        raise CLIError(f"--{given[0].replace('_', '-')} needs --engine dask")

    from pipeport.serving.batch import BatchError, predict_file
    from pipeport.serving.model import ModelLoadError, load_model

    try:
        from pipeport.serving.gunicorn_app import default_workers

        model = load_model(args.model, threads=args.threads or default_workers())
        rows = predict_file(
            model,
            args.input,
            args.output,
            chunk_size=args.chunk_size,
            ignore_unknown_columns=args.ignore_unknown_columns,
            progress=args.progress,
        )
    except (ModelLoadError, BatchError) as exc:
        raise CLIError(str(exc)) from None
    print(f"pipeport predict: wrote {rows} predictions to {args.output}", file=sys.stderr)
    return 0
