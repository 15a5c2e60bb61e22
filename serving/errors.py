"""The one error shape every endpoint answers with, and strict JSON body decoding.

`{"error": {"code", "message", "details": [{"row", "field", "problem"}]}}`: a client can show
`message` to a person and use `details` to point at every bad row and field at once. Details are
capped (a huge bad batch must not produce a huge error), with the count of those left out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipeport.contract import NonFiniteToken, RawInputError, RowError

DEFAULT_MAX_DETAILS = 100
# Built once: json.loads(..., parse_constant=...) would build a decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=NonFiniteToken)


class ApiError(Exception):
    """An answer for the client: HTTP status, a stable machine code, a sentence, details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[RowError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = headers or {}

    @classmethod
    def from_row_errors(cls, exc: RawInputError) -> ApiError:
        count = len(exc.errors)
        rows = {e.row for e in exc.errors if e.row is not None}
        where = f" in {len(rows)} row{'s' if len(rows) != 1 else ''}" if rows else ""
        noun = "problem" if count == 1 else "problems"
        return cls(422, "invalid_rows", f"{count} {noun}{where}; see details", exc.errors)

    def body(self, max_details: int = DEFAULT_MAX_DETAILS, oip: bool = False) -> bytes:
        """The JSON error body; `oip=True` gives the Open Inference Protocol form.

        OIP (and tritonclient, whose exception formatting breaks otherwise) wants `error` to be
        a string, so there the message (with the first problems spelled out) is the string and
        `code` and `details` sit beside it.
        """
        shown = self.details[:max_details]
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "details": [{"row": d.row, "field": d.field, "problem": d.problem} for d in shown],
        }
        if len(self.details) > len(shown):
            error["details_omitted"] = len(self.details) - len(shown)
        if oip:
            summary = str(RawInputError(self.details)) if self.details else ""
            text = f"{self.message}: {summary}" if summary else self.message
            return json.dumps(
                {"error": text, **{k: v for k, v in error.items() if k != "message"}},
                ensure_ascii=False,
            ).encode()
        return json.dumps({"error": error}, ensure_ascii=False).encode()


def decode_json(data: bytes) -> Any:
    """Parse a request body as UTF-8 JSON, mapping every failure to a 400 `ApiError`.

    NaN/Infinity tokens (not JSON, but accepted by Python's parser) become `NonFiniteToken`
    so the row validator reports them with their row and field. Very deep nesting hits the
    parser's recursion limit and is reported, not raised.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, "invalid_utf8", f"request body is not valid UTF-8 (bad byte at offset {exc.start})"
        ) from None
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise ApiError(400, "malformed_json", "request body is nested too deeply") from None
    except ValueError as exc:
        if not text.strip():
            raise ApiError(
                400, "malformed_json", "request body is empty; expected a JSON object"
            ) from None
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc}") from None


def require_object(value: Any, what: str = "request body") -> dict[str, Any]:
    if not isinstance(value, dict):
        kind = "array" if isinstance(value, list) else type(value).__name__
        raise ApiError(400, "invalid_body", f"{what} must be a JSON object, got {kind}")
    return value


def reject_unknown_keys(body: dict[str, Any], allowed: Sequence[str], what: str) -> None:
    unknown = [key for key in body if key not in allowed]
    if unknown:
        raise ApiError(
            400,
            "invalid_body",
            f"unknown field(s) in {what}: {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(map(repr, allowed))}",
            [RowError(None, str(key), "unknown field") for key in unknown],
        )
