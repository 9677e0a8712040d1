"""The DRF parsers every endpoint uses (settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

JSON is bounded in size and depth before it is parsed, and a NUL anywhere in the decoded
document (a key or a value) is refused naming its path: PostgreSQL cannot store NUL, and
Python's parser exhausts the recursion limit near 1,000 levels. Form and multipart fields get
the same NUL refusal."""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions, parsers

from releaseportal.errors import InvalidInput
from releaseportal.faults import DEPTH_CHECKED
from releaseportal.input import load_json_bounded


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"
    portal_code = "request_too_large"


def max_body_bytes(parser_context: dict | None = None) -> int:
    """DATA_UPLOAD_MAX_MEMORY_SIZE, or the view's own `max_body_bytes` (evidence, plans)."""
    view = (parser_context or {}).get("view")
    return int(getattr(view, "max_body_bytes", 0) or settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440)


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"The request body is larger than {limit} bytes.")


def _refuse(error: InvalidInput) -> exceptions.ValidationError:
    exc = exceptions.ValidationError(error.fields or {"non_field_errors": [error.message]})
    exc.portal_code = error.code
    return exc


class PortalJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_body_bytes(parser_context)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise _too_large(limit)
        request = (parser_context or {}).get("request")
        # The input guard scanned the same body before authentication (releaseportal/faults.py).
        checked = bool(request is not None and request.META.get(DEPTH_CHECKED))
        try:
            return load_json_bounded(raw, field="body", depth_checked=checked)
        except InvalidInput as error:
            if error.code == "parse_error":
                raise exceptions.ParseError(error.message) from None
            raise _refuse(error) from None


def _check_query_dict(data) -> None:
    for key, values in data.lists():
        for value in [key, *values]:
            if isinstance(value, str) and "\x00" in value:
                raise _refuse(InvalidInput("NUL", code="control_character",
                                           fields={key.replace("\x00", "\\u0000"): ["NUL characters are not allowed."]}))


class PortalFormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check_query_dict(data)
        return data


class PortalMultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _check_query_dict(result.data)
        return result
