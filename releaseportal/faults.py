"""What the portal answers when the request is hostile or the server is failing.

- Under /api/ every answer is the error body of API.md, including 400 (Django's own refusals:
  oversized bodies, too many fields), 404 for unknown routes, 500 and 503.
- While the database is unreachable (OperationalError / InterfaceError) the answer is 503 with
  `Retry-After`: JSON under /api/, a small page that retries by itself for browsers. Django
  closes the broken connection at the end of the request, so the next request reconnects and
  the portal recovers without a restart.
- InputGuardMiddleware refuses a path or query parameter holding NUL or control characters on
  every route before any view, selector or database sees it, and a JSON body to the API or a
  webhook nested deeper than the input layer's bound before authentication (no token or session lookup, no signature
  check): the refusal costs a scan of the body, nothing else.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template import loader
from django.views import defaults

from releaseportal.input import MAX_JSON_DEPTH, control_characters, json_depth_exceeds

logger = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)
# Long enough for a database restart or fail-over, short enough that a pipeline does not stall.
RETRY_AFTER_SECONDS = 5


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def error_json(status: int, code: str, message: str, fields: dict | None = None, *,
               headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def unavailable_json() -> JsonResponse:
    return error_json(503, "service_unavailable", "The database is unreachable; retry shortly.",
                      headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def unavailable_page() -> HttpResponse:
    # Rendered without a request: no context processor (session, user, navigation) touches the
    # database that is down.
    body = loader.get_template("503.html").render({"retry_after": RETRY_AFTER_SECONDS})
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def bad_request(request, exception=None):
    """handler400: SuspiciousOperation and BadRequest raised outside a DRF view."""
    if isinstance(exception, RequestDataTooBig):
        if is_api(request):
            return error_json(413, "request_too_large", "The request body is too large.")
        return HttpResponse("Request body too large.", status=413, content_type="text/plain; charset=utf-8")
    if is_api(request):
        if isinstance(exception, TooManyFieldsSent):
            return error_json(400, "too_many_fields", "The request has too many fields.")
        return error_json(400, "bad_request", "The request could not be read.")
    return defaults.bad_request(request, exception)


def page_not_found(request, exception=None):
    if is_api(request):
        return error_json(404, "not_found", "No such endpoint.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    """handler500: called inside Django's `except` block, so the exception is sys.exc_info()."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_DOWN):
        return unavailable_json() if is_api(request) else unavailable_page()
    if is_api(request):
        return error_json(500, "server_error", "The server failed to answer this request; it has been logged.")
    return defaults.server_error(request)


# Set on a request whose JSON body the guard scanned and found within the depth bound, so the
# API's JSON parser does not scan it again (releaseportal/api/parsers.py).
DEPTH_CHECKED = "releaseportal.json_depth_checked"


# The routes answering the portal's error body (API.md): the API and the signed webhooks. SCIM
# answers its own error schema (apps/scim) and parses its bodies itself.
DEPTH_GUARDED_PREFIXES = ("/api/", "/hooks/")


def _json_body(request) -> bool:
    if not request.path.startswith(DEPTH_GUARDED_PREFIXES):
        return False
    content_type = request.META.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    return content_type == "application/json" or (content_type.startswith("application/")
                                                   and content_type.endswith("+json"))


def _body_within_upload_limit(request) -> bool:
    """A body Django reads into memory anyway (request.body): a declared length within
    DATA_UPLOAD_MAX_MEMORY_SIZE. Larger or undeclared ones are left to the view's parser, which
    applies the view's own limit (evidence, plans) and the same depth bound."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return length > 0 and (limit is None or length <= limit)


class InputGuardMiddleware:
    """Refuses NUL and C0 control characters in the path and in query parameters (keys and
    values) on every route: 400 naming the parameter. Refuses a JSON body nested deeper than
    MAX_JSON_DEPTH to the API and the signed webhooks before authentication: 400
    `nested_too_deeply` with the error body, the same refusal the API's parser makes."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        problem = self._problem(request)
        if problem is not None:
            message = f"{problem} contains control characters."
            if is_api(request):
                return error_json(400, "control_character", message, {problem: ["Control characters are not allowed."]})
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        if _json_body(request) and _body_within_upload_limit(request):
            if json_depth_exceeds(request.body):
                return error_json(400, "nested_too_deeply", f"The body nests deeper than {MAX_JSON_DEPTH} levels.",
                                  {"body": [f"nested deeper than {MAX_JSON_DEPTH} levels"]})
            request.META[DEPTH_CHECKED] = True
        return self.get_response(request)

    @staticmethod
    def _problem(request) -> str | None:
        if control_characters(request.path):
            return "path"
        for key, values in request.GET.lists():
            if control_characters(key) or any(control_characters(value) for value in values):
                return key.encode("unicode_escape").decode()
        return None
