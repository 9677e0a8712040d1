"""OpenAPI postprocessing: the refusals every endpoint can answer are documented on every
operation, with the error body of API.md (issue 17: 4xx codes were undocumented on 47
operations, so a contract test flagged each refusal as undocumented)."""

from __future__ import annotations

from typing import Any

ERROR_COMPONENT = "ErrorBody"
# Every operation can answer these (input layer, authentication, scopes, unknown objects,
# unsupported methods, idempotency conflicts, throttling, oversized bodies, database outage).
STANDARD_ERRORS = {
    "400": "Invalid input (the fields named in `error.fields`).",
    "401": "Not authenticated.",
    "403": "Not allowed (role, scope or segregation of duties).",
    "404": "Not found, or not visible to the caller.",
    "405": "Method not allowed on this endpoint.",
    "409": "Conflict (state, idempotency key).",
    "413": "Request body too large.",
    "429": "Too many requests.",
    "500": "Server error (the body is still the error body).",
    "503": "Database unreachable; retry after `Retry-After` seconds.",
}

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
        }
    },
}


def add_standard_error_responses(result: dict, generator, request, public) -> dict:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, _ERROR_SCHEMA)
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in STANDARD_ERRORS.items():
                responses.setdefault(status, {"description": description,
                                              "content": {"application/json": {"schema": ref}}})
    return result
