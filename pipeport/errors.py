"""The errors of pipeport's public API.

Standard library only: the server imports this module, and so can a user's service that embeds
a pipeport ONNX file without scikit-learn installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple


class PipeportError(Exception):
    """Base class of pipeport's errors."""


class UnsupportedStepError(PipeportError, ValueError):
    """A pipeline step pipeport cannot export exactly.

    The message names the step by its path in the user's pipeline (``preprocess__cat__onehot``),
    its class and parameters, why, and what to do instead.
    """


class ParityError(PipeportError, RuntimeError):
    """The ONNX graph disagrees with scikit-learn on some rows.

    ``report`` is the comparison (worst rows first); the message is its table.
    """

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report


class RowError(NamedTuple):
    """One problem in raw input: the row (None for the input as a whole), the field, what."""

    row: int | None
    field: str | None
    problem: str

    def describe(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return (", ".join(where) + ": " if where else "") + self.problem


class RawInputError(PipeportError, ValueError):
    """Raw rows that break the raw-row contract; ``errors`` lists every problem found, not just
    the first, so that a caller can fix them at once."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        shown = "; ".join(e.describe() for e in self.errors[:5])
        more = len(self.errors) - 5
        super().__init__(shown + (f"; and {more} more" if more > 0 else ""))
