from __future__ import annotations

import re
import uuid

from .actor import RequestContext, request_context

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def client_ip(request) -> str:
    # Behind a proxy, REMOTE_ADDR is the proxy; deployments that trust X-Forwarded-For set
    # it through the proxy and gunicorn's forwarded-allow-ips, which rewrites REMOTE_ADDR.
    return request.META.get("REMOTE_ADDR", "") or ""


class RequestContextMiddleware:
    """Gives every request an id (the caller's X-Request-ID when sane) and exposes the request to
    the audit log, so events carry the request id, client address and acting user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        with request_context(RequestContext(request_id=request_id, ip=client_ip(request), request=request)):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
