"""MLflow's scoring-server protocol: `POST /invocations` with `dataframe_records` or
`dataframe_split` bodies, answered with `{"predictions": [...]}` (labels or values, what an MLflow
scikit-learn model returns)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipeport.contract import RawInputError, RowError
from pipeport.serving.errors import ApiError, decode_json, reject_unknown_keys, require_object
from pipeport.serving.fastpath import Answer, fast_routes
from pipeport.serving.outputs import to_json
from pipeport.serving.payloads import (
    JSON,
    HeaderLookup,
    check_batch_size,
    require_json,
    rows_to_feeds,
)
from pipeport.serving.predlog import Record
from pipeport.serving.state import ServingState
from pipeport.serving.views import view

if TYPE_CHECKING:
    from flask import Flask

FORMATS = ("dataframe_records", "dataframe_split", "instances", "inputs")


def invocations_answer(
    state: ServingState, _path: str, header: HeaderLookup, read_body: Callable[[], bytes]
) -> Answer:
    require_json(header("content-type"))
    body = require_object(decode_json(read_body()))
    rows = mlflow_rows(body, state.settings.max_rows)
    feeds = rows_to_feeds(rows, state.model.schema)
    outputs = state.predict(feeds)
    values = state.formatter.simple(outputs)
    record = Record("invocations", rows, feeds, outputs)
    return Answer(JSON, f'{{"predictions":{to_json(values)}}}'.encode(), len(rows), (), record)


def register(app: Flask) -> None:
    app.add_url_rule("/invocations", "invocations", view(invocations_answer), methods=["POST"])
    fast_routes(app).add("POST", "/invocations", "invocations", invocations_answer)


def mlflow_rows(body: dict[str, Any], max_rows: int) -> list[Any]:
    """MLflow scoring-server bodies → raw rows (dataframe_records / dataframe_split)."""
    formats = [key for key in FORMATS if key in body]
    reject_unknown_keys(body, (*FORMATS, "params"), "request body")
    if len(formats) != 1:
        raise ApiError(
            400, "invalid_body", "send exactly one of dataframe_records or dataframe_split"
        )
    kind = formats[0]
    if kind in ("instances", "inputs"):
        raise ApiError(
            400,
            "invalid_body",
            f"{kind!r} (tensor input) is not supported by this model; send "
            "dataframe_records or dataframe_split with the raw columns",
        )
    if kind == "dataframe_records":
        rows = body[kind]
        if not isinstance(rows, list):
            raise ApiError(400, "invalid_body", "dataframe_records must be an array of objects")
        check_batch_size(len(rows), max_rows)
        return rows
    split = require_object(body[kind], "dataframe_split")
    reject_unknown_keys(split, ("columns", "data", "index"), "dataframe_split")
    columns, data = split.get("columns"), split.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ApiError(400, "invalid_body", "dataframe_split.columns must be an array of strings")
    if not isinstance(data, list):
        raise ApiError(400, "invalid_body", "dataframe_split.data must be an array of arrays")
    check_batch_size(len(data), max_rows)
    errors, rows = [], []
    for i, values in enumerate(data):
        if not isinstance(values, list) or len(values) != len(columns):
            errors.append(
                RowError(i, None, f"expected an array of {len(columns)} values (one per column)")
            )
            continue
        rows.append(dict(zip(columns, values, strict=True)))
    if errors:
        raise ApiError.from_row_errors(RawInputError(errors))
    return rows
