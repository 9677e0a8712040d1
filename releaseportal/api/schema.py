"""OpenAPI generation made true to the answers (issue 17, checked by schemathesis in
tests/foundation/test_api_schema_contract.py):

- `PortalAutoSchema`: a response field read through a nullable model field or relation
  (`implementer.username`, `artifact.digest`, an optional foreign key), or whose default is None,
  is declared nullable, since DRF answers null when any step of its source is null.
- `add_standard_error_responses`: the refusals every endpoint can answer are documented on every
  operation, with the error body of API.md (4xx codes were undocumented on 47 operations, so a
  contract test flagged each refusal as undocumented).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


def source_may_be_null(field) -> bool:
    """Whether a field of a ModelSerializer can read None: a step of its source is a model field
    or relation declared `null=True` (DRF stops at the first None and answers null)."""
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    attrs = getattr(field, "source_attrs", None)
    if model is None or not attrs or field.source == "*":
        return False
    for attr in attrs:
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return False
        if getattr(model_field, "null", False):
            return True
        if not model_field.is_relation or model_field.related_model is None:
            return False
        if model_field.one_to_many or model_field.many_to_many:
            return False
        if model_field.auto_created and not model_field.concrete:
            # A reverse one-to-one may be missing.
            return True
        model = model_field.related_model
    return False


class PortalAutoSchema(AutoSchema):
    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if (direction == "response" and isinstance(field, serializers.Field) and not meta.get("nullable")
                and not getattr(field, "many", False)
                and (field.default is None or source_may_be_null(field))):
            meta["nullable"] = True
        return meta

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
    "415": "Unsupported media type (the body is not JSON, or not a form where one is accepted).",
    "422": "Understood but not processable in the record's current state (e.g. not enough samples).",
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
