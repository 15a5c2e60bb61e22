"""Request-body helpers shared by the protocol modules: media types, row counts, rows → feeds.

Pure functions that raise `ApiError`; the row rules themselves are pipeport.contract's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeport.contract import RawInputError, RowError, raw_rows_to_feeds
from pipeport.schema import ModelSchema
from pipeport.serving.errors import ApiError

JSON = "application/json"
#: Looks up a request header by its lower-case name (None when absent). The Flask views pass
#: `request.headers.get`, the fast paths a lookup into the WSGI environ or the RSGI scope.
HeaderLookup = Callable[[str], str | None]


def media_type(content_type: str | None) -> str:
    """`Application/JSON; charset=utf-8` → `application/json` (what werkzeug's mimetype gives)."""
    return (content_type or "").partition(";")[0].strip().lower()


def require_json(content_type: str | None) -> None:
    if media_type(content_type) != JSON:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be {JSON}, got {content_type or 'none'}",
        )


def check_batch_size(n: int, max_rows: int) -> None:
    if n == 0:
        raise ApiError(400, "empty_batch", "the request holds no rows; send at least one")
    if n > max_rows:
        raise ApiError(
            413, "too_many_rows", f"the request holds {n} rows; the limit is {max_rows} per request"
        )


def rows_field(rows: Any, max_rows: int) -> list[Any]:
    """The `rows` member of a /v1/predict body, checked for shape and count."""
    if rows is None:
        raise ApiError(
            400,
            "invalid_body",
            'request body needs "rows": an array of row objects',
            [RowError(None, "rows", "missing field")],
        )
    if not isinstance(rows, list):
        raise ApiError(
            400,
            "invalid_body",
            '"rows" must be an array of row objects',
            [RowError(None, "rows", "expected an array")],
        )
    check_batch_size(len(rows), max_rows)
    return rows


def rows_to_feeds(rows: list[Any], schema: ModelSchema) -> dict[str, Any]:
    """pipeport.contract's raw_rows_to_feeds, its row errors as one 422 answer."""
    try:
        return raw_rows_to_feeds(rows, schema)
    except RawInputError as exc:
        raise ApiError.from_row_errors(exc) from None
