"""First-hour log review (issue #14): which log fingerprints are new since the deployment, and a
person's sign-off of them.

A pipeline (or a log tool) posts the deployment's first-hour summary: `[{"fingerprint", "message",
"count", "first_seen"}]`. A fingerprint is *new* when no review of the same service (any
environment, any earlier deployment) holds it with a `first_seen` before this deployment started,
and the summary itself does not say it was first seen before the deployment started (Sentry's
"new issues in this release"). Posting again for the same deployment merges: a fingerprint's count
becomes the larger of the two (summaries are cumulative), its first_seen the earlier.

Sign-off is required for a production deployment of a high-risk change (risk level `high` or
`critical` on the change request): the change does not complete, nor does a completed change
close, until the review of its latest production deployment is signed off (the close guard
`validation.log_review_signoff`, apps/changes/close_guards.py). A production deployment of such
a change without any review posted refuses the same way: there is nothing to sign off yet.

Who signs off (segregation of duties, decided here): a person (not a service account) who is a
member of the service's owning team or a release manager, and who neither recorded the deployment
nor implements its change: the people who shipped it do not certify their own first hour.
If a post after the sign-off brings a new fingerprint the signer did not see, the review reopens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from apps.changes.models import ChangeState
from apps.delivery.models import Deployment
from releaseportal.errors import Conflict, InvalidInput, NotAllowed
from releaseportal.input import datetime_problem

from .models import LogFingerprint, LogReview

MAX_ENTRIES = 2000
MAX_FINGERPRINT = 128
MAX_MESSAGE = 2000
MAX_COUNT = 2**31 - 1
HIGH_RISK = ("high", "critical")
GUARD_NAME = "validation.log_review_signoff"


@dataclass(frozen=True)
class Entry:
    fingerprint: str
    message: str
    count: int
    first_seen: datetime


def clean_entries(raw: Any) -> list[Entry]:
    """The posted summary, checked: 400 naming the entry and field that is wrong. Duplicate
    fingerprints in one post add up (counts summed, earliest first_seen, first message)."""
    if not isinstance(raw, list):
        raise InvalidInput("The log review is a list of {fingerprint, message, count, first_seen}.",
                           fields={"entries": ["Expected a list."]})
    if len(raw) > MAX_ENTRIES:
        raise InvalidInput(f"At most {MAX_ENTRIES} fingerprints per post.", code="too_many_fingerprints",
                           fields={"entries": [f"{len(raw)} given, at most {MAX_ENTRIES}."]})
    errors: dict[str, list[str]] = {}
    merged: dict[str, Entry] = {}
    for index, item in enumerate(raw):
        where = f"[{index}]"
        if not isinstance(item, dict):
            errors[where] = ["Expected an object."]
            continue
        fingerprint = item.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint.strip() or len(fingerprint) > MAX_FINGERPRINT:
            errors[f"{where}.fingerprint"] = [f"A non-empty string of at most {MAX_FINGERPRINT} characters."]
            continue
        message = item.get("message", "")
        if not isinstance(message, str):
            errors[f"{where}.message"] = ["A string."]
            continue
        count = item.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
            errors[f"{where}.count"] = ["A whole number, 0 or more."]
            continue
        first_seen = _parse_time(item.get("first_seen"))
        if first_seen is None:
            errors[f"{where}.first_seen"] = ["An ISO 8601 date and time with its offset."]
            continue
        fingerprint = fingerprint.strip()
        earlier = merged.get(fingerprint)
        if earlier is not None:
            merged[fingerprint] = Entry(fingerprint, earlier.message, min(earlier.count + count, MAX_COUNT),
                                        min(earlier.first_seen, first_seen))
        else:
            merged[fingerprint] = Entry(fingerprint, message[:MAX_MESSAGE], count, first_seen)
    if errors:
        raise InvalidInput("Some log fingerprints are malformed: " + ", ".join(sorted(errors)[:10]) + ".",
                           fields=errors)
    return list(merged.values())


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None or timezone.is_naive(parsed) or datetime_problem(parsed):
        # An offset beyond ±15:59 or a year the database cannot hold is as malformed as no date.
        return None
    return parsed


def sign_off_required(deployment: Deployment) -> bool:
    change = deployment.change
    return bool(deployment.environment.is_production and change is not None and change.risk_level in HIGH_RISK)


def _known(*, service_id: int, fingerprints: list[str], before: datetime, review_id: int) -> set[str]:
    """Fingerprints of the service seen before `before` in other reviews (one query)."""
    if not fingerprints:
        return set()
    return set(LogFingerprint.objects.filter(service_id=service_id, fingerprint__in=fingerprints,
                                             first_seen__lt=before)
               .exclude(review_id=review_id).values_list("fingerprint", flat=True).distinct())


def _locked_review(deployment: Deployment, actor_user) -> tuple[LogReview, bool]:
    review = LogReview.objects.select_for_update().filter(deployment=deployment).first()
    if review is not None:
        return review, False
    try:
        with transaction.atomic():
            review = LogReview.objects.create(deployment=deployment, created_by=actor_user,
                                              sign_off_required=sign_off_required(deployment))
        return review, True
    except IntegrityError:  # a simultaneous first post won: take its row
        return LogReview.objects.select_for_update().get(deployment=deployment), False


def log_review_record(*, deployment: Deployment, entries: list[Entry], actor: Any) -> tuple[LogReview, bool]:
    """Record (or merge into) the deployment's first-hour review. Returns (review, created)."""
    now = timezone.now()
    with atomic_as(actor) as resolved:
        review, created = _locked_review(deployment, resolved.user)
        existing = {fp.fingerprint: fp for fp in review.fingerprints.all()}
        known = _known(service_id=deployment.service_id, fingerprints=[e.fingerprint for e in entries],
                       before=deployment.started_at, review_id=review.pk)
        to_create, to_update, newly_new = [], [], []
        for entry in entries:
            is_new = entry.fingerprint not in known and entry.first_seen >= deployment.started_at
            row = existing.get(entry.fingerprint)
            if row is None:
                to_create.append(LogFingerprint(review=review, service_id=deployment.service_id,
                                                fingerprint=entry.fingerprint, message=entry.message,
                                                count=entry.count, first_seen=entry.first_seen, is_new=is_new))
                if is_new:
                    newly_new.append(entry.fingerprint)
                continue
            row.count = max(row.count, entry.count)
            row.first_seen = min(row.first_seen, entry.first_seen)
            row.is_new = row.is_new and is_new
            row.message = row.message or entry.message
            to_update.append(row)
        LogFingerprint.objects.bulk_create(to_create)
        if to_update:
            LogFingerprint.objects.bulk_update(to_update, ["count", "first_seen", "is_new", "message"])
        rows = list(existing.values()) + to_create
        reopened = bool(newly_new) and review.status == LogReview.Status.SIGNED_OFF
        review.total_fingerprints = len(rows)
        review.new_fingerprints = sum(1 for row in rows if row.is_new)
        review.sign_off_required = sign_off_required(deployment)
        review.updated_at = now
        if reopened:
            review.status = LogReview.Status.OPEN
            review.signed_off_by, review.signed_off_at = None, None
        history_stamp(review, resolved)
        review._change_reason = "reopened: new fingerprints after sign-off" if reopened else "log summary posted"
        review.save()
        audit_event_record(action="validation.log_review_recorded", target=review, actor=resolved, details={
            "deployment": deployment.pk, "posted": len(entries), "added": len(to_create),
            "new": newly_new[:50], "new_total": review.new_fingerprints, "reopened": reopened,
            "sign_off_required": review.sign_off_required,
        })
    return review, created


def new_fingerprints(review: LogReview) -> list[LogFingerprint]:
    return list(review.fingerprints.filter(is_new=True).order_by("-count", "fingerprint"))


# --- sign-off ---------------------------------------------------------------------------------

def sign_off_refusal(*, user, deployment: Deployment) -> str | None:
    """Why `user` may not sign this deployment's log review off, or None."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return "Sign in to sign the review off."
    if user.is_service_account:
        return "A person signs the log review off, not a pipeline."
    if user.pk == deployment.created_by_id:
        return "You recorded this deployment: someone else signs its log review off."
    if deployment.change_id and user.pk == deployment.change.implementer_id:
        return "You implement this change: someone else signs its log review off."
    if user.is_superuser or user.has_role("release_manager"):
        return None
    team_id = deployment.service.owner_team_id
    if team_id is not None and user.memberships.filter(team_id=team_id).exists():
        return None
    return "Only a member of the owning team or a release manager signs the log review off."


def log_review_sign_off(*, deployment: Deployment, actor: Any, note: str = "") -> LogReview:
    with atomic_as(actor) as resolved:
        refusal = sign_off_refusal(user=resolved.user, deployment=deployment)
        if refusal is not None:
            raise NotAllowed(refusal, code="sign_off_not_allowed", fields={"sign_off": [refusal]})
        review = LogReview.objects.select_for_update().filter(deployment=deployment).first()
        if review is None:
            raise Conflict("No first-hour log summary has been posted for this deployment yet.",
                           code="log_review_missing", fields={"log_review": ["Nothing to sign off yet."]})
        if review.status == LogReview.Status.SIGNED_OFF:
            raise Conflict("This log review is already signed off.", code="already_signed_off",
                           fields={"sign_off": ["Already signed off."]})
        review.status = LogReview.Status.SIGNED_OFF
        review.signed_off_by = resolved.user
        review.signed_off_at = timezone.now()
        review.sign_off_note = (note or "").strip()[:2000]
        history_stamp(review, resolved)
        review._change_reason = "signed off"
        review.save()
        audit_event_record(action="validation.log_review_signed_off", target=review, actor=resolved, details={
            "deployment": deployment.pk, "change": deployment.change.number if deployment.change_id else "",
            "new_fingerprints": review.new_fingerprints, "note": review.sign_off_note[:300],
        })
    return review


# --- the close guard ----------------------------------------------------------------------------

def close_guard(change, to_state: str):
    """A high-risk production change completes (and a completed one closes) only when the log review
    of its latest production deployment is signed off. No query for any other change."""
    if change.risk_level not in HIGH_RISK or not change.environment.is_production:
        return None
    if to_state not in (ChangeState.COMPLETED, ChangeState.CLOSED):
        return None
    latest = (Deployment.objects.filter(change_id=change.pk, environment__is_production=True)
              .exclude(kind=Deployment.Kind.ROLLBACK).order_by("-started_at", "-pk")
              .values_list("pk", "log_review__status").first())
    if latest is None:
        return None  # nothing was deployed to production under this change: nothing to review
    deployment_id, status = latest
    if status == LogReview.Status.SIGNED_OFF:
        return None
    if status is None:
        message = (f"{change.number} is a {change.risk_level}-risk production change: the first-hour log review of "
                   f"deployment #{deployment_id} must be posted and signed off before it can become {to_state}.")
    else:
        message = (f"{change.number} is a {change.risk_level}-risk production change: the first-hour log review of "
                   f"deployment #{deployment_id} must be signed off before it can become {to_state}.")
    return ("log_review_sign_off_required", message, {"log_review": [message]})
