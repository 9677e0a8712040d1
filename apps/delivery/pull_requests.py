"""GitHub `pull_request` deliveries: what they must contain, and what they mean for us.

A pull request is kept per provider id, linked to its service (by repository) and to the change
it names: the first `CHG-000123` in its title, then its branch, then its description. Only a
change of the same service is linked; a reference to anything else is kept as written and
reported. Deliveries may arrive out of order, so one older than the stored state changes nothing.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.utils.dateparse import parse_datetime

from .models import PullRequest, WebhookDelivery
from .webhook_mapping import service_for_repository

CHANGE_REF = re.compile(r"\bCHG-?(\d{1,9})\b", re.IGNORECASE)
_SHA = re.compile(r"^[0-9a-f]{40}$")


def _time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def problems(payload: dict) -> dict[str, list[str]]:
    """Field-named problems with a pull_request payload; empty when it can be processed."""
    found: dict[str, list[str]] = {}
    pr = payload.get("pull_request")
    if not isinstance(pr, dict):
        return {"pull_request": ["required: an object"]}
    if not isinstance(pr.get("id"), int) or isinstance(pr.get("id"), bool):
        found["pull_request.id"] = ["required: an integer"]
    number = pr.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        found["pull_request.number"] = ["required: a positive integer"]
    if not isinstance(pr.get("title"), str):
        found["pull_request.title"] = ["required: a string"]
    if pr.get("state") not in ("open", "closed"):
        found["pull_request.state"] = ["must be open or closed"]
    head = pr.get("head")
    if not isinstance(head, dict) or not _SHA.match(str(head.get("sha", ""))):
        found["pull_request.head.sha"] = ["required: a 40-character lowercase hexadecimal commit SHA"]
    merge_sha = pr.get("merge_commit_sha")
    if merge_sha not in (None, "") and not _SHA.match(str(merge_sha)):
        found["pull_request.merge_commit_sha"] = ["not a 40-character lowercase hexadecimal commit SHA"]
    for key in ("created_at", "updated_at", "closed_at", "merged_at"):
        value = pr.get(key)
        if value is not None and _time(value) is None:
            found[f"pull_request.{key}"] = ["not an ISO 8601 time"]
    repository = payload.get("repository")
    if not isinstance(repository, dict) or not isinstance(repository.get("full_name"), str) \
            or not repository.get("full_name"):
        found["repository.full_name"] = ["required: the repository's owner/name"]
    return found


def change_reference(*texts: str | None) -> str:
    """The first change number named in the texts, normalised (`CHG-000123`), or ''."""
    from apps.changes.models import ChangeRequest

    for text in texts:
        match = CHANGE_REF.search(text or "")
        if match:
            return ChangeRequest.format_number(int(match.group(1)))
    return ""


def fields_from(payload: dict) -> dict:
    """The stored fields of a pull request, from a payload that passed `problems`."""
    pr = payload["pull_request"]
    head, base = pr.get("head") or {}, pr.get("base") or {}
    merged = bool(pr.get("merged")) or pr.get("merged_at") is not None
    state = PullRequest.State.MERGED if merged else (PullRequest.State.OPEN if pr["state"] == "open"
                                                      else PullRequest.State.CLOSED)
    return {
        "repository": payload["repository"]["full_name"][:200], "number": pr["number"],
        "title": pr["title"][:300], "url": str(pr.get("html_url") or "")[:500],
        "author": str((pr.get("user") or {}).get("login") or "")[:100], "state": state,
        "draft": bool(pr.get("draft")), "head_ref": str(head.get("ref") or "")[:255], "head_sha": head["sha"],
        "base_ref": str(base.get("ref") or "")[:255],
        # GitHub fills merge_commit_sha with a test merge while the PR is open: only a merge is a commit.
        "merge_commit_sha": str(pr.get("merge_commit_sha") or "") if merged else "",
        "opened_at": _time(pr.get("created_at")), "merged_at": _time(pr.get("merged_at")),
        "closed_at": _time(pr.get("closed_at")), "provider_updated_at": _time(pr.get("updated_at")),
    }


def process(delivery: WebhookDelivery, payload: dict, actor) -> tuple[str, str]:
    from . import services
    from .selectors import change_by_ref

    found = problems(payload)
    if found:  # stored before this check existed, or edited since: say what is wrong
        return WebhookDelivery.Status.FAILED, "; ".join(f"{k}: {v[0]}" for k, v in sorted(found.items()))
    repository = payload["repository"]
    service = service_for_repository(names=[repository.get("full_name", ""), repository.get("html_url", "")],
                                     default=delivery.integration.default_service)
    if service is None:
        return WebhookDelivery.Status.IGNORED, f"no service for repository {repository.get('full_name')}"
    pr = payload["pull_request"]
    reference = change_reference(pr.get("title"), (pr.get("head") or {}).get("ref"), pr.get("body"))
    change = change_by_ref(reference) if reference else None
    note = ""
    if reference and change is None:
        note = f"; {reference} does not exist"
    elif change is not None and change.service_id != service.pk:
        note = f"; {reference} is for {change.service.slug}, not {service.slug}: not linked"
        change = None
    result = services.pull_request_record(
        provider=delivery.provider, external_id=f"{delivery.provider}:{pr['id']}", service=service, change=change,
        change_ref=reference, action=str(payload.get("action")), delivery_id=delivery.delivery_id, actor=actor,
        **fields_from(payload))
    if result.stale:
        return WebhookDelivery.Status.IGNORED, f"{result.pull_request} already holds a newer state"
    linked = f", linked to {change.number}" if change is not None else ""
    return WebhookDelivery.Status.PROCESSED, f"{result.pull_request} {result.pull_request.state}{linked}{note}"
