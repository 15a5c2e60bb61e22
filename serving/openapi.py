"""The OpenAPI 3 document served at GET /openapi.json, generated from the model's schema.

Generated rather than hand-written so that the row schema (column names, kinds, nullability)
and the prediction shape (class keys) are exactly those of the file being served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeport.serving.model import InputSpec, ModelSchema

if TYPE_CHECKING:
    from pipeport.serving.state import ServingSettings

_ERROR_RESPONSES = {
    "400": "Malformed body (not JSON, not UTF-8, wrong structure, empty batch)",
    "401": "Missing or wrong bearer token (only when the server was started with a token)",
    "404": "Unknown route, model name or version",
    "405": "Method not allowed on this route",
    "413": "Body larger than the byte limit, or more rows than the row limit",
    "415": "Wrong Content-Type or Content-Encoding",
    "422": "Rows that break the raw-row contract (every row and field is named in details)",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _responses(ok: dict[str, Any], errors: tuple[str, ...]) -> dict[str, Any]:
    responses = {"200": ok}
    for code in errors:
        responses[code] = _json(_ref("Error"), _ERROR_RESPONSES[code])
    return responses


_BOUND_WORDS = {
    "greater_than": "greater than",
    "greater_or_equal": "at least",
    "less_than": "less than",
    "less_or_equal": "at most",
}


def _column_schema(spec: InputSpec) -> dict[str, Any]:
    """One raw column's JSON schema and description, as docs/onnx-contract.md states the rules."""
    missing = "null = missing" if spec.missing_allowed else "missing values are refused (422)"
    if spec.kind == "numeric":
        if spec.values == "booleans":
            column: dict[str, Any] = {"oneOf": [{"type": "number"}, {"type": "boolean"}]}
            what = "numeric (booleans read as 1/0)"
        else:
            column, what = {"type": "number"}, "numeric"
        parts = [what, missing]
        if spec.unknown_categories == "error":
            parts.append("accepted values: " + ", ".join(f"{c:g}" for c in spec.categories))
        if spec.valid_range:
            bounds = " and ".join(
                f"{_BOUND_WORDS[k]} {v:g}" for k, v in sorted(spec.valid_range.items())
            )
            reason = f" ({spec.valid_range_reason})" if spec.valid_range_reason else ""
            parts.append(f"must be {bounds}{reason}")
    else:
        column = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
        parts = [
            f"categorical ({spec.values}; a number or boolean is read as its Python text)",
            missing + ("" if not spec.missing_allowed else ', as is ""'),
        ]
        seen = ", ".join(map(str, spec.categories)) or "none recorded"
        if spec.unknown_categories == "error":
            parts.append(f"accepted values: {seen}; other values are refused (422)")
        else:
            parts.append(f"seen in training: {seen}; other values are accepted")
    column["nullable"] = spec.missing_allowed
    column["description"] = "; ".join(parts) + f" (ONNX input {spec.onnx_name!r})"
    return column


def build_openapi(schema: ModelSchema, settings: ServingSettings) -> dict[str, Any]:
    """The whole document, for the model `schema` and the limits in `settings`."""
    auth = settings.auth_token is not None
    secured: list[dict[str, list[str]]] = [{"bearer": []}] if auth else []
    body_errors = ("400", "401", "413", "415", "422") if auth else ("400", "413", "415", "422")
    read_errors = ("401",) if auth else ()

    row_properties = {spec.name: _column_schema(spec) for spec in schema.inputs}
    required = list(row_properties)
    for name in schema.unused_columns:
        row_properties[name] = {
            "description": "a training column the pipeline does not read: accepted, ignored"
        }
    if schema.task == "classification":
        label: dict[str, Any] = {"type": "integer"} if schema.label_is_int else {"type": "string"}
        properties: dict[str, Any] = {"label": label}
        if "probabilities" in schema.output_keys():
            properties["probabilities"] = {
                "type": "object",
                "properties": {str(c): {"type": "number"} for c in schema.classes},
            }
        prediction = {"type": "object", "required": list(properties), "properties": properties}
        simple: dict[str, Any] = label
    elif schema.task == "anomaly":
        prediction = {
            "type": "object",
            "required": ["label", "score"],
            "properties": {
                "label": {
                    "type": "integer",
                    "enum": [-1, 1],
                    "description": "-1: an outlier (score - offset < 0), 1: an inlier",
                },
                "score": {
                    "type": "number",
                    "nullable": True,
                    "description": "scikit-learn's score_samples: the lower, the more abnormal "
                    f"(offset {schema.offset!r})",
                },
            },
        }
        simple = {"type": "integer", "enum": [-1, 1]}
    else:
        prediction = {
            "type": "object",
            "required": ["prediction"],
            "properties": {"prediction": {"type": "number", "nullable": True}},
        }
        simple = {"type": "number"}

    rows = {"type": "array", "items": _ref("Row"), "minItems": 1, "maxItems": settings.max_rows}
    schemas: dict[str, Any] = {
        "Row": {
            "type": "object",
            "properties": row_properties,
            "required": required,
            "additionalProperties": False,
        },
        "Prediction": prediction,
        "ModelInfo": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "sha256": {"type": "string"},
            },
        },
        "PredictRequest": {
            "type": "object",
            "required": ["rows"],
            "properties": {"rows": rows},
            "additionalProperties": False,
        },
        "PredictResponse": {
            "type": "object",
            "properties": {
                "model": _ref("ModelInfo"),
                "predictions": {"type": "array", "items": _ref("Prediction")},
            },
        },
        "MLflowRequest": {
            "type": "object",
            "properties": {
                "dataframe_records": rows,
                "dataframe_split": {
                    "type": "object",
                    "required": ["columns", "data"],
                    "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "data": {"type": "array", "items": {"type": "array", "items": {}}},
                        "index": {"type": "array", "items": {}},
                    },
                },
                "params": {"type": "object", "description": "accepted and ignored"},
            },
        },
        "MLflowResponse": {
            "type": "object",
            "properties": {"predictions": {"type": "array", "items": simple}},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "details"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "row": {"type": "integer", "nullable": True},
                                    "field": {"type": "string", "nullable": True},
                                    "problem": {"type": "string"},
                                },
                            },
                        },
                        "details_omitted": {"type": "integer"},
                    },
                }
            },
        },
        "V2Tensor": {
            "type": "object",
            "required": ["name", "shape", "datatype"],
            "properties": {
                "name": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer"}},
                "datatype": {"type": "string", "enum": ["FP64", "BYTES", "INT64"]},
                "parameters": {"type": "object"},
                "data": {"type": "array", "items": {}},
            },
        },
        "V2InferRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "inputs": {"type": "array", "items": _ref("V2Tensor")},
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "parameters": {"type": "object"},
                        },
                    },
                },
            },
        },
        "V2InferResponse": {
            "type": "object",
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "outputs": {"type": "array", "items": _ref("V2Tensor")},
            },
        },
        "Object": {"type": "object"},
    }

    def op(
        summary: str,
        responses: dict[str, Any],
        body: dict[str, Any] | None = None,
        public: bool = False,
        params: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {"summary": summary, "responses": responses}
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
        if params:
            operation["parameters"] = params
        operation["security"] = [] if public else secured
        return operation

    name_param = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": f"the model name: {schema.name!r}",
    }
    version_param = {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": f"{schema.version!r}",
    }
    obj = _json(_ref("Object"), "OK")
    model_errors = (*read_errors, "404")
    infer_errors = (*body_errors, "404")
    paths: dict[str, Any] = {
        "/v1/predict": {
            "post": op(
                "Predict raw rows",
                _responses(
                    _json(_ref("PredictResponse"), "One prediction per row, in row order"),
                    body_errors,
                ),
                _ref("PredictRequest"),
            )
        },
        "/invocations": {
            "post": op(
                "MLflow scoring-server compatible prediction",
                _responses(
                    _json(_ref("MLflowResponse"), "Labels (classification) or values"), body_errors
                ),
                _ref("MLflowRequest"),
            )
        },
        "/metadata": {
            "get": op(
                "Schema, outputs, classes, versions, hashes, parity result",
                _responses(obj, read_errors),
            )
        },
        "/openapi.json": {"get": op("This document", _responses(obj, read_errors))},
        "/healthz": {"get": op("Liveness", _responses(obj, ()), public=True)},
        "/readyz": {"get": op("Readiness (model loaded)", _responses(obj, ()), public=True)},
        "/metrics": {
            "get": op(
                "Prometheus metrics",
                {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
                public=True,
            )
        },
        "/v2": {"get": op("OIP server metadata", _responses(obj, read_errors))},
        "/v2/health/live": {"get": op("OIP liveness", _responses(obj, ()), public=True)},
        "/v2/health/ready": {"get": op("OIP readiness", _responses(obj, ()), public=True)},
    }
    for prefix, params in (
        ("/v2/models/{name}", [name_param]),
        ("/v2/models/{name}/versions/{version}", [name_param, version_param]),
    ):
        paths[prefix] = {
            "get": op("OIP model metadata", _responses(obj, model_errors), params=params)
        }
        paths[f"{prefix}/ready"] = {
            "get": op("OIP model readiness", _responses(obj, model_errors), params=params)
        }
        paths[f"{prefix}/infer"] = {
            "post": op(
                "OIP inference (JSON, or Triton binary tensor extension)",
                _responses(_json(_ref("V2InferResponse"), "Output tensors"), infer_errors),
                _ref("V2InferRequest"),
                params=params,
            )
        }

    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": f"pipeport: {schema.name}",
            "version": schema.version,
            "description": f"Serves the {schema.task} model {schema.name!r} "
            f"version {schema.version!r} from its ONNX file.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if auth:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return document
