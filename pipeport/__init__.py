"""pipeport: one scikit-learn pipeline -> one ONNX graph -> served and proven equal.

The public, stable API (docs/python-api.md):

    to_onnx(pipeline, sample_raw_dataframe, name)    -> onnx.ModelProto, gated on parity
    read_metadata(model_or_path)                     -> the contract the file carries (a dict)
    frame_to_feeds(raw_dataframe, metadata)          -> onnxruntime feeds, by the raw-row contract
    check_parity(pipeline, model_path, raw_dataframe, runtimes=[...]) -> report, or ParityError
    register_converter(cls, convert, ...)            -> export your own transformer
    UnsupportedStepError, ParityError, RawInputError -> what they raise

Everything else (pipeport.export, pipeport.serving, ...) is internal and may move. Attributes
are imported on first use, so `import pipeport` stays cheap for a server that only needs the
contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeport.errors import (
    ParityError,
    PipeportError,
    RawInputError,
    RowError,
    UnsupportedStepError,
)

__version__ = "0.2.0"

__all__ = [
    "ParityError",
    "PipeportError",
    "RawInputError",
    "RowError",
    "UnsupportedStepError",
    "__version__",
    "check_parity",
    "frame_to_feeds",
    "read_metadata",
    "register_converter",
    "to_onnx",
]

_LAZY = {
    "to_onnx": ("pipeport.export.onnx_export", "to_onnx"),
    "read_metadata": ("pipeport.export.onnx_export", "read_metadata"),
    "frame_to_feeds": ("pipeport.contract", "frame_to_feeds"),
    "check_parity": ("pipeport.parity_tests.harness", "check_parity"),
    "register_converter": ("pipeport.export.registry", "register_converter"),
}

if TYPE_CHECKING:
    from pipeport.contract import frame_to_feeds
    from pipeport.export.onnx_export import read_metadata, to_onnx
    from pipeport.export.registry import register_converter
    from pipeport.parity_tests.harness import check_parity


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pipeport' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
