"""Errors of the export stage."""

from __future__ import annotations

from typing import Any


class UnsupportedStepError(ValueError):
    """A pipeline step that has no exact ONNX conversion; the message says what to use instead."""


class ParityError(RuntimeError):
    """The ONNX graph disagrees with scikit-learn; carries the parity report."""

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report
