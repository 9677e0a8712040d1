"""One exception handler for every endpoint: the error body of API.md.

    {"error": {"code": "<machine_code>", "message": "<for people>", "fields": {"<field>": ["..."]}}}
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from releaseportal.api.parsers import RequestTooLarge
from releaseportal.errors import PortalError
from releaseportal.faults import DATABASE_DOWN, RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)

_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
    exceptions.ValidationError: "validation_error",
}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors for nested serializers and lists; flatten them to dotted field names."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if name == "non_field_errors":
                name = "non_field_errors"
            for sub_key, messages in _flatten_fields(value, name).items():
                fields.setdefault(sub_key, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            fields[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                for sub_key, messages in _flatten_fields(item, f"{prefix}[{index}]").items():
                    fields.setdefault(sub_key, []).extend(messages)
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return fields


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, PortalError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)

    if isinstance(exc, DATABASE_DOWN):
        # Database unreachable (restart, fail-over): the client should retry, not give up.
        logger.error("database unreachable during %s", context.get("request").path if context.get("request") else "?",
                     exc_info=exc)
        set_rollback()
        return Response(error_body("service_unavailable", "The database is unreachable; retry shortly."),
                        status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, TooManyFieldsSent):
        exc = exceptions.ValidationError({"non_field_errors": ["The request has too many fields."]})

    if not isinstance(exc, exceptions.APIException):
        # A real bug: Django logs it and handler500 (releaseportal/faults.py) answers the JSON body.
        return None

    set_rollback()
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    code = getattr(exc, "portal_code", None) or next(
        (value for cls, value in _CODES.items() if isinstance(exc, cls)), "error"
    )
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten_fields(exc.detail)
        names = ", ".join(name for name in fields if name != "non_field_errors")
        message = f"Invalid input: {names}." if names else "; ".join(fields.get("non_field_errors", ["Invalid input."]))
        return Response(error_body(code, message, fields), status=exc.status_code, headers=headers)
    detail = exc.detail
    message = str(detail) if not isinstance(detail, (dict, list)) else "Request refused."
    return Response(error_body(code, message), status=exc.status_code, headers=headers)
