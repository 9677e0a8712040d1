"""Logging filters wired in settings.LOGGING."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied


class QuietPermissionDenied(logging.Filter):
    """Django logs every PermissionDenied with its traceback (django.request, "Forbidden
    (Permission denied)"). A refusal is the permission check doing its job: keep the one-line
    warning (path, status) and drop the traceback, so real errors stay visible in the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
