"""Domain errors raised by services. The API turns them into the error body of API.md, and the
HTML views into a form or page message, so a rule is worded once."""

from __future__ import annotations


class PortalError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, list[str]] | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields or {}


class InvalidInput(PortalError):
    status = 400
    code = "invalid"


class NotAllowed(PortalError):
    status = 403
    code = "permission_denied"


class NotFound(PortalError):
    status = 404
    code = "not_found"


class Conflict(PortalError):
    status = 409
    code = "conflict"


class Unprocessable(PortalError):
    status = 422
    code = "unprocessable"
