"""The `pipeport` command: one entry point, one subcommand per stage.

Each stage registers its own subparser from a module that imports nothing heavy at module level,
so `pipeport serve --help` works on a server image that has no scikit-learn or pandas installed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pipeport import __version__

# (module, what it adds); each module defines register(subparsers) -> None.
_STAGES = (
    "pipeport.research.cli",
    "pipeport.export.cli",
    "pipeport.serving.cli",
    "pipeport.parity_tests.cli",
    "pipeport.monitor.cli",
)
# The stage module that registers each command: `pipeport serve …` builds only the serve parser,
# which keeps the other stages' imports out of the server's cold start.
_STAGE_OF_COMMAND = {
    "train": "pipeport.research.cli",
    "export": "pipeport.export.cli",
    "serve": "pipeport.serving.cli",
    "predict": "pipeport.serving.cli",
    "parity": "pipeport.parity_tests.cli",
    "replay": "pipeport.monitor.cli",
    "diff": "pipeport.monitor.cli",
}
#: Packages of the research extra that a `pipeport[serve]` image does not have.
_RESEARCH_PACKAGES = frozenset(
    {
        "sklearn",
        "pandas",
        "scipy",
        "skl2onnx",
        "onnx",
        "joblib",
        "pyarrow",
        "hypothesis",
        "tritonclient",
        "playwright",
    }
)

#: What `--engine dask` needs beyond a serve-only install: the dask extra (pipeport[dask]).
_DASK_PACKAGES = frozenset({"dask", "distributed", "pandas", "pyarrow", "fsspec"})


class CLIError(Exception):
    """An error for the user: printed as one line, exit status 2."""


def build_parser(stages: Sequence[str] = _STAGES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeport",
        description=(
            "Take a scikit-learn pipeline from research to production: train it on raw tabular "
            "data, export it (preprocessing included) as one ONNX graph, serve it over HTTP, and "
            "prove that every runtime returns what scikit-learn returns."
        ),
        epilog="Typical flow: pipeport train configs/penguins-species.toml && "
        "pipeport export artifacts/penguins-species && "
        "pipeport serve artifacts/penguins-species/pipeline.onnx",
    )
    parser.add_argument("--version", action="version", version=f"pipeport {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in stages:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a stage whose package is not installed (e.g. serve-only image)
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    stage = _STAGE_OF_COMMAND.get(words[0]) if words else None
    parser = build_parser(_STAGES if stage is None else (stage,))
    args = parser.parse_args(words)
    try:
        result = args.run(args)
    except CLIError as exc:
        print(f"pipeport {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pipeport {args.command}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        package = exc.name.split(".")[0] if exc.name else ""
        if getattr(args, "engine", None) == "dask" and package in _DASK_PACKAGES:
            print(
                f"pipeport {args.command}: error: --engine dask needs {package}, which is not "
                "installed; install the dask extra: pip install 'pipeport[dask]'",
                file=sys.stderr,
            )
            return 2
        if package not in _RESEARCH_PACKAGES:
            raise
        print(
            f"pipeport {args.command}: error: this command needs {package}, which "
            "a serve-only install does not have; install the research extra: "
            "pip install 'pipeport[research]'",
            file=sys.stderr,
        )
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
