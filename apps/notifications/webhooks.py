"""Incoming-webhook URLs: which ones a team may register, how they are shown, how one is posted to.

The URL is the channel's credential. Nothing here puts it in a message: errors name the status
or the kind of network failure, never the URL (urllib's own messages would carry the host)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

USER_AGENT = "release-portal-chat"


class ChatUnavailable(Exception):
    """The chat service could not take the message now (network, 5xx, 429): worth retrying."""


class ChatRefused(Exception):
    """The chat service refused the message (another 4xx, a redirect): retrying would not help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _host_allowed(host: str) -> bool:
    host = host.lower().rstrip(".")
    for pattern in settings.CHAT_WEBHOOK_ALLOWED_HOSTS:
        pattern = pattern.lower().strip()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


def webhook_url_problem(url: str) -> str | None:
    """Why `url` may not be registered, or None. The answer never repeats the URL."""
    if not url or len(url) > 2000:
        return "Give the incoming webhook URL (at most 2000 characters)."
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 — raises ValueError for a port that is not a number
    except ValueError:
        return "This is not a valid URL."
    allowed_schemes = ("https", "http") if settings.CHAT_WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed_schemes:
        return "The webhook URL must start with https://."
    if not host or parts.username or parts.password:
        return "The webhook URL needs a host and no user name or password."
    if not _host_allowed(host):
        return (f"Webhooks to {host} are not allowed here; allowed hosts: "
                + ", ".join(settings.CHAT_WEBHOOK_ALLOWED_HOSTS) + " (CHAT_WEBHOOK_ALLOWED_HOSTS).")
    if not parts.path.strip("/"):
        return "The webhook URL has no path: copy the whole URL the chat service gave you."
    return None


def webhook_hint(url: str) -> str:
    """What people see of a webhook URL: its host and the last four characters."""
    try:
        host = urlsplit(url).hostname or "?"
    except ValueError:
        host = "?"
    return f"{host}/…{url[-4:]}" if len(url) > 12 else f"{host}/…"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could lead anywhere, past the allowed hosts: the chat services do not redirect.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post_json(url: str, body: dict[str, Any]) -> int:
    """One attempt. Returns the HTTP status (2xx); raises ChatUnavailable or ChatRefused."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise ChatRefused("not an http(s) URL")
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={  # noqa: S310
        "Content-Type": "application/json", "User-Agent": USER_AGENT})
    try:
        with _opener.open(request, timeout=settings.CHAT_WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        # Only the status: urllib's message and the request carry the URL.
        if exc.code >= 500 or exc.code == 429:
            raise ChatUnavailable(f"HTTP {exc.code}") from None
        raise ChatRefused(f"HTTP {exc.code}", status=exc.code) from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChatUnavailable(f"unreachable: {type(reason).__name__}") from None
    if not 200 <= status < 300:
        raise ChatRefused(f"HTTP {status}", status=status)
    return status
