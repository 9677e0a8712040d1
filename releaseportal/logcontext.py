"""Structured logs: every line carries the request id, the actor and the change it concerns, and
nothing secret ever reaches a log line.

`RequestContextFilter` reads the context the audit middleware and `acting_as` already keep (no
database query: a log line must never change a page's query count); `RedactSecretsFilter`
formats the message first and scrubs tokens, passwords and signatures from it and from the
traceback text. Both are attached to the console handler in settings.LOGGING, whose formatter is
python-json-logger's JSON formatter unless LOG_FORMAT=plain."""

from __future__ import annotations

import logging
import re

from django.utils.functional import empty

from apps.audit.actor import _actor, current_request_context

_CHANGE_NUMBER = re.compile(r"^CHG-\d+$")

# Portal API tokens (rp_<prefix>_<secret>), bearer/token credentials, and key=value secrets in
# query strings, form bodies or exception messages.
_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"rp_[0-9a-f]{8}_[A-Za-z0-9_\-]{20,}"), "rp_[redacted]"),
    (re.compile(r"(?i)\b(bearer|token|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 [redacted]"),
    (re.compile(r"(?i)(password|passwd|secret|api[_-]?key|access[_-]?token|client[_-]?secret|signature|"
                r"csrfmiddlewaretoken|sessionid)(\"?\s*[:=]\s*\"?)([^\s\"'&,;}]+)"), r"\1\2[redacted]"),
    (re.compile(r"(?i)sha256=[0-9a-f]{16,}"), "sha256=[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _loaded_user(request):
    """The request's user only if authentication already ran (no query from a log line)."""
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", None)
    if user is not None and wrapped is None:
        return user  # DRF replaced the lazy object with the real user
    if wrapped is not None and wrapped is not empty:
        return wrapped
    return request.__dict__.get("_cached_user")


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = current_request_context()
        request = getattr(ctx, "request", None)
        if not hasattr(record, "request_id"):
            record.request_id = getattr(ctx, "request_id", "") or ""
        if not hasattr(record, "actor"):
            actor = _actor.get()
            label = actor.label if actor is not None else ""
            if not label and request is not None:
                user = _loaded_user(request)
                if user is not None and getattr(user, "is_authenticated", False):
                    label = user.get_username()
            record.actor = label
        if not hasattr(record, "change"):
            change = ""
            match = getattr(request, "resolver_match", None) if request is not None else None
            if match is not None:
                number = str(match.kwargs.get("ref") or match.kwargs.get("number") or "")
                change = number if _CHANGE_NUMBER.match(number) else ""
            record.change = change
        # The request object itself (Django attaches it to django.request records) is not
        # serialisable and can carry credentials; the request id identifies it.
        if hasattr(record, "request") and not isinstance(record.request, str):
            record.request = f"{getattr(record.request, 'method', '')} {getattr(record.request, 'path', '')}"
        return True


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the line
            message = str(record.msg)
        record.msg = redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            # Formatters would render the traceback again from exc_info, unredacted; the text is kept.
            record.exc_info = None
        return True
